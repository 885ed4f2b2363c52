package sandbox

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// NOOK_TIMING=1 prints when each step of start-up happens, in milliseconds
// of CLOCK_MONOTONIC, from the parent and the init alike, so one run shows
// where the time goes (docs/benchmarks.md). It costs one getenv otherwise.
var timing = os.Getenv("NOOK_TIMING") == "1"

// Phase records a named point of start-up when NOOK_TIMING=1.
func Phase(name string) {
	if !timing {
		return
	}
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	fmt.Fprintf(os.Stderr, "nook-timing %d %.3f %s\n", os.Getpid(), float64(ts.Nano())/1e6, name)
}
