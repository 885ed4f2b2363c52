package sandbox

import (
	"errors"
	"os"
	"path"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// maxFollow is how many symlinks following a destination takes before it
// gives up with ELOOP, as the kernel's path walk does.
const maxFollow = 40

// follow is Mount.FollowDest: dest with every symlink in it resolved, the
// last component's too, inside the new root as built so far, the way
// realpath would there without asking that the path exist (mkosi-sandbox's
// chase(newroot, dst)): a dangling link leads to where its target would be,
// and what follows a missing component is taken as written.
//
// It is done here, while the root is built, because what a destination
// leads to is often not known before: links in a tree bound from the host
// or from the new root itself, in an overlay's layers, in a new /dev.
// Every step stays inside the new root: an absolute target starts again at
// the new root and ".." stops there, as openat2's RESOLVE_IN_ROOT walks;
// the operation then resolves the result inside the root again, so a link
// changed meanwhile cannot lead out either.
func (t *tree) follow(dest string) (string, error) {
	rest := strings.Split(strings.TrimPrefix(Clean(dest), "/"), "/")
	cur := "/"
	links := 0
	for len(rest) > 0 {
		name := rest[0]
		rest = rest[1:]
		switch name {
		case "", ".":
			continue
		case "..":
			cur = path.Dir(cur)
			continue
		}
		target, isLink, err := t.linkIn(cur, name)
		if err != nil {
			return "", inPhase(PhaseParents, err)
		}
		if !isLink {
			cur = path.Join(cur, name)
			continue
		}
		if links++; links > maxFollow {
			return "", &phaseError{phase: PhaseParents, err: &os.PathError{Op: "follow the symlinks of", Path: dest, Err: unix.ELOOP}}
		}
		if path.IsAbs(target) {
			cur = "/"
		}
		rest = append(strings.Split(target, "/"), rest...)
	}
	return cur, nil
}

// linkIn reads the symlink name in directory dir (resolved, inside the new
// root): its target and true, or false where name is something else or
// nothing, or dir is missing or no directory.
func (t *tree) linkIn(dir, name string) (string, bool, error) {
	d, err := pathrs.OpenatInRoot(t.root, dir)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		return "", false, nil
	}
	if err != nil {
		return "", false, &os.PathError{Op: "resolve inside the new root", Path: dir, Err: err}
	}
	defer d.Close()
	target, err := readlinkat(int(d.Fd()), name)
	switch {
	case err == nil:
		return target, true, nil
	case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENOTDIR):
		return "", false, nil
	}
	return "", false, &os.PathError{Op: "readlink", Path: path.Join(dir, name), Err: err}
}
