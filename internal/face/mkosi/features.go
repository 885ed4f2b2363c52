package mkosi

import (
	"errors"

	"github.com/nook-project/nook/sandbox"
)

// features says which of the engine fields mkosi-sandbox's defaults need
// the engine carries out. They were declared before both engines learnt
// them (sandbox.ErrNotImplemented); meanwhile the face runs without the
// behaviours every command line would otherwise ask for (shared
// propagation, a bind onto a symlink destination, a symlink over a file,
// /dev/fuse, index=off), so that command lines that do not depend on them
// run, and those that do show the difference. The nofollow binds, which a
// command line asks for by name, are always passed on.
type features struct {
	shared, destNoFollow, replace, indexOff, fuse bool
}

func engineFeatures() features {
	ok := func(s sandbox.Spec) bool {
		s.Args = []string{"true"}
		return !errors.Is(s.Validate(), sandbox.ErrNotImplemented)
	}
	one := func(m sandbox.Mount) bool { return ok(sandbox.Spec{Mounts: []sandbox.Mount{m}}) }
	return features{
		shared:       ok(sandbox.Spec{SharedPropagation: true}),
		destNoFollow: one(sandbox.Mount{Op: sandbox.OpBind, Source: "/", Dest: "/x", DestNoFollow: true}),
		replace:      one(sandbox.Mount{Op: sandbox.OpSymlink, Source: "x", Dest: "/x", Replace: true}),
		indexOff:     one(sandbox.Mount{Op: sandbox.OpOverlay, Lower: []string{"/"}, Dest: "/x", IndexOff: true}),
		fuse:         one(sandbox.Mount{Op: sandbox.OpDev, Dest: "/dev", Fuse: true}),
	}
}
