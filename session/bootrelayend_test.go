package session

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// What a command run through the agent writes at its end all reaches the
// caller, in order: more than a pipe holds, stdout and stderr on one file
// (2>&1), stderr after stdout was closed, and on a terminal; what it left
// of a seekable stdin is the caller's next read.
func TestRunBootedOutputAtEnd(t *testing.T) {
	s, id := heldSession(t)
	const lines = 30000 // about 250 KiB: several pipe buffers
	loop := fmt.Sprintf("i=0; while [ $i -lt %d ]; do echo line$i; i=$((i+1)); done", lines)
	var want strings.Builder
	for i := 0; i < lines; i++ {
		fmt.Fprintf(&want, "line%d\n", i)
	}
	if out, errOut, code := runBooted(t, s, id, RunOptions{Args: []string{"sh", "-c", loop + "; echo END"}}, "", nil); code != 0 || out != want.String()+"END\n" {
		t.Errorf("big output: %d, %d bytes (want %d), ends %q (stderr %q)", code, len(out), want.Len()+4, out[max(0, len(out)-20):], errOut)
	}
	dir := t.TempDir()
	both, err := os.Create(filepath.Join(dir, "both"))
	if err != nil {
		t.Fatal(err)
	}
	defer both.Close()
	in, err := os.Create(filepath.Join(dir, "in"))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	in.WriteString("one\ntwo\n")
	in.Seek(0, io.SeekStart)
	code, err := s.RunBooted(id, RunOptions{Args: []string{"sh", "-c", "read l; echo $l; echo b >&2; echo c; exec >&-; sleep 0.2; echo e >&2"}}, in, both, both, nil)
	if err != nil || code != 0 {
		t.Fatalf("run: %d %v", code, err)
	}
	if b, _ := os.ReadFile(both.Name()); string(b) != "one\nb\nc\ne\n" {
		t.Errorf("2>&1: %q, want one b c e in order", b)
	}
	if off, _ := in.Seek(0, io.SeekCurrent); off != 4 {
		t.Errorf("stdin at %d after the command read one line, want 4", off)
	}

	// On a terminal (a pty pair of the test's): all of a big output,
	// through the agent's terminal and the relay, before run returns.
	master, slave, err := openPty()
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	defer slave.Close()
	screen := make(chan string, 1)
	go func() {
		var b strings.Builder
		buf := make([]byte, 1<<16)
		for {
			n, err := master.Read(buf)
			b.Write(buf[:n])
			if err != nil || strings.Contains(b.String(), "END\r\n") {
				break
			}
		}
		screen <- b.String()
	}()
	code, err = s.RunBooted(id, RunOptions{Args: []string{"sh", "-c", loop + "; echo END"}}, slave, slave, slave, nil)
	if err != nil || code != 0 {
		t.Fatalf("run on a terminal: %d %v", code, err)
	}
	// The pty's line discipline (outside and in) makes \n \r\n.
	wantTTY := strings.ReplaceAll(want.String(), "\n", "\r\n") + "END\r\n"
	select {
	case got := <-screen:
		if got != wantTTY {
			t.Errorf("on a terminal: %d bytes, want %d; ends %q", len(got), len(wantTTY), got[max(0, len(got)-30):])
		}
	case <-time.After(20 * time.Second):
		t.Errorf("END never reached the caller's terminal")
		master.Close()
	}
}

// A command line as long as the kernel takes (here 400 KiB, more than a
// unix socket's buffer) reaches the command whole, as it does in an
// ordinary session: the request to the agent is not cut at a buffer's
// size on either side.
func TestRunBootedLongCommandLine(t *testing.T) {
	s, id := heldSession(t)
	args := []string{"sh", "-c", `echo $#; for a; do echo ${#a}; done`, "sh"}
	var want strings.Builder
	want.WriteString("4\n")
	for i := 0; i < 4; i++ {
		args = append(args, strings.Repeat(string(rune('a'+i)), 100<<10))
		want.WriteString("102400\n")
	}
	dir := t.TempDir()
	var f [3]*os.File
	for i, n := range []string{"in", "out", "err"} {
		var err error
		if f[i], err = os.Create(filepath.Join(dir, n)); err != nil {
			t.Fatal(err)
		}
		defer f[i].Close()
	}
	code, err := s.RunBooted(id, RunOptions{Args: args}, f[0], f[1], f[2], nil)
	out, _ := os.ReadFile(f[1].Name())
	errOut, _ := os.ReadFile(f[2].Name())
	if err != nil || code != 0 || string(out) != want.String() {
		t.Errorf("four arguments of 100 KiB: %d %v %q (stderr %q), want %q", code, err, out, errOut, want.String())
	}
}
