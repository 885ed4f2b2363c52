package sandbox

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// How the Go init's tree (tree.go, ops.go) marks its failures with the
// part of an operation that failed, for the SetupFailure it reports; the
// raw engine keeps the same per instruction (rawsetupfailure.go).

// phaseError marks an error of the Go init's tree with the phase it
// happened in; setupFailureOf turns it into a SetupFailure.
type phaseError struct {
	phase SetupPhase
	// path is where it failed (ensureDir: the component it made).
	path        string
	notSymlink  bool
	readlinkErr unix.Errno
	existing    string
	err         error
}

func (e *phaseError) Error() string { return e.err.Error() }
func (e *phaseError) Unwrap() error { return e.err }

func inPhase(p SetupPhase, err error) error {
	if err == nil {
		return nil
	}
	var pe *phaseError
	if errors.As(err, &pe) {
		return err // the innermost phase is the one that failed
	}
	return &phaseError{phase: p, err: err}
}

// parentsOf marks a failure of ensureDir(dest) as one of dest's parents
// when it happened above dest.
func parentsOf(dest string, err error) error {
	var pe *phaseError
	if errors.As(err, &pe) && pe.path != "" && pe.path != Clean(dest) {
		pe.phase = PhaseParents
	}
	return err
}

// setupFailureOf is the SetupFailure of m failing with err, when err
// carries a phase and an errno.
func setupFailureOf(m Mount, err error) *SetupFailure {
	var pe *phaseError
	var en unix.Errno
	if !errors.As(err, &pe) {
		return nil
	}
	if !errors.As(err, &en) && !(pe.phase == PhaseExisting && m.Op == OpSymlink) {
		return nil
	}
	f := &SetupFailure{Op: m.Op, AsBind: m.AsBind, Dest: m.Dest, Source: m.Source, Phase: pe.phase,
		Errno: en, NotSymlink: pe.notSymlink, ReadlinkErrno: pe.readlinkErr, Existing: pe.existing}
	if m.Op == OpChmod && m.Mode != nil {
		f.Mode = *m.Mode
	}
	return f.normal()
}

// applyError is a failed operation of the Go init: its message as before,
// and the failure by its fields for the status message.
type applyError struct {
	msg   string
	setup *SetupFailure
	err   error
}

func (e *applyError) Error() string { return e.msg }
func (e *applyError) Unwrap() error { return e.err }

// inPhaseAll puts err in phase p whatever phase it had (a failure of
// ensureDir(path.Dir(dest)) is one of dest's parents).
func inPhaseAll(p SetupPhase, err error) error {
	var pe *phaseError
	if errors.As(err, &pe) {
		pe.phase = p
		return err
	}
	return &phaseError{phase: p, err: err}
}

// kindMismatch says why a mount could not go onto target when their kinds
// differ: ENOTDIR (a directory onto something else), EISDIR (something
// else onto a directory), or 0 when they are alike.
func kindMismatch(mount, target int) unix.Errno {
	var ms, ts unix.Stat_t
	if unix.Fstat(mount, &ms) != nil || unix.Fstat(target, &ts) != nil {
		return 0
	}
	mdir, tdir := ms.Mode&unix.S_IFMT == unix.S_IFDIR, ts.Mode&unix.S_IFMT == unix.S_IFDIR
	switch {
	case mdir && !tdir:
		return unix.ENOTDIR
	case !mdir && tdir:
		return unix.EISDIR
	}
	return 0
}

// isMountRoot reports whether f is the root of a mount (what a
// non-recursive remount needs); where statx cannot tell, it says yes and
// leaves the verdict to the remount.
func isMountRoot(f *os.File) bool {
	var st unix.Statx_t
	if unix.Statx(int(f.Fd()), "", unix.AT_EMPTY_PATH, unix.STATX_TYPE, &st) != nil || st.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT == 0 {
		return true
	}
	return st.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0
}
