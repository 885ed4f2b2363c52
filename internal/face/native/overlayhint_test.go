package native

import (
	"testing"

	"github.com/nook-project/nook/sandbox"
	"golang.org/x/sys/unix"
)

// TestOverlayHint: the --copy advice follows a failed overlay mount by its
// type, whichever engine worded the message, and nothing else.
func TestOverlayHint(t *testing.T) {
	overlay := &sandbox.StartError{Code: sandbox.ExitSetupFailed, Msg: "overlay /: fsconfig: invalid argument",
		Setup: &sandbox.SetupFailure{Op: sandbox.OpOverlay, Dest: "/", Phase: sandbox.PhaseMount, Errno: unix.EINVAL}}
	if overlayHint(false, overlay) == "" {
		t.Error("no hint for a failed overlay mount (the raw engine's wording)")
	}
	if h := overlayHint(true, overlay); h != "" {
		t.Errorf("hint for a --copy session: %q", h)
	}
	parents := &sandbox.StartError{Code: sandbox.ExitSetupFailed, Msg: "mount overlay on /x: not a directory",
		Setup: &sandbox.SetupFailure{Op: sandbox.OpOverlay, Dest: "/x/y", Phase: sandbox.PhaseParents, Errno: unix.ENOTDIR}}
	if h := overlayHint(false, parents); h != "" {
		t.Errorf("hint for a failure that is not the overlay mount: %q", h)
	}
	if h := overlayHint(false, &sandbox.StartError{Msg: "mount overlay on /: invalid argument"}); h != "" {
		t.Errorf("hint chosen by text: %q", h)
	}
}
