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

// stalledRelay starts s with its stdout a pipe no one reads (mode 000, so
// it is relayed) and returns once the command has filled that pipe, with
// the pipe's read end for the test to read later.
func stalledRelay(t *testing.T, s *Spec) (*Process, *os.File) {
	t.Helper()
	r, w := closedPipe(t)
	s.Stdout = w
	p, err := Start(s)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := unix.IoctlGetInt(int(r.Fd()), unix.TIOCINQ) // FIONREAD
		if err == nil && n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing reached the relayed stdout in 10s (%d, %v)", n, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// What the relay holds now stays there: the pipe is full.
	time.Sleep(200 * time.Millisecond)
	return p, r
}

// waitWithin waits for p at most d; on a timeout it reads r to its end (so
// the relay can finish and nothing is left behind) and fails.
func waitWithin(t *testing.T, p *Process, r *os.File, d time.Duration) Status {
	t.Helper()
	type result struct {
		st  Status
		err error
	}
	waited := make(chan result, 1)
	go func() { st, err := p.Wait(); waited <- result{st, err} }()
	select {
	case res := <-waited:
		if res.err != nil {
			t.Fatalf("wait: %v", res.err)
		}
		return res.st
	case <-time.After(d):
		t.Errorf("Wait did not return within %v: the relay waits for a reader that never reads", d)
		io.Copy(io.Discard, r)
		res := <-waited
		return res.st
	}
}

// TestRelayDropsStalledOutputAfterSignal: the command was told to end
// (SIGTERM through Signal, as nook forwards it) and has ended, while what
// its relayed stdout goes to is never read (`nook run ... | sleep
// infinity`). Wait returns, dropping what the relay held, as nook without
// a relay would exit, where before it waited for the reader for ever.
func TestRelayDropsStalledOutputAfterSignal(t *testing.T) {
	t.Run("signal before the end", func(t *testing.T) {
		// head blocks on the full relay until SIGTERM kills it.
		p, r := stalledRelay(t, noCapsShell(`head -c 300000 /dev/zero`))
		p.Signal(unix.SIGTERM)
		st := waitWithin(t, p, r, 5*time.Second)
		if st.Signal != unix.SIGTERM && st.Code != 128+int(unix.SIGTERM) {
			t.Errorf("status %+v, want killed by SIGTERM", st)
		}
	})
	t.Run("signal after the end", func(t *testing.T) {
		// 80000 bytes fit in the relay's pipe and the caller's, so the
		// command ends, and nook waits on the stalled reader with the
		// rest; then it is told to end.
		p, r := stalledRelay(t, noCapsShell(`head -c 80000 /dev/zero`))
		type result struct {
			st  Status
			err error
		}
		waited := make(chan result, 1)
		go func() { st, err := p.Wait(); waited <- result{st, err} }()
		for deadline := time.Now().Add(10 * time.Second); ; {
			if _, err := os.Stat("/proc/" + strconv.Itoa(p.Pid)); err != nil {
				break // reaped: the sandbox has ended
			}
			if time.Now().After(deadline) {
				io.Copy(io.Discard, r)
				t.Fatal("the command did not end within 10s")
			}
			time.Sleep(10 * time.Millisecond)
		}
		select {
		case <-waited:
			t.Fatal("Wait returned before the relay delivered all the output (without any signal)")
		case <-time.After(300 * time.Millisecond):
		}
		p.Signal(unix.SIGTERM)
		select {
		case res := <-waited:
			if res.err != nil || res.st.Code != 0 {
				t.Errorf("status %+v, %v; want 0", res.st, res.err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("Wait did not return within 5s of SIGTERM: the relay waits for a reader that never reads")
			io.Copy(io.Discard, r)
			<-waited
		}
	})
}

// TestRelayDeliversToDrainingReaderAfterSignal: the command ignores
// SIGTERM and ends after writing everything, while the reader, stalled
// at first, reads steadily from then on: the relay, though told of the
// signal, drops nothing of what its destination goes on taking.
func TestRelayDeliversToDrainingReaderAfterSignal(t *testing.T) {
	const size = 300000
	p, r := stalledRelay(t, noCapsShell(`trap '' TERM; head -c 300000 /dev/zero`))
	p.Signal(unix.SIGTERM)
	type result struct {
		st  Status
		err error
	}
	waited := make(chan result, 1)
	go func() { st, err := p.Wait(); waited <- result{st, err} }()
	time.Sleep(100 * time.Millisecond)
	got := 0
	buf := make([]byte, 4096)
	for {
		n, err := r.Read(buf)
		got += n
		if err != nil {
			break
		}
		// Steadily but not at once: the relay waits for room each
		// time, longer than a relay that dropped at once would.
		time.Sleep(20 * time.Millisecond)
	}
	res := <-waited
	if res.err != nil || res.st.Code != 0 || got != size {
		t.Errorf("status %+v %v, %d bytes delivered; want 0 and %d", res.st, res.err, got, size)
	}
}
