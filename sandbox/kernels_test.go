package sandbox

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// The tests in this file check what nook does on the kernel it runs on,
// per kernel feature (docs/kernels.md). On the development machine's
// kernel they take the newest way; the VM stage (test/vm) runs them on
// Debian 12's 6.1 and Debian 13's 6.12, which lack the features, so every
// way without them is exercised on a real kernel that lacks them.

// kernelAtLeast reports whether the running kernel is major.minor or
// newer.
func kernelAtLeast(t *testing.T, major, minor int) bool {
	t.Helper()
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatal(err)
	}
	rel := unix.ByteSliceToString(u.Release[:])
	f := strings.FieldsFunc(rel, func(r rune) bool { return r < '0' || r > '9' })
	if len(f) < 2 {
		t.Fatalf("kernel release %q: no major.minor", rel)
	}
	ma, _ := strconv.Atoi(f[0])
	mi, _ := strconv.Atoi(f[1])
	return ma > major || ma == major && mi >= minor
}

// TestOverlayLayerWays: the raw engine hands overlayfs its layers in the
// newest way the kernel takes -- as fds from Linux 6.13, as "lowerdir+"
// /proc/self/fd paths from 6.8, as the legacy "lowerdir" list of those
// paths before -- and never needs the Go init for it (a session command
// on 6.1 must not pay a failed raw start and a second Go runtime). The
// layers' names hold the characters the legacy list gives meaning to.
// mountinfo shows which way was taken: fds show the layer's path as the
// kernel resolved it, strings the /proc/self/fd path given.
func TestOverlayLayerWays(t *testing.T) {
	base := t.TempDir()
	odd := func(name string) string {
		p := filepath.Join(base, name)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	lower1, lower2 := odd(`low:er,1\a`), odd(`lower 2`)
	upper, work := odd(`up,per:`), odd(`wo\rk`)
	if err := os.WriteFile(filepath.Join(lower1, "one"), []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(lower2, "two"), []byte("2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	for _, tc := range []struct {
		name string
		m    Mount
	}{
		{"host upper", Mount{Op: OpOverlay, Dest: "/tmp/ovl", Lower: []string{lower2, lower1}, Upper: upper, Work: work}},
		{"tmpfs upper", Mount{Op: OpOverlay, Dest: "/tmp/ovl", Lower: []string{lower2, lower1}, TmpfsUpper: true}},
		{"read-only", Mount{Op: OpOverlay, Dest: "/tmp/ovl", Lower: []string{lower2, lower1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := baseSpec()
			s.Mounts = append(s.Mounts, tc.m, Mount{Op: OpBind, Source: out, Dest: "/tmp/out"})
			e, code := startEngine(t, s, "sh", "-c",
				`cat /tmp/ovl/one /tmp/ovl/two >/tmp/out/seen && grep " /tmp/ovl " /proc/self/mountinfo >/tmp/out/mountinfo`)
			wantEngine(t, e, "raw")
			if code != 0 {
				t.Fatalf("exit %d: the overlay's files cannot be read", code)
			}
			if b, _ := os.ReadFile(filepath.Join(out, "seen")); string(b) != "1\n2\n" {
				t.Errorf("the overlay shows %q, want both lower layers' files", b)
			}
			mi, err := os.ReadFile(filepath.Join(out, "mountinfo"))
			if err != nil {
				t.Fatal(err)
			}
			opts := "," + strings.TrimSpace(string(mi)[strings.LastIndex(string(mi), " ")+1:]) + ","
			var want, way string
			switch {
			case e == "raw" && kernelAtLeast(t, 6, 13):
				want, way = ",lowerdir+=/", "the layers as fds (Linux 6.13)"
				if strings.Contains(opts, "=/proc/self/fd/") {
					t.Errorf("mount options %s: want %s, got /proc/self/fd paths", opts, way)
				}
			case kernelAtLeast(t, 6, 8):
				want, way = ",lowerdir+=/proc/self/fd/", `"lowerdir+" strings (Linux 6.8)`
			default:
				want, way = ",lowerdir=/proc/self/fd/", `the legacy "lowerdir" list`
			}
			if !strings.Contains(opts, want) {
				t.Errorf("mount options %s: want %s (%q)", opts, way, want)
			}
			t.Logf("engine %s: %s", e, way)
		})
	}
}
