package sandbox

import (
	"encoding/binary"
	"os"
	"syscall"
	"testing"
)

// In a held user namespace the sandbox's first process waits for nothing
// of nook's, and may report its start before the middle process that
// cloned it reports its pid. That order must read as a start: read as the
// middle's own failure, it failed a command that ran (exit 125, "enter
// the user namespace kept for the sandbox: errno 0", about once in 100
// runs of TestLoadConcurrentBegins). The records are played into the pipe
// in that order here, with a real middle process that exits 0.
func TestEnteredChildStartBeforePid(t *testing.T) {
	prog := &rawProg{steps: []rawStep{{what: "enter the user namespace kept for the sandbox"}, {what: "start the sandbox in that user namespace"}, {what: "mount proc on /proc"}}, middleSteps: []int{0, 1}}
	rec := func(v ...uint32) []byte {
		b := make([]byte, recSize)
		for i, x := range v {
			binary.NativeEndian.PutUint32(b[4*i:], x)
		}
		return b
	}
	for _, c := range []struct {
		name    string
		records [][]byte
		want    int // the first process's pid, 0 for an error
	}{
		{"start, then pid", [][]byte{rec(recStarted), rec(recPid, 4242)}, 4242},
		{"pid, then start", [][]byte{rec(recPid, 4343)}, 4343},
		{"the middle's own failure", [][]byte{rec(recError, 0, uint32(syscall.EPERM), ExitSetupFailed)}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			for _, b := range c.records {
				w.Write(b)
			}
			w.Close()
			middle, err := syscall.ForkExec("/bin/true", []string{"true"}, &syscall.ProcAttr{})
			if err != nil {
				t.Fatal(err)
			}
			p := &Process{Pid: middle}
			first, err := p.enteredChild(r, prog)
			if c.want == 0 {
				if err == nil {
					t.Errorf("no error for the middle's failure (first %d)", first)
				}
				return
			}
			if err != nil || first != c.want {
				t.Errorf("enteredChild: first %d, %v; want %d", first, err, c.want)
			}
			if want := len(c.records) == 2; p.earlyStart != want {
				t.Errorf("earlyStart %v, want %v", p.earlyStart, want)
			}
		})
	}
}
