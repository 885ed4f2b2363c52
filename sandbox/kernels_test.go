package sandbox

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

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

// TestThrowawayUpperHidesLowerDirs: an overlay with a throwaway upper
// behaves as an overlay must on every kernel -- a lower directory removed
// and made again is empty, one renamed keeps its files -- and leaves
// nothing behind. Inside a user namespace before Linux 6.6 tmpfs has no
// user xattrs and a tmpfs upper cannot do that (rm -rf fails with EIO on
// 6.1), so nook puts the upper on disk, volatile; the mount options show
// which upper was used. A directory a killed nook left there is swept, one
// a live nook holds is not.
func TestThrowawayUpperHidesLowerDirs(t *testing.T) {
	lower := hostDir(t, map[string]string{"d/f": "f", "e/g": "g"})
	scratch := t.TempDir()
	parent := filepath.Join(scratch, diskUpperDirName)
	if err := os.MkdirAll(filepath.Join(parent, "stale", "1", "upper", "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(parent, "held"), 0o755); err != nil {
		t.Fatal(err)
	}
	held, err := os.Open(filepath.Join(parent, "held"))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if err := unix.Flock(int(held.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	s := baseSpec()
	s.ScratchDir = scratch
	s.Mounts = append(s.Mounts,
		Mount{Op: OpOverlay, Dest: "/tmp/o", Lower: []string{lower}, TmpfsUpper: true},
		Mount{Op: OpBind, Source: out, Dest: "/tmp/out"})
	e, code := startEngine(t, s, "sh", "-c", `set -e
grep " /tmp/o " /proc/self/mountinfo >/tmp/out/mountinfo
rm -rf /tmp/o/d
mkdir /tmp/o/d
test -z "$(ls -A /tmp/o/d)"
mv /tmp/o/e /tmp/o/e2
test -f /tmp/o/e2/g`)
	wantEngine(t, e, "raw")
	if code != 0 {
		t.Errorf("exit %d: a lower directory could not be removed and made again, or renamed", code)
	}
	mi, _ := os.ReadFile(filepath.Join(out, "mountinfo"))
	disk := strings.Contains(string(mi), "volatile")
	userns := !isRoot()
	switch {
	case userns && !kernelAtLeast(t, 6, 6) && !disk:
		t.Errorf("Linux before 6.6 in a user namespace: the upper must be on disk, mount: %s", mi)
	case (!userns || kernelAtLeast(t, 6, 6)) && disk:
		t.Errorf("the upper went to disk although tmpfs can hold it: %s", mi)
	}
	t.Logf("throwaway upper on disk: %v", disk)
	ents, _ := os.ReadDir(parent)
	var left []string
	for _, e := range ents {
		left = append(left, e.Name())
	}
	if disk && !slices.Equal(left, []string{"held"}) {
		t.Errorf("%s holds %v after the run, want only the held directory", parent, left)
	}
}

// TestThrowawayUpperOfSubordinateIDs: files the command made as ids of the
// caller's subordinate range in a disk-backed upper (see above) are
// removed too, which the caller cannot do on the host.
func TestThrowawayUpperOfSubordinateIDs(t *testing.T) {
	subIDs(t)
	if isRoot() {
		t.Skip("SKIPPED: real root removes any file; this is about callers with subordinate ids")
	}
	scratch := t.TempDir()
	s := baseSpec()
	s.ScratchDir = scratch
	s.Identity = Identity{Mode: "subids-self"}
	lower := hostDir(t, map[string]string{"keep": "k"})
	s.Mounts = append(s.Mounts, Mount{Op: OpOverlay, Dest: "/tmp/o", Lower: []string{lower}, TmpfsUpper: true})
	// Root inside is a subordinate id here: its directory, with a file
	// and a directory of another id inside, is nobody's the caller has.
	s.Identity.UID, s.Identity.GID = u32int(0), u32int(0)
	e, code := startEngine(t, s, "sh", "-c", `set -e
mkdir -m 0755 /tmp/o/root-dir
echo x >/tmp/o/root-dir/file
mkdir /tmp/o/root-dir/sub
chown 1000:1000 /tmp/o/root-dir/sub
echo y >/tmp/o/root-dir/sub/file`)
	wantEngine(t, e, "raw")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	ents, _ := os.ReadDir(filepath.Join(scratch, diskUpperDirName))
	if len(ents) != 0 {
		t.Errorf("left behind in the scratch directory: %v", ents)
	}
}

func u32int(v int) *int { return &v }

// scaled stretches a time limit of a test by NOOK_TEST_TIME_SCALE: the VM
// stage (test/vm) runs under software emulation, where everything takes
// several times as long, and sets it.
func scaled(d time.Duration) time.Duration {
	if f, err := strconv.ParseFloat(os.Getenv("NOOK_TEST_TIME_SCALE"), 64); err == nil && f > 1 {
		return time.Duration(float64(d) * f)
	}
	return d
}
