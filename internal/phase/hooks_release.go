//go:build !nooktest

package phase

// TestHooks reports whether this build reads the test-only knobs: not
// without -tags nooktest (see hooks_nooktest.go).
const TestHooks = false

// stopAt: a build without the test knobs never stops at a phase.
const stopAt = ""
