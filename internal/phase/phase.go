// Package phase marks the named steps of a nook process's start-up: with
// NOOK_TIMING=1 it prints when each happens, and with NOOK_TEST_STOP_AT it
// stops the process at one (the fault tests kill it there). A leaf package:
// the unpack helper marks its steps too and links nothing else of nook's.
package phase

import (
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// NOOK_TIMING=1 prints when each step of start-up happens, in milliseconds
// of CLOCK_MONOTONIC, from the parent and the init alike, so one run shows
// where the time goes (docs/benchmarks.md). It costs one getenv otherwise.
var timing = os.Getenv("NOOK_TIMING") == "1"

// Timing reports whether NOOK_TIMING=1: a child started by nook gets it
// too.
func Timing() bool { return timing }

// StopAt is NOOK_TEST_STOP_AT, for a child started by nook.
func StopAt() string { return stopAt }

// Mark records a named point of start-up when NOOK_TIMING=1, and stops
// the process at the one NOOK_TEST_STOP_AT names.
func Mark(name string) {
	if stopAt != "" && name == stopAt {
		stopHere()
	}
	if !timing {
		return
	}
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	// The minor page faults so far: on a virtual machine each costs
	// microseconds, and most of start-up's cost is first touches.
	var ru unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru)
	fmt.Fprintf(os.Stderr, "nook-timing %d %.3f %s faults=%d\n", os.Getpid(), float64(ts.Nano())/1e6, name, ru.Minflt)
}

// stopHere marks the thread (its name becomes "nook-stopped", which the
// tests look for) and stops the process. A pid 1 of a pid namespace
// cannot stop itself (the kernel drops such signals from inside), so it
// waits here for its SIGKILL instead.
func stopHere() {
	unix.Prctl(unix.PR_SET_NAME, uintptr(unsafePtr(stoppedName)), 0, 0, 0)
	unix.Kill(os.Getpid(), unix.SIGSTOP)
	for {
		time.Sleep(time.Hour)
	}
}
