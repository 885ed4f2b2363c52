//go:build nooktest

package phase

import "os"

// TestHooks reports whether this build reads the test-only knobs
// (NOOK_TEST_STOP_AT, NOOK_TEST_STALL_UNPACK, NOOK_RAW_NO_VM,
// NOOK_RAW_FULL_FORK): only a build with -tags nooktest does, as
// test/all.sh makes; a shipped binary ignores them.
const TestHooks = true

// stopAt is NOOK_TEST_STOP_AT: the process stops itself (SIGSTOP) when it
// reaches the phase of that name, so the fault tests can kill it there and
// check that nothing is left behind. It only ever stops the process that
// reads it.
var stopAt = os.Getenv("NOOK_TEST_STOP_AT")
