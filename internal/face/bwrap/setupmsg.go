package bwrap

import (
	"github.com/nook-project/nook/sandbox"
	"golang.org/x/sys/unix"
)

// setupMessage words a filesystem operation that failed while the sandbox
// was set up as bwrap 0.11/0.12 does (its setup_newroot and privileged
// operations), from the failure's fields: callers and people match on
// bwrap's text. The errno goes last, capitalised as the C library's.
func setupMessage(f *sandbox.SetupFailure) error {
	errno := func(format string, a ...any) error {
		return bwrapErrorf(format+": %s", append(a, capitalizeErrno(f.Errno.Error(), f.Errno))...)
	}
	dest := f.Dest
	switch f.Phase {
	case sandbox.PhaseParents:
		return errno("Can't mkdir parents for %s", dest)
	case sandbox.PhaseCreate:
		if f.Op == sandbox.OpSymlink {
			return errno("Can't make symlink at %s", dest)
		}
		// bwrap 0.12 words every destination it cannot make so, a
		// directory too, and a --remount-ro destination it cannot find.
		return errno("Can't create file %s", dest)
	case sandbox.PhaseExisting:
		switch {
		case f.Op == sandbox.OpSymlink && f.NotSymlink:
			return bwrapErrorf("Can't make symlink at %s: destination exists and is not a symlink", dest)
		case f.Op == sandbox.OpSymlink && f.ReadlinkErrno != 0:
			return bwrapErrorf("Can't make symlink at %s: destination exists, and cannot read symlink target: %s", dest, capitalizeErrno(f.ReadlinkErrno.Error(), f.ReadlinkErrno))
		case f.Op == sandbox.OpSymlink:
			return bwrapErrorf("Can't make symlink at %s: existing destination is %s", dest, f.Existing)
		case f.Errno == unix.ENOTDIR:
			return bwrapErrorf("Destination is not a directory %s", dest)
		case (f.Op == sandbox.OpFile || f.Op == sandbox.OpWrite) && !f.AsBind:
			// --file creates its destination as a plain file: a
			// directory there fails the creation.
			return errno("Can't create file %s", dest)
		}
		return bwrapErrorf("Destination is not a file %s", dest)
	case sandbox.PhaseOpen:
		return errno("Can't open %s", dest)
	case sandbox.PhaseChmod:
		return errno("Can't chmod %#o %s", f.Mode, dest)
	case sandbox.PhaseMount:
		switch f.Op {
		case sandbox.OpRemountRO:
			if f.Errno == unix.EINVAL {
				// bwrap looks the destination up in the mount table
				// and finds no mount there.
				return bwrapErrorf("Can't remount readonly on %s: Unable to find \"/newroot%s\" in mount table", dest, sandbox.Clean(dest))
			}
			return errno("Can't remount readonly on %s", dest)
		case sandbox.OpTmpfs, sandbox.OpDev:
			return errno("Can't mount tmpfs on %s", dest)
		case sandbox.OpProc:
			return errno("Can't mount proc on %s", dest)
		case sandbox.OpMqueue:
			return errno("Can't mount mqueue on %s", dest)
		case sandbox.OpBind, sandbox.OpDevBind:
			return errno("Can't bind mount /oldroot%s on /newroot%s", sandbox.Clean(f.Source), sandbox.Clean(dest))
		}
	}
	return nil
}
