package sandbox

import "github.com/nook-project/nook/internal/phase"

// Phase records a named point of start-up when NOOK_TIMING=1, and stops
// the process at the one NOOK_TEST_STOP_AT names (package phase).
func Phase(name string) { phase.Mark(name) }
