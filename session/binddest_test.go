package session

import (
	"os"
	"path/filepath"
	"testing"
)

// TestFileBindDest: the host's resolv.conf is bound where the session's
// name leads, so that a link into another mount (systemd-resolved's stub
// in /run, on Debian 13 and in host sessions) is not followed before that
// mount is made; and not at all where the name leads nowhere.
func TestFileBindDest(t *testing.T) {
	lower := t.TempDir()
	for _, d := range []string{"etc", "run/systemd/resolve"} {
		if err := os.MkdirAll(filepath.Join(lower, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(lower, "run/systemd/resolve/stub-resolv.conf"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../run/systemd/resolve/stub-resolv.conf", filepath.Join(lower, "etc/resolv.conf")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(lower, "etc/hosts"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/nowhere", filepath.Join(lower, "etc/dangling")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		rel, want string
		ok        bool
	}{
		{"etc/resolv.conf", "/run/systemd/resolve/stub-resolv.conf", true},
		{"etc/hosts", "/etc/hosts", true},
		{"etc/absent", "/etc/absent", true},
		{"etc/dangling", "", false},
	} {
		got, ok := fileBindDest("", lower, tc.rel)
		if got != tc.want || ok != tc.ok {
			t.Errorf("fileBindDest(%s) = %q, %v; want %q, %v", tc.rel, got, ok, tc.want, tc.ok)
		}
	}
}
