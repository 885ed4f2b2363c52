package session

import (
	"strings"
	"testing"
)

func TestOverlayRefusal(t *testing.T) {
	for _, c := range []struct {
		release string
		fs      int64
		root    bool
		want    string
	}{
		{"6.18.44-fc-v769", 0xef53, false, ""},           // ext4
		{"6.1.0-28-amd64", 0x01021994, false, ""},        // tmpfs
		{"5.10.0-30-amd64", 0xef53, false, "Linux 5.11"}, // bullseye
		{"5.10.0-30-amd64", 0xef53, true, ""},            // real root mounts overlays anywhere
		{"5.11.0", 0xef53, false, ""},
		{"6.8.0", 0x6969, false, "NFS"},
		{"6.8.0", 0x794c7630, true, "overlayfs"}, // sessions inside a container's overlay
		{"weird", 0xef53, false, ""},             // unknown release: let the mount decide
	} {
		got := overlayRefusal(c.release, c.fs, c.root)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("overlayRefusal(%q, %#x, root=%v) = %q, want %q", c.release, c.fs, c.root, got, c.want)
		}
	}
	// Here (CI's machines) overlay sessions are expected to work.
	if r := overlayRefusedHere(t.TempDir(), false); r != "" {
		t.Errorf("overlay sessions refused on this machine: %s", r)
	}
}
