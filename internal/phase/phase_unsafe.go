package phase

import "unsafe"

// stoppedName is the thread name stopHere sets (NUL-terminated for
// PR_SET_NAME).
var stoppedName = []byte("nook-stopped\x00")

func unsafePtr(b []byte) unsafe.Pointer { return unsafe.Pointer(&b[0]) }
