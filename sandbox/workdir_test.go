package sandbox

import (
	"errors"
	"testing"
)

// TestStartErrorWorkDir: a working directory missing inside is told by
// StartError.WorkDir, with the errno's text, on both engines, with the
// command as pid 1 or not; another failure is not. Both engines used to be
// told apart by two spellings of their messages (issue 22); now by a field
// each engine sets where it changes directory.
func TestStartErrorWorkDir(t *testing.T) {
	for _, e := range bothEngines {
		for _, asPID1 := range []bool{false, true} {
			name := e.name
			if asPID1 {
				name += "/as-pid-1"
			}
			t.Run(name, func(t *testing.T) {
				t.Setenv("NOOK_ENGINE", e.env)
				s := baseSpec()
				s.AsPID1 = asPID1
				s.Dir = "/no/such/dir"
				_, _, err := tryReport(t, s, reportOpts{})
				var se *StartError
				if !errors.As(err, &se) {
					t.Fatalf("got %v, want a StartError", err)
				}
				if ok, why := se.WorkDir(); !ok || why != "no such file or directory" {
					t.Errorf("WorkDir() = %v, %q for %q", ok, why, se.Msg)
				}
				s = baseSpec()
				s.AsPID1 = asPID1
				s.Args = []string{"/no/such/command"}
				p, err := Start(s)
				if err == nil {
					p.Wait()
					t.Fatal("a missing command started")
				}
				if !errors.As(err, &se) {
					t.Fatalf("got %v, want a StartError", err)
				}
				if ok, _ := se.WorkDir(); ok {
					t.Errorf("a missing command is told as a working directory's failure: %q", se.Msg)
				}
			})
		}
	}
}
