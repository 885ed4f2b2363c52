package session

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUnpackHelperLookup: NOOK_UNPACK names the helper (symlinks resolved,
// it must be an executable file); with nothing found, the error says
// where nook looked and how to install it.
func TestUnpackHelperLookup(t *testing.T) {
	saved := UnpackHelper
	defer func() { UnpackHelper = saved }()
	UnpackHelper = ""
	dir := t.TempDir()
	exe := filepath.Join(dir, "my-unpack")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(exe, link); err != nil {
		t.Fatal(err)
	}
	t.Setenv("NOOK_UNPACK", link)
	if got, err := unpackHelper(); err != nil || got != exe {
		t.Errorf("NOOK_UNPACK=%s: %q, %v; want %s", link, got, err, exe)
	}
	plain := filepath.Join(dir, "plain")
	os.WriteFile(plain, nil, 0o644)
	for _, bad := range []string{plain, dir, filepath.Join(dir, "missing")} {
		t.Setenv("NOOK_UNPACK", bad)
		if got, err := unpackHelper(); err == nil || !strings.Contains(err.Error(), "NOOK_UNPACK") {
			t.Errorf("NOOK_UNPACK=%s: %q, %v; want an error naming NOOK_UNPACK", bad, got, err)
		}
	}
	UnpackHelper = exe
	if got, err := unpackHelper(); err != nil || got != exe {
		t.Errorf("UnpackHelper=%s: %q, %v", exe, got, err)
	}

	// Beside the executable (looked at before PATH and the system
	// directories, so what is installed there does not matter).
	UnpackHelper = ""
	t.Setenv("NOOK_UNPACK", "")
	t.Setenv("PATH", dir)
	self := filepath.Join(dir, "bin", "nook")
	executable = func() (string, error) { return self, nil }
	defer func() { executable = os.Executable }()
	os.Mkdir(filepath.Dir(self), 0o755)
	beside := filepath.Join(filepath.Dir(self), unpackArg0)
	os.WriteFile(beside, []byte("#!/bin/sh\n"), 0o755)
	if got, err := unpackHelper(); err != nil || got != beside {
		t.Errorf("nook-unpack beside %s: %q, %v", self, got, err)
	}

	// In ../libexec/nook from the executable, where make install puts it.
	os.Remove(beside)
	libexec := filepath.Join(dir, "libexec", "nook", unpackArg0)
	os.MkdirAll(filepath.Dir(libexec), 0o755)
	os.WriteFile(libexec, []byte("#!/bin/sh\n"), 0o755)
	if got, err := unpackHelper(); err != nil || got != libexec {
		t.Errorf("nook-unpack in ../libexec/nook from %s: %q, %v", self, got, err)
	}

	// Nothing anywhere (unless this machine has one installed).
	os.Remove(libexec)
	for _, p := range []string{"/usr/libexec/nook/nook-unpack", "/usr/lib/nook/nook-unpack"} {
		if _, err := os.Stat(p); err == nil {
			t.Skipf("SKIPPED the not-found case: %s exists on this machine", p)
		}
	}
	_, err := unpackHelper()
	if err == nil || !strings.Contains(err.Error(), "go build -o DIR ./cmd/nook-unpack") || !strings.Contains(err.Error(), filepath.Dir(self)) {
		t.Errorf("no helper anywhere: %v", err)
	}
}
