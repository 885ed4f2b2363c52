package session

import (
	"errors"
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

	// In ../libexec/nook from the executable, where make install puts it,
	// when no one but root and this user can change the path to it
	// (checked up to dir here: /tmp above it is anyone's).
	os.Remove(beside)
	trustTop = dir
	defer func() { trustTop = "/" }()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	libexec := installed(t, dir, 0o755)
	if got, err := unpackHelper(); err != nil || got != libexec {
		t.Errorf("nook-unpack in ../libexec/nook from %s: %q, %v", self, got, err)
	}
	// Not when the prefix is one others can write to (root running
	// /var/tmp/x/bin/nook would run what anyone put in
	// /var/tmp/x/libexec/nook), nor when nook is not in a bin directory.
	for _, c := range []struct {
		name, prefix, bin string
		mode              os.FileMode
		why               string
	}{
		{"world-writable grandparent", "ww", "bin", 0o777, "writable by group or others"},
		{"sticky world-writable grandparent", "sticky", "bin", 0o777 | os.ModeSticky, "writable by group or others"},
		{"group-writable grandparent", "gw", "bin", 0o775, "writable by group or others"},
		{"not in a bin directory", "nobin", "tools", 0o755, ""},
	} {
		prefix := filepath.Join(dir, c.prefix)
		planted := installed(t, prefix, c.mode)
		if c.bin != "bin" {
			os.Rename(filepath.Join(prefix, "bin"), filepath.Join(prefix, c.bin))
		}
		self := filepath.Join(prefix, c.bin, "nook")
		executable = func() (string, error) { return self, nil }
		got, err := unpackHelper()
		if got == planted {
			t.Errorf("%s: %s ran the helper in %s", c.name, self, planted)
		}
		if err != nil && (!errors.Is(err, ErrNoUnpackHelper) || !strings.Contains(err.Error(), c.why)) {
			t.Errorf("%s: %v; want ErrNoUnpackHelper saying %q", c.name, err, c.why)
		}
	}
	if os.Geteuid() == 0 {
		// Root: a helper another user owns is not run either.
		prefix := filepath.Join(dir, "owned")
		planted := installed(t, prefix, 0o755)
		if err := os.Lchown(planted, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		executable = func() (string, error) { return filepath.Join(prefix, "bin", "nook"), nil }
		if got, err := unpackHelper(); got == planted || err != nil && !strings.Contains(err.Error(), "owned by uid 65534") {
			t.Errorf("a helper owned by uid 65534: %q, %v", got, err)
		}
	}
	executable = func() (string, error) { return self, nil }

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

// installed lays out prefix/bin (empty: nook itself is not needed) and
// prefix/libexec/nook/nook-unpack as make install does, prefix with mode
// and the rest 0755, and returns the helper's path.
func installed(t *testing.T, prefix string, mode os.FileMode) string {
	t.Helper()
	helper := filepath.Join(prefix, "libexec", "nook", unpackArg0)
	for _, d := range []string{filepath.Join(prefix, "bin"), filepath.Dir(helper)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	err := os.WriteFile(helper, []byte("#!/bin/sh\n"), 0o755)
	for _, p := range []string{helper, filepath.Dir(helper), filepath.Dir(filepath.Dir(helper)), filepath.Join(prefix, "bin")} {
		if err == nil {
			err = os.Chmod(p, 0o755) // whatever the umask
		}
	}
	if err == nil {
		err = os.Chmod(prefix, mode)
	}
	if err != nil {
		t.Fatal(err)
	}
	return helper
}
