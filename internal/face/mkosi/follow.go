package mkosi

import (
	"os"
	"path"
	"strings"
)

// Which operations ask the engine to follow their destination's symlinks
// (sandbox.Mount.FollowDest, sandbox.py's chase(newroot, dst)). The engine
// resolves them as the root is built; the face only decides where that may
// be needed, because following is the Go init's work and the raw engine,
// ~2 ms faster a sandbox, takes only command lines that need none
// (measured: `mkosi-sandbox --ro-bind / / true`, 3.7 ms without, 5.9 ms
// with). The guess is cautious: where it cannot tell, it follows.

// followFlags is, for ops in execution order, whether each follows its
// destination.
func followFlags(ops []fsop) []bool {
	out := make([]bool, len(ops))
	unknown := false
	for i, op := range ops {
		if op.kind == opSymlink {
			// Made where it is told, but its parents are resolved: under
			// a link it lands elsewhere, and so does the link it makes.
			if !unknown && mayMeetLink(ops[:i], out[:i], path.Dir(op.dst)) {
				unknown = true
			}
			continue
		}
		out[i] = unknown || mayMeetLink(ops[:i], out[:i], op.dst)
		if out[i] && bringsTree(op) {
			// Where a followed bind, overlay, /dev or /proc lands is
			// known only once the root is built, and so are the links
			// it brings: every later operation follows.
			unknown = true
		}
	}
	return out
}

// bringsTree reports whether op puts entries of its own in the root
// (which may be symlinks), not just an empty directory, file or tmpfs.
func bringsTree(op fsop) bool {
	switch op.kind {
	case opTmpfs, opDir, opWrite, opSymlink:
		return false
	}
	return true
}

// mayMeetLink reports whether dst, or a directory above it, may be a
// symlink in the new root once prior (in execution order, followed says
// which followed their destination) have run.
func mayMeetLink(prior []fsop, followed []bool, dst string) bool {
	for p := dst; ; p = path.Dir(p) {
		if linkMaybeAt(prior, followed, p) {
			return true
		}
		if p == "/" {
			return false
		}
	}
}

// linkMaybeAt reports whether the new root may hold a symlink at p (clean,
// absolute) once prior have run: the last operation at or above p that
// decides what is there. A host bind is looked at on the host; a +SRC
// bind, an overlay, /dev and /proc hold what only the built root shows, so
// they may; an operation that followed a link left that link in place.
func linkMaybeAt(prior []fsop, followed []bool, p string) bool {
	for i := len(prior) - 1; i >= 0; i-- {
		op := prior[i]
		if !under(p, op.dst) {
			continue
		}
		if followed[i] {
			// It acted where a link led; what is at its own
			// destination may be that link still.
			return true
		}
		switch op.kind {
		case opSymlink:
			return op.dst == p
		case opTmpfs, opWrite:
			// A tmpfs (empty below) or a file: no link at or below it
			// unless a later operation made one, found first.
			return false
		case opDir:
			// A directory at p, but it makes nothing where one already
			// is: what lies below comes from before it.
			if p == op.dst {
				return false
			}
		case opBind:
			if op.relative {
				return true
			}
			if !op.required && !exists(op.src) {
				continue // skipped when it runs, if the source is still missing
			}
			if p == op.dst {
				// A bind of a link binds its target unless nofollow.
				return op.nofollow && isLink(op.src)
			}
			return isLink(path.Join(op.src, strings.TrimPrefix(p, strings.TrimSuffix(op.dst, "/")+"/")))
		default: // dev, proc, overlay
			return p != op.dst
		}
	}
	// The new root itself is an empty tmpfs.
	return false
}

// isLink reports whether the host path p may be a symlink: it is one, or
// it cannot be told (an error other than its absence).
func isLink(p string) bool {
	st, err := os.Lstat(p)
	if err != nil {
		return !os.IsNotExist(err)
	}
	return st.Mode()&os.ModeSymlink != 0
}

// exists reports whether the host path p (followed) may exist: a bind
// that need not find its source is skipped where it does not.
func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil || !os.IsNotExist(err)
}
