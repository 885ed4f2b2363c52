package sandbox

import (
	"os"
	"strings"
	"testing"
)

// TestStdinRelayGivesBackWhatTheCommandLeft: a command that reads part
// of its relayed stdin and then writes into its own stdin pipe leaves the
// caller's offset after what it read. The cap of b4de73f (at most what
// the relay read goes back) is right only where the command read nothing:
// here the relay reads the 100 bytes left, the command reads 50 and
// writes 3000, and the pipe's 3050 bytes capped at 100 move the offset
// back over the 50 the command did read.
func TestStdinRelayGivesBackWhatTheCommandLeft(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "stdin")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(strings.Repeat("line\n", 1020)); err != nil {
		t.Fatal(err)
	}
	if err := f.Chmod(0); err != nil { // the command cannot open it: relayed
		t.Fatal(err)
	}
	if _, err := f.Seek(5000, 0); err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// dd reads one byte at a time, so exactly 50 leave the pipe.
	s := noCapsShell(`sleep 1; dd bs=1 count=50 of=/dev/null 2>/dev/null; head -c 3000 /dev/zero 1<>/proc/self/fd/0; exit 0`)
	s.Stdin, s.Stdout = f, w
	if _, st := runCollect(t, s, r, w); st.Code != 0 {
		t.Fatalf("status %+v", st)
	}
	if off, _ := f.Seek(0, 1); off != 5050 {
		t.Errorf("the caller's offset is %d after a command that read 50 bytes from 5000, want 5050", off)
	}
}
