package session_test

import (
	"github.com/nook-project/nook/session"
	"github.com/nook-project/nook/unpack"
)

// The session tests unpack through this test binary itself: it links the
// helper, answers as nook-unpack when started so, and names itself as the
// helper (so the tests need no nook-unpack installed).
func init() {
	unpack.Dispatch()
	session.UnpackHelper = session.UnpackSelf
}
