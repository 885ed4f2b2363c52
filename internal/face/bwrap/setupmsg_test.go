package bwrap

import (
	"testing"

	"github.com/nook-project/nook/sandbox"
	"golang.org/x/sys/unix"
)

// TestSetupMessage checks the wording of each kind of set-up failure
// against bwrap 0.12's (cmd/nook's TestBwrapSetupMessages compares whole
// runs with the real bwrap).
func TestSetupMessage(t *testing.T) {
	for _, c := range []struct {
		f    sandbox.SetupFailure
		want string
	}{
		{sandbox.SetupFailure{Op: sandbox.OpBind, Source: "/s", Dest: "/a/b", Phase: sandbox.PhaseParents, Errno: unix.EROFS},
			"Can't mkdir parents for /a/b: Read-only file system"},
		{sandbox.SetupFailure{Op: sandbox.OpTmpfs, Dest: "/x", Phase: sandbox.PhaseCreate, Errno: unix.EROFS},
			"Can't create file /x: Read-only file system"},
		{sandbox.SetupFailure{Op: sandbox.OpSymlink, Source: "t", Dest: "/l", Phase: sandbox.PhaseCreate, Errno: unix.EACCES},
			"Can't make symlink at /l: Permission denied"},
		{sandbox.SetupFailure{Op: sandbox.OpSymlink, Source: "t", Dest: "/l", Phase: sandbox.PhaseExisting, NotSymlink: true},
			"Can't make symlink at /l: destination exists and is not a symlink"},
		{sandbox.SetupFailure{Op: sandbox.OpSymlink, Source: "t", Dest: "/l", Phase: sandbox.PhaseExisting, Existing: "other"},
			"Can't make symlink at /l: existing destination is other"},
		{sandbox.SetupFailure{Op: sandbox.OpSymlink, Source: "t", Dest: "/l", Phase: sandbox.PhaseExisting, Errno: unix.EEXIST, ReadlinkErrno: unix.EACCES},
			"Can't make symlink at /l: destination exists, and cannot read symlink target: Permission denied"},
		{sandbox.SetupFailure{Op: sandbox.OpProc, Dest: "/f", Phase: sandbox.PhaseExisting, Errno: unix.ENOTDIR},
			"Destination is not a directory /f"},
		{sandbox.SetupFailure{Op: sandbox.OpBind, Source: "/s", Dest: "/d", Phase: sandbox.PhaseExisting, Errno: unix.EISDIR},
			"Destination is not a file /d"},
		{sandbox.SetupFailure{Op: sandbox.OpFile, AsBind: true, Dest: "/d", Phase: sandbox.PhaseExisting, Errno: unix.EISDIR},
			"Destination is not a file /d"},
		{sandbox.SetupFailure{Op: sandbox.OpFile, Dest: "/d", Phase: sandbox.PhaseExisting, Errno: unix.EISDIR},
			"Can't create file /d: Is a directory"},
		{sandbox.SetupFailure{Op: sandbox.OpChmod, Dest: "/m", Phase: sandbox.PhaseOpen, Errno: unix.ENOENT},
			"Can't open /m: No such file or directory"},
		{sandbox.SetupFailure{Op: sandbox.OpChmod, Dest: "/m", Mode: 0o700, Phase: sandbox.PhaseChmod, Errno: unix.EROFS},
			"Can't chmod 0700 /m: Read-only file system"},
		{sandbox.SetupFailure{Op: sandbox.OpChmod, Dest: "/m", Mode: 0, Phase: sandbox.PhaseChmod, Errno: unix.EPERM},
			"Can't chmod 0 /m: Operation not permitted"},
		{sandbox.SetupFailure{Op: sandbox.OpRemountRO, Dest: "/etc", Phase: sandbox.PhaseMount, Errno: unix.EINVAL},
			`Can't remount readonly on /etc: Unable to find "/newroot/etc" in mount table`},
		{sandbox.SetupFailure{Op: sandbox.OpRemountRO, Dest: "/etc", Phase: sandbox.PhaseMount, Errno: unix.EPERM},
			"Can't remount readonly on /etc: Operation not permitted"},
		{sandbox.SetupFailure{Op: sandbox.OpMqueue, Dest: "/q", Phase: sandbox.PhaseMount, Errno: unix.EPERM},
			"Can't mount mqueue on /q: Operation not permitted"},
		{sandbox.SetupFailure{Op: sandbox.OpDev, Dest: "/dev", Phase: sandbox.PhaseMount, Errno: unix.ENOSPC},
			"Can't mount tmpfs on /dev: No space left on device"},
		{sandbox.SetupFailure{Op: sandbox.OpProc, Dest: "/proc", Phase: sandbox.PhaseMount, Errno: unix.EPERM},
			"Can't mount proc on /proc: Operation not permitted"},
		{sandbox.SetupFailure{Op: sandbox.OpBind, Source: "/s", Dest: "/d", Phase: sandbox.PhaseMount, Errno: unix.EPERM},
			"Can't bind mount /oldroot/s on /newroot/d: Operation not permitted"},
	} {
		err := setupMessage(&c.f)
		if err == nil || err.Error() != c.want {
			t.Errorf("%+v:\n got %v\nwant %s", c.f, err, c.want)
		}
	}
	// Operations bwrap has no wording for keep nook's message.
	if err := setupMessage(&sandbox.SetupFailure{Op: sandbox.OpOverlay, Dest: "/o", Phase: sandbox.PhaseMount, Errno: unix.EINVAL}); err != nil {
		t.Errorf("overlay mount: got %v, want nook's own message (nil)", err)
	}
}

// TestStartMessageBySetupFailure: the face finds the failure through the
// StartError's Unwrap, and nook's own text stays in the StartError.
func TestStartMessageBySetupFailure(t *testing.T) {
	se := &sandbox.StartError{Code: sandbox.ExitSetupFailed, Msg: "tmpfs /etc/passwd: move_mount /etc/passwd: invalid argument",
		Setup: &sandbox.SetupFailure{Op: sandbox.OpTmpfs, Dest: "/etc/passwd", Phase: sandbox.PhaseExisting, Errno: unix.ENOTDIR}}
	if got, want := startMessage(se, "true").Error(), "Destination is not a directory /etc/passwd"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if se.Error() != se.Msg {
		t.Errorf("StartError's own text changed: %q", se.Error())
	}
	plain := &sandbox.StartError{Code: sandbox.ExitSetupFailed, Msg: "something else"}
	if got := startMessage(plain, "true").Error(); got != "something else" {
		t.Errorf("without a SetupFailure: got %q", got)
	}
}
