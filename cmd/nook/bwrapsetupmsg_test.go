package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBwrapSetupMessages runs command lines whose sandbox cannot be set up
// (a destination that cannot be made, something of the wrong kind in the
// way, a --remount-ro of no mount, ...) under bubblewrap 0.12 and under
// nook as bwrap, with each engine, and compares exit status and stderr
// word for word (issue 18 §2).
func TestBwrapSetupMessages(t *testing.T) {
	if out, err := exec.Command(newerBwrap, "--version").Output(); err != nil || !strings.HasPrefix(string(out), "bubblewrap 0.1") {
		t.Skipf("SKIP: no newer bubblewrap at %s (test/fetch-bwrap-trixie.sh fetches it; it needs deb.debian.org): %v %q", newerBwrap, err, out)
	}
	nk := nookAsBwrap(t)
	// A directory and a file to bind, readable by whoever runs the test.
	src := t.TempDir()
	os.Chmod(src, 0o755)
	dir, file := filepath.Join(src, "d"), filepath.Join(src, "f")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	T := w("--tmpfs", "/tmp")
	for _, c := range []struct {
		name string
		args []string
		// user: only where bwrap runs in a user namespace of its own
		// (not as root without --unshare-user: there it may do more).
		user bool
	}{
		{"symlink onto another symlink", cat(B, T, w("--symlink", "a", "/tmp/l", "--symlink", "b", "/tmp/l", "true")), false},
		{"symlink onto a deeper other symlink", cat(B, T, w("--symlink", "a", "/tmp/d/l", "--symlink", "b", "/tmp/d/l", "true")), false},
		{"symlink onto a file", cat(B, w("--symlink", "a", "/etc/passwd", "true")), false},
		{"symlink onto a directory", cat(B, T, w("--dir", "/tmp/a", "--symlink", "x", "/tmp/a", "true")), false},
		{"bind a directory under a file", cat(B, w("--bind", dir, "/etc/passwd/x", "true")), false},
		{"bind a file under a file", cat(B, w("--ro-bind", file, "/etc/passwd/x", "true")), false},
		{"bind a directory onto a file", cat(B, w("--bind", dir, "/etc/passwd", "true")), false},
		{"bind a file onto a directory", cat(B, w("--bind", file, "/etc", "true")), false},
		{"bind under a dangling symlink", cat(B, T, w("--symlink", "x", "/tmp/l", "--bind", dir, "/tmp/l/y", "true")), false},
		{"tmpfs under a file", cat(B, w("--tmpfs", "/etc/passwd/x", "true")), false},
		{"tmpfs onto a file", cat(B, w("--tmpfs", "/etc/passwd", "true")), false},
		{"tmpfs onto a file with perms", cat(B, w("--perms", "0700", "--tmpfs", "/etc/passwd", "true")), false},
		{"proc onto a file", cat(B, w("--proc", "/etc/passwd", "true")), false},
		{"own proc onto a file", cat(w("--unshare-pid"), B, w("--proc", "/etc/passwd", "true")), false},
		{"dev onto a file", cat(B, w("--dev", "/etc/passwd", "true")), false},
		{"mqueue onto a file", cat(w("--unshare-ipc"), B, w("--mqueue", "/etc/passwd", "true")), false},
		{"mqueue without an IPC namespace", cat(B, T, w("--mqueue", "/tmp/mq", "true")), true},
		{"overlay onto a file", cat(B, w("--overlay-src", "/usr", "--tmp-overlay", "/etc/passwd", "true")), false},
		{"overlay under a file", cat(B, w("--overlay-src", "/usr", "--tmp-overlay", "/etc/passwd/x", "true")), false},
		{"dir onto a file", cat(B, w("--dir", "/etc/passwd", "true")), false},
		{"dir onto a symlink to a file", cat(B, T, w("--symlink", "/etc/passwd", "/tmp/l", "--dir", "/tmp/l", "true")), false},
		{"dir under a file", cat(B, w("--dir", "/etc/passwd/x", "true")), false},
		{"file under a file", cat(B, w("--file", "0", "/etc/passwd/x", "true")), false},
		{"file onto a directory", cat(B, w("--file", "0", "/etc", "true")), false},
		{"bind-data onto a directory", cat(B, w("--bind-data", "0", "/etc", "true")), false},
		{"ro-bind-data under a file", cat(B, w("--ro-bind-data", "0", "/etc/passwd/x", "true")), false},
		{"chmod of a missing path", cat(B, w("--chmod", "0755", "/nonexistent-nook-diff", "true")), false},
		{"chmod under a missing directory", cat(B, T, w("--dir", "/tmp/a", "--chmod", "0755", "/tmp/a/b/c", "true")), false},
		{"chmod under a file", cat(B, w("--chmod", "0755", "/etc/passwd/x", "true")), false},
		{"chmod on a read-only bind", cat(B, w("--chmod", "0700", "/etc/passwd", "true")), false},
		{"chmod to 0 on a read-only bind", cat(B, w("--chmod", "0", "/etc/passwd", "true")), false},
		{"remount-ro of no mount", cat(B, w("--remount-ro", "/etc", "true")), false},
		{"remount-ro of a missing path", cat(B, w("--remount-ro", "/nonexistent-nook-diff", "true")), false},
		{"remount-ro under a file", cat(B, w("--remount-ro", "/etc/passwd/x", "true")), false},
		{"level-prefix on a set-up failure", cat(w("--level-prefix"), B, w("--tmpfs", "/etc/passwd", "true")), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.user && os.Geteuid() == 0 {
				t.Skip("SKIP: as root without --unshare-user bwrap runs in the host's user namespace, where this succeeds")
			}
			bw := runPlain(t, newerBwrap, c.args)
			if !strings.HasPrefix(bw, "exit 1\n") {
				t.Fatalf("bwrap did not fail as the case expects:\n%s", bw)
			}
			for _, engine := range []string{"raw", "init"} {
				t.Setenv("NOOK_ENGINE", engine)
				if got := runPlain(t, nk, c.args); got != bw {
					t.Errorf("nook (%s engine) differs from bwrap\n=== bwrap:\n%s=== nook:\n%s", engine, bw, got)
				}
			}
		})
	}
}
