package sandbox

import (
	"encoding/json"
	"fmt"

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
	// PhaseChmod: the chmod itself (SetupFailure.Mode is the mode).
	PhaseChmod
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
	case PhaseChmod:
		return "change the mode of"
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
	// Mode, for OpChmod, is the mode asked for.
	Mode uint32 `json:"mode,omitempty"`
	// Phase is the part that failed, Errno why.
	Phase SetupPhase `json:"phase"`
	Errno unix.Errno `json:"errno"`
	// NotSymlink, for OpSymlink in PhaseExisting: what is at Dest is no
	// symlink; ReadlinkErrno: reading it failed so (neither is set:
	// Existing is the target of the symlink there).
	NotSymlink    bool       `json:"not_symlink,omitempty"`
	ReadlinkErrno unix.Errno `json:"readlink_errno,omitempty"`
	Existing      string     `json:"existing,omitempty"`
}

func (f *SetupFailure) Error() string {
	if f.Phase == PhaseExisting && f.Op == OpSymlink {
		if f.NotSymlink {
			return fmt.Sprintf("create symlink %s: something else is there already", f.Dest)
		}
		if f.ReadlinkErrno != 0 {
			return fmt.Sprintf("create symlink %s: something is there already, and reading it as a symlink failed: %v", f.Dest, f.ReadlinkErrno)
		}
		return fmt.Sprintf("create symlink %s: a symlink to %s is there already", f.Dest, f.Existing)
	}
	return fmt.Sprintf("%s %s: %s %s: %v", f.Op, f.Dest, f.Phase, f.Dest, f.Errno)
}

func (f *SetupFailure) Unwrap() error { return f.Errno }

// setupFailureFields is SetupFailure without its JSON methods.
type setupFailureFields SetupFailure

// setupFailureJSON carries Existing as bytes (base64 in JSON): a symlink's
// target need not be UTF-8, and a JSON string would turn what is not into
// U+FFFD on its way from the Go init.
type setupFailureJSON struct {
	*setupFailureFields
	Existing []byte `json:"existing,omitempty"`
}

func (f *SetupFailure) MarshalJSON() ([]byte, error) {
	return json.Marshal(setupFailureJSON{(*setupFailureFields)(f), []byte(f.Existing)})
}

func (f *SetupFailure) UnmarshalJSON(b []byte) error {
	w := setupFailureJSON{setupFailureFields: (*setupFailureFields)(f)}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	f.Existing = string(w.Existing)
	return nil
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
