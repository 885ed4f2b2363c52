package main

import (
	"bufio"
	"bytes"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nook-project/nook/session"
)

// A single file's copy gives the testbed no file of the host's: root
// inside (who may replace the testbed's cat) could otherwise reopen it
// through /proc/self/fd and write it, or change its mode: copydown's
// source is a file of the host's that the testbed is only to read, and
// copyup's destination one the server made. The testbed's cat is replaced
// here by one that tries both before doing its work.
func TestVirtNookCopyFileNotHanded(t *testing.T) {
	const tarball = "/var/cache/nook-ci/bookworm-minbase.tar"
	if _, err := os.Stat(tarball); err != nil {
		t.Fatalf("%v: run test/setup-host.sh as root, which makes it with mmdebstrap", err)
	}
	if session.DetectIDMode() == session.IDSingle {
		t.Skip("SKIP: the server does not start without subordinate ids (TestVirtNookProtocol checks that it says so)")
	}
	e := newSessionEnv(t)
	e.must("chroot", "add", "bookworm", tarball)
	srv := exec.Command(nookBin, "autopkgtest-virt-nook", "bookworm")
	srv.Env = e.env
	var serr bytes.Buffer
	srv.Stderr = &serr
	in, err := srv.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	outPipe, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		in.Write([]byte("quit\n"))
		srv.Wait()
	}()
	r := bufio.NewReader(outPipe)
	cmd := func(c string) string {
		t.Helper()
		if c != "" {
			in.Write([]byte(c + "\n"))
		}
		l, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("server: %v (stderr %s)", err, serr.String())
		}
		return strings.TrimSpace(l)
	}
	if l := cmd(""); l != "ok" {
		t.Fatalf("greeting %q", l)
	}
	scratch, ok := strings.CutPrefix(cmd("open"), "ok ")
	if !ok {
		t.Fatalf("open failed (stderr %s)", serr.String())
	}
	var auxverb []string
	for _, a := range strings.Split(strings.TrimPrefix(cmd("print-execute-command"), "ok "), ",") {
		auxverb = append(auxverb, unquoteURL(a))
	}
	fake := "#!/bin/sh\nchmod 6777 /proc/self/fd/0 /proc/self/fd/1 2>/dev/null\necho tampered 2>/dev/null >/proc/self/fd/0\nexec /usr/bin/cat.real \"$@\"\n"
	c := exec.Command(auxverb[0], append(auxverb[1:], "sh", "-c", "mv /usr/bin/cat /usr/bin/cat.real && cat.real >/usr/bin/cat && chmod 755 /usr/bin/cat")...)
	c.Env, c.Stdin = e.env, strings.NewReader(fake)
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("replace the testbed's cat: %v: %s", err, out)
	}
	src := filepath.Join(e.dir, "src")
	os.WriteFile(src, []byte("the host's\n"), 0o644)
	os.Chmod(src, 0o644)
	if l := cmd("copydown " + src + " " + scratch + "/f"); l != "ok" {
		t.Errorf("copydown: %q (stderr %s)", l, serr.String())
	}
	if b, _ := os.ReadFile(src); string(b) != "the host's\n" {
		t.Errorf("the testbed wrote the host's file it was copied from: %q", b)
	}
	if fi, err := os.Stat(src); err != nil || fi.Mode() != 0o644 {
		t.Errorf("the host's file copied from: %v, want mode 0644 still", modeOf(fi, err))
	}
	dst := filepath.Join(e.dir, "dst")
	if l := cmd("copyup " + scratch + "/f " + dst); l != "ok" {
		t.Errorf("copyup: %q (stderr %s)", l, serr.String())
	}
	if fi, err := os.Stat(dst); err != nil || fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid|0o022) != 0 {
		t.Errorf("the file copied up: %v: the testbed set its mode", modeOf(fi, err))
	}
}

func modeOf(fi os.FileInfo, err error) any {
	if err != nil {
		return err
	}
	return fi.Mode()
}

// SIGPIPE (autopkgtest gone, the server's replies with no reader) ends the
// server as HUP, INT and TERM do. Go does not die of a SIGPIPE raised
// again after signal.Reset, so the server's handler, which ended the
// session and kept the testbed's lock, used to leave it running: its next
// command waited on that lock for ever.
func TestVirtNookSigpipeEnds(t *testing.T) {
	if session.DetectIDMode() == session.IDSingle {
		t.Skip("SKIP: the server does not start without subordinate ids (TestVirtNookProtocol checks that it says so)")
	}
	e := newSessionEnv(t)
	srv, in, _ := startVirtNook(t, e, "bookworm")
	srv.Process.Signal(syscall.SIGPIPE)
	done := make(chan error, 1)
	go func() { done <- srv.Wait() }()
	time.Sleep(200 * time.Millisecond)
	in.Write([]byte("capabilities\n"))
	select {
	case err := <-done:
		if err == nil {
			t.Errorf("server after SIGPIPE: exit 0, want a failure")
		}
	case <-time.After(10 * time.Second):
		t.Errorf("the server still runs 10 s after SIGPIPE")
	}
}

// A server killed with SIGKILL (a debci worker's crash) cannot end its
// session; the next server started by the same user ends it before its
// greeting, and leaves a live server's session alone.
func TestVirtNookKilledServerSwept(t *testing.T) {
	const tarball = "/var/cache/nook-ci/bookworm-minbase.tar"
	if _, err := os.Stat(tarball); err != nil {
		t.Fatalf("%v: run test/setup-host.sh as root, which makes it with mmdebstrap", err)
	}
	if session.DetectIDMode() == session.IDSingle {
		t.Skip("SKIP: the server refuses to start without subordinate ids (TestVirtNookProtocol checks that)")
	}
	e := newSessionEnv(t)
	e.must("chroot", "add", "bookworm", tarball)
	start := func() (*exec.Cmd, io.WriteCloser, *bufio.Reader) { return startVirtNook(t, e, "bookworm") }
	openSession := func(in io.Writer, r *bufio.Reader) {
		t.Helper()
		io.WriteString(in, "open\n")
		if l, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(l, "ok /tmp/autopkgtest.") {
			t.Fatalf("open: %q, %v", l, err)
		}
	}
	list := func() []string { return strings.Fields(e.must("session", "list", "-q")) }

	killed, in1, r1 := start()
	openSession(in1, r1)
	live, in2, r2 := start()
	openSession(in2, r2)
	before := list()
	if len(before) != 2 {
		t.Fatalf("sessions with two servers open: %q, want two", before)
	}
	killed.Process.Signal(syscall.SIGKILL)
	killed.Wait()
	if got := list(); len(got) != 2 {
		t.Fatalf("sessions right after the kill: %q, want both still there", got)
	}
	if js := e.must("session", "list", "--json"); strings.Count(js, `"orphaned": true`) != 1 || strings.Count(js, `"owner"`) != 2 {
		t.Errorf("session list --json after the kill: want two owners, one orphaned:\n%s", js)
	}
	third, in3, _ := start()
	after := list()
	if len(after) != 1 {
		t.Fatalf("sessions after the next server started: %q, want only the live server's", after)
	}
	io.WriteString(in3, "quit\n")
	third.Wait()
	// The same without a server: nook session end --orphans, what a
	// worker's service runs as it starts.
	fourth, in4, r4 := start()
	openSession(in4, r4)
	fourth.Process.Signal(syscall.SIGKILL)
	fourth.Wait()
	orphans := strings.Fields(e.must("session", "end", "--orphans"))
	if len(orphans) != 1 || slices.Contains(after, orphans[0]) {
		t.Errorf("nook session end --orphans printed %q, want the killed server's one session (not %q)", orphans, after)
	}
	if got := list(); !slices.Equal(got, after) {
		t.Errorf("sessions after session end --orphans: %q, want %q", got, after)
	}
	// The live server's session is the one kept: it closes it.
	io.WriteString(in2, "close\n")
	if l, err := r2.ReadString('\n'); err != nil || l != "ok\n" {
		t.Errorf("close on the live server after the sweep: %q, %v", l, err)
	}
	io.WriteString(in2, "quit\n")
	live.Wait()
	if got := list(); len(got) != 0 {
		t.Errorf("sessions after both servers quit: %q", got)
	}
}

// startVirtNook starts nook as autopkgtest-virt-nook with args in e's
// environment, its stderr the test's, and reads its greeting; the server
// is killed when the test ends.
func startVirtNook(t *testing.T, e *sessionEnv, args ...string) (*exec.Cmd, io.WriteCloser, *bufio.Reader) {
	t.Helper()
	srv := exec.Command(nookBin, append([]string{"autopkgtest-virt-nook"}, args...)...)
	srv.Env = e.env
	srv.Stderr = os.Stderr
	in, err := srv.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	r := bufio.NewReader(out)
	if l, err := r.ReadString('\n'); err != nil || l != "ok\n" {
		t.Fatalf("greeting %q, %v", l, err)
	}
	return srv, in, r
}
