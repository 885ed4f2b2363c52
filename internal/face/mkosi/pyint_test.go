package mkosi

import "testing"

// TestExecFdAsPythonReadsIt: sandbox.py reads --exec-fd with int(), which
// takes blanks around the number, a sign, underscores between digits and
// other scripts' digits; the face refused ' 5', '+5' and '1_0'.
func TestExecFdAsPythonReadsIt(t *testing.T) {
	for s, want := range map[string]int{"5": 5, " 5": 5, "5\n": 5, "+5": 5, "1_0": 10, "05": 5, "\u0665": 5, "-1": -1} {
		o, err := parse([]string{"--exec-fd", s, "true"}, "/")
		if err != nil || len(o.execFds) != 1 || o.execFds[0] != want {
			t.Errorf("--exec-fd %q: %v, %v; want fd %d", s, err, o, want)
		}
	}
	for _, s := range []string{"", " ", "x", "0x5", "1__0", "_1", "1_", "+", "5.0", "+-5"} {
		if _, err := parse([]string{"--exec-fd", s, "true"}, "/"); err == nil {
			t.Errorf("--exec-fd %q accepted; int() refuses it", s)
		}
	}
}
