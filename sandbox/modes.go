package sandbox

import "path"

// File modes of what the tree creates. nook's own rule: directories named
// tmp are 1777 (as /tmp and /var/tmp are everywhere), everything else
// 0755. bwrap's rule (Spec.BwrapModes), as bubblewrap behaves when measured:
// every new directory and tmpfs root 0755 whatever its name; parents made
// on the way to a bind, a symlink or a bound data file 0700; and when the
// operation carries a mode that gives group or others nothing, the parents
// made for it give them nothing either.

// dirMode is the mode of a directory or tmpfs root made as the target of
// an operation that was given no mode.
func (t *tree) dirMode(p string) uint32 {
	if t.bwrapModes {
		return 0o755
	}
	return defaultDirMode(p)
}

// parentDirMode is the mode of a missing parent directory made on the way
// to the current operation's destination.
func (t *tree) parentDirMode(p string) uint32 {
	if t.bwrapModes && t.parentMode != 0 {
		return t.parentMode
	}
	return defaultDirMode(p)
}

// shmMode is the mode of /dev/shm in a new /dev.
func (t *tree) shmMode() uint32 {
	if t.bwrapModes {
		return 0o755
	}
	return 0o1777
}

// bwrapParentMode is the parent mode for m under bwrap's rule, or 0 (use
// nook's) when the tree does not follow it.
func (t *tree) bwrapParentMode(m Mount) uint32 {
	if !t.bwrapModes {
		return 0
	}
	return bwrapParentMode(m)
}

// bwrapParentMode is the mode of the parents bwrap makes for m.
func bwrapParentMode(m Mount) uint32 {
	mode := uint32(0o755)
	switch {
	case m.Op == OpBind, m.Op == OpDevBind, m.Op == OpSymlink, m.AsBind:
		mode = 0o700
	}
	if m.Mode != nil {
		if *m.Mode&0o070 == 0 {
			mode &^= 0o070
		}
		if *m.Mode&0o007 == 0 {
			mode &^= 0o007
		}
	}
	return mode
}

// defaultDirMode is 1777 for directories named tmp (as /tmp and /var/tmp
// are everywhere), 0755 for the rest.
func defaultDirMode(p string) uint32 {
	if path.Base(p) == "tmp" {
		return 0o1777
	}
	return 0o755
}
