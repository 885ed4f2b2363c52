package unpack

import (
	"testing"

	"github.com/nook-project/nook/session"
)

// TestMainRefusesOtherCalls: the helper answers only nook's call of its
// own protocol version.
func TestMainRefusesOtherCalls(t *testing.T) {
	dest := t.TempDir()
	for _, args := range [][]string{
		nil,
		{"x.tar"},
		{"--nook-unpack=0", dest, "chown", ""},
		{session.UnpackFlag, dest, "chmod", ""},
		{session.UnpackFlag, dest},
	} {
		if code := Main(args); code != 2 {
			t.Errorf("Main(%q) = %d, want 2", args, code)
		}
	}
}
