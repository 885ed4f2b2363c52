package native

import (
	"strings"
	"testing"
)

// The progress line never reaches the terminal's last column, whatever
// the width (at 80 columns it was 94 wide, and every refresh left a
// wrapped row behind); the bar shows where there is room for it.
func TestProgressLineFitsTheTerminal(t *testing.T) {
	for cols := 1; cols <= 200; cols++ {
		for _, what := range []string{"bb", "bookworm-amd64-sbuild-with-a-long-name"} {
			l := progressLine(what, 123<<20, 456<<20, 98.7*(1<<20), "3s", cols)
			if len(l) > cols-1 && !(cols == 1 && l == "") {
				t.Fatalf("%d columns: line %q is %d wide", cols, l, len(l))
			}
			if cols >= 80 && what == "bb" && (!strings.Contains(l, "[") || !strings.Contains(l, "left")) {
				t.Errorf("%d columns: %q lacks the bar or the figures", cols, l)
			}
		}
	}
}
