package main

import (
	"io"
	"os/exec"
	"strings"
	"testing"

	"github.com/creack/pty"
)

// session begin's unpack progress, drawn on an 80-column terminal, stays
// within 79 columns: a line reaching the last column wraps, and every
// refresh leaves a row behind.
func TestProgressFitsTerminal(t *testing.T) {
	e := newSessionEnv(t)
	e.busyboxChroot("bb")
	cmd := exec.Command(nookBin, "session", "begin", "bb")
	cmd.Env, cmd.Dir = e.env, "/"
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 24, Cols: 80})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(f) // ends with EIO once nook is gone
	f.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("session begin: %v: %q", err, out)
	}
	drawn := false
	for _, seg := range strings.FieldsFunc(string(out), func(r rune) bool { return r == '\r' || r == '\n' }) {
		seg = strings.ReplaceAll(seg, "\x1b[K", "")
		if !strings.HasPrefix(seg, "unpacking") {
			continue // a message (begin's warnings) may wrap: it is written once
		}
		drawn = true
		if len(seg) > 79 {
			t.Errorf("a %d-column progress line on an 80-column terminal: %q", len(seg), seg)
		}
	}
	if !drawn {
		t.Fatalf("no progress line was drawn: %q", out)
	}
}
