//go:build nooktest

package unpack

import (
	"io"
	"os"
	"time"
)

// stallEnv, set to 1 in the environment of the process that begins a
// session (which passes it on, see session's helperSpec), makes the helper
// stop for good after the first block of the archive. Tests use it to kill
// an unpack that is certainly half done (without it, whether a kill lands
// mid-way is a matter of timing).
const stallEnv = "NOOK_TEST_STALL_UNPACK"

// stalled is dec, or with stallEnv set, dec held after its first 64 KiB.
// Only a build with -tags nooktest has the hook (stall_release.go).
func stalled(dec io.Reader) io.Reader {
	if os.Getenv(stallEnv) == "1" {
		return &stallReader{r: dec, left: 64 << 10}
	}
	return dec
}

type stallReader struct {
	r    io.Reader
	left int
}

func (s *stallReader) Read(p []byte) (int, error) {
	if s.left <= 0 {
		// Asleep for good, on a timer: a bare select{} in a process
		// with no other goroutine that could wake is the runtime's
		// "all goroutines are asleep - deadlock!", and the helper
		// crashed instead of stalling (TestKilledUnpack failed about
		// once in ten runs, the begin it kills having already ended).
		for {
			time.Sleep(time.Hour)
		}
	}
	if len(p) > s.left {
		p = p[:s.left]
	}
	n, err := s.r.Read(p)
	s.left -= n
	return n, err
}
