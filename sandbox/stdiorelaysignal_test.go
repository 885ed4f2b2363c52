package sandbox

import (
	"bufio"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// relayHolder finds a process of the sandbox p that holds the relay pipe
// as its fd 1 (pid 1 or the command under it) and opens that pipe for
// writing from outside the sandbox, through /proc: a writer the sandbox's
// end does not end.
func relayHolder(t *testing.T, p *Process) *os.File {
	t.Helper()
	pids := []string{strconv.Itoa(p.Pid)}
	if b, err := os.ReadFile("/proc/" + strconv.Itoa(p.Pid) + "/task/" + strconv.Itoa(p.Pid) + "/children"); err == nil {
		pids = append(pids, strings.Fields(string(b))...)
	}
	for _, pid := range pids {
		if f, err := os.OpenFile("/proc/"+pid+"/fd/1", os.O_WRONLY, 0); err == nil {
			return f
		}
	}
	t.Fatalf("no process of the sandbox (%v) has a relay pipe to open", pids)
	return nil
}

// TestRelayEndsAfterSignalWithOutsideWriter: the command dies of a
// forwarded SIGTERM while a process outside the sandbox still holds the
// relay's write end; Wait returns at once with what was written, and the
// relay does not wait for that writer.
func TestRelayEndsAfterSignalWithOutsideWriter(t *testing.T) {
	r, w := closedPipe(t)
	s := noCapsShell(`echo started >/dev/stdout; exec sleep 100`)
	s.Stdout = w
	p, err := Start(s)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	br := bufio.NewReader(r)
	if line, err := br.ReadString('\n'); err != nil || line != "started\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	outside := relayHolder(t, p)
	defer outside.Close()
	outside.WriteString("from outside\n")
	p.Signal(unix.SIGTERM)
	waited := make(chan Status, 1)
	go func() { st, _ := p.Wait(); waited <- st }()
	select {
	case st := <-waited:
		if st.Signal != unix.SIGTERM && st.Code != 128+int(unix.SIGTERM) {
			t.Errorf("status %+v, want killed by SIGTERM", st)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not return: the relay waits for the writer outside")
	}
	rest, _ := io.ReadAll(br)
	if string(rest) != "from outside\n" {
		t.Errorf("after the first line the relay gave %q, want what was in the pipe", rest)
	}
}

// TestRelayKeepsOutputAfterTrappedSignal: a command that traps SIGTERM and
// goes on writing loses nothing of what it writes after the signal.
func TestRelayKeepsOutputAfterTrappedSignal(t *testing.T) {
	r, w := closedPipe(t)
	s := noCapsShell(`trap 'echo trapped >/dev/stdout; sleep 0.3; echo later >/dev/stdout; exit 0' TERM
echo ready >/dev/stdout
while :; do sleep 0.05; done`)
	s.Stdout = w
	p, err := Start(s)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	br := bufio.NewReader(r)
	if line, err := br.ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	p.Signal(unix.SIGTERM)
	rest, _ := io.ReadAll(br)
	st, err := p.Wait()
	if err != nil || st.Code != 0 || string(rest) != "trapped\nlater\n" {
		t.Errorf("status %+v %v, output after the signal %q; want 0 and trapped, later", st, err, rest)
	}
}
