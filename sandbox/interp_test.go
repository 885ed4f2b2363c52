package sandbox

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestInterpreterOf(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "s")
	os.WriteFile(script, []byte("#! /bin/nook-sh -e\n"), 0o755)
	plain := filepath.Join(dir, "p")
	os.WriteFile(plain, []byte("echo hi\n"), 0o755)
	for _, c := range []struct{ file, want string }{
		{script, "/bin/nook-sh"},
		{plain, ""},
		{filepath.Join(dir, "missing"), ""},
	} {
		if got := interpreterOf(c.file); got != c.want {
			t.Errorf("interpreterOf(%s) = %q, want %q", c.file, got, c.want)
		}
	}
	// A dynamic ELF names its loader (the test binary may be static).
	if got := interpreterOf("/bin/sh"); got == "" || got[0] != '/' {
		t.Errorf("interpreterOf(/bin/sh) = %q, want the dynamic loader's path", got)
	}
}

func TestHostPathOf(t *testing.T) {
	ms := []Mount{
		{Op: OpBind, Source: "/srv/root", Dest: "/"},
		{Op: OpTmpfs, Dest: "/tmp"},
		{Op: OpBind, Source: "/opt/u", Dest: "/usr"},
		{Op: OpBind, Source: "/x", Dest: "/us"},
	}
	for _, c := range []struct{ in, want string }{
		{"/usr/bin/true", "/opt/u/bin/true"},
		{"/usrx/y", "/srv/root/usrx/y"},
		{"/us/y", "/x/y"},
		{"/etc/passwd", "/srv/root/etc/passwd"},
		{"/tmp/x", ""},
	} {
		if got := hostPathOf(ms, c.in); got != c.want {
			t.Errorf("hostPathOf(%s) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestInterpreterOfFIFO: a name that leads to a FIFO gives no interpreter
// at once instead of blocking in open(2) (found by review: nook hung until
// SIGKILL).
func TestInterpreterOfFIFO(t *testing.T) {
	p := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(p, 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan string, 1)
	go func() { done <- interpreterOf(p) }()
	select {
	case got := <-done:
		if got != "" {
			t.Errorf("interpreterOf(fifo) = %q", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("interpreterOf blocked on a FIFO")
	}
}
