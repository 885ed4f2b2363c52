package mkosi

import (
	"os"
	"path"
	"strings"
)

// maxLinks is how many symlinks a chase follows, as the kernel's
// path walk (ELOOP after 40).
const maxLinks = 40

// chaseDst is where sandbox.py's chase(newroot, dst) leads for an
// operation run after prior (in execution order): --dir, --write and
// --tmpfs act on a destination's target, made if missing, where the
// engine refuses a symlink there (image trees hold dangling ones, such as
// /var/run -> ../run before /run exists). It reports false where dst's
// last component is no symlink, or where what the new root holds there
// cannot be told before it is built (a +SRC bind, an overlay, /dev's or
// /proc's own links): the engine then resolves dst as it does.
func chaseDst(prior []fsop, dst string) (string, bool) {
	dir, ok := chasePath(prior, path.Dir(dst), 0)
	if !ok {
		return "", false
	}
	last := path.Join(dir, path.Base(dst))
	link, known := linkAt(prior, last)
	if !known || link == "" {
		return "", false
	}
	target := link
	if !path.IsAbs(link) {
		target = path.Join(dir, link)
	}
	r, ok := chasePath(prior, target, 1)
	if !ok || r == dst {
		return "", false
	}
	return r, true
}

// chasePath resolves every symlink in p (absolute, clean) as the new
// root will hold them, a missing component ending nothing: what
// os.path.realpath does in the new root. n is the links followed so far.
func chasePath(prior []fsop, p string, n int) (string, bool) {
	rest := strings.Split(strings.TrimPrefix(path.Clean(p), "/"), "/")
	cur := "/"
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
		cand := path.Join(cur, name)
		link, known := linkAt(prior, cand)
		if !known {
			return "", false
		}
		if link == "" {
			cur = cand
			continue
		}
		if n++; n > maxLinks {
			return "", false
		}
		if path.IsAbs(link) {
			cur = "/"
		}
		rest = append(strings.Split(strings.Trim(link, "/"), "/"), rest...)
	}
	return cur, true
}

// linkAt is the target of the symlink the new root holds at p (clean,
// no symlink above it) once prior have run, "" for anything else or
// nothing, and whether that can be told now: the last operation at or
// above p decides.
func linkAt(prior []fsop, p string) (string, bool) {
	for i := len(prior) - 1; i >= 0; i-- {
		op := prior[i]
		if !under(p, op.dst) {
			continue
		}
		switch op.kind {
		case opSymlink:
			if op.dst == p {
				return op.src, true
			}
			return "", false
		case opBind:
			if op.relative {
				return "", false
			}
			host := op.src
			if p != op.dst {
				host = path.Join(op.src, strings.TrimPrefix(p, op.dst+"/"))
			} else if op.nofollow {
				// The link itself is bound: what p shows is the link.
				host = op.src
			}
			st, err := os.Lstat(host)
			if err != nil || st.Mode()&os.ModeSymlink == 0 {
				return "", err == nil || os.IsNotExist(err)
			}
			if p == op.dst && !op.nofollow {
				// A bind of a link binds its target.
				return "", true
			}
			t, err := os.Readlink(host)
			return t, err == nil
		case opTmpfs, opDir, opWrite:
			// Empty, or a directory or file: no link.
			return "", true
		default: // dev, proc, overlay: contents not known here
			return "", false
		}
	}
	// The new root itself is an empty tmpfs.
	return "", true
}
