package sandbox

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// SetupPhase is the part of a filesystem operation that failed.
type SetupPhase int

const (
	// PhaseParents: creating (or resolving) the directories above Dest.
	PhaseParents SetupPhase = iota + 1
	// PhaseCreate: creating Dest itself (directory, empty file, the file
	// of --file) or, for operations that create nothing, finding it.
	PhaseCreate
	// PhaseExisting: something of the wrong kind is already at Dest
	// (Errno ENOTDIR: a directory was needed; EISDIR: a file was; EEXIST:
	// not the symlink asked for, see Existing).
	PhaseExisting
	// PhaseMount: the mount (or remount) itself.
	PhaseMount
	// PhaseOpen: opening Dest to change it (chmod).
	PhaseOpen
)

func (p SetupPhase) String() string {
	switch p {
	case PhaseParents:
		return "create the parent directories of"
	case PhaseCreate:
		return "create"
	case PhaseExisting:
		return "find the right kind of file at"
	case PhaseMount:
		return "mount on"
	case PhaseOpen:
		return "open"
	}
	return fmt.Sprintf("phase %d of", int(p))
}

// SetupFailure is a filesystem operation of the spec that failed while the
// sandbox was set up, as both engines report it (StartError.Setup): faces
// word it their own way from these fields (bwrap's face as bwrap does).
type SetupFailure struct {
	Op     Op     `json:"op"`
	AsBind bool   `json:"as_bind,omitempty"` // OpWrite/OpFile bound over Dest (bwrap's --bind-data)
	Dest   string `json:"dest"`
	Source string `json:"source,omitempty"`
	// Phase is the part that failed, Errno why.
	Phase SetupPhase `json:"phase"`
	Errno unix.Errno `json:"errno"`
	// NotSymlink, for OpSymlink in PhaseExisting: what is at Dest is no
	// symlink; otherwise Existing is the target of the symlink there.
	NotSymlink bool   `json:"not_symlink,omitempty"`
	Existing   string `json:"existing,omitempty"`
}

func (f *SetupFailure) Error() string {
	if f.Phase == PhaseExisting && f.Op == OpSymlink {
		if f.NotSymlink {
			return fmt.Sprintf("create symlink %s: something else is there already", f.Dest)
		}
		return fmt.Sprintf("create symlink %s: a symlink to %s is there already", f.Dest, f.Existing)
	}
	return fmt.Sprintf("%s %s: %s %s: %v", f.Op, f.Dest, f.Phase, f.Dest, f.Errno)
}

func (f *SetupFailure) Unwrap() error { return f.Errno }

// phaseError marks an error of the Go init's tree with the phase it
// happened in; applyFailure turns it into a SetupFailure.
type phaseError struct {
	phase SetupPhase
	// path is where it failed (ensureDir: the component it made).
	path       string
	notSymlink bool
	existing   string
	err        error
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
		Errno: en, NotSymlink: pe.notSymlink, Existing: pe.existing}
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

// normal makes both engines' reports of one failure alike: a component
// that is no directory is a parent's failure, whatever made the call that
// found it; an "existing" failure that found alike kinds is the mount's;
// a symlink in the way is EEXIST.
func (f *SetupFailure) normal() *SetupFailure {
	switch {
	case f.Op == OpSymlink && f.Phase == PhaseExisting:
		f.Errno = unix.EEXIST // whatever the look at what is there said
	case f.Phase == PhaseCreate && f.Errno == unix.ENOTDIR:
		f.Phase = PhaseParents
	case f.Phase == PhaseExisting && f.Op != OpSymlink && f.Errno != unix.ENOTDIR && f.Errno != unix.EISDIR:
		f.Phase = PhaseMount
	}
	return f
}
