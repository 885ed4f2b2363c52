package seccomp

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// xsysFor returns the generated numbers of goarch's native ABI.
func xsysFor(goarch string) *sysnums {
	switch goarch {
	case "386":
		return &xsys386
	case "amd64":
		return &xsysAmd64
	case "arm":
		return &xsysArm
	case "arm64":
		return &xsysArm64
	case "loong64":
		return &xsysLoong64
	case "mips64le":
		return &xsysMips64le
	case "ppc64le":
		return &xsysPpc64le
	case "riscv64":
		return &xsysRiscv64
	case "s390x":
		return &xsysS390x
	}
	return nil
}

// TestXsysnumMatchesUnix compares the generated table of the GOARCH under
// test with the unix constants compiled for it: rawProbes (the per-arch
// sysnum_*_test.go files) name every family member except sync, which
// rawProbes leaves out because calling it would really sync. Run it on
// other arches with GOARCH=... go test -c and qemu (test/crossvet.sh).
func TestXsysnumMatchesUnix(t *testing.T) {
	s := xsysFor(runtime.GOARCH)
	if s == nil {
		t.Skipf("no generated table for GOARCH %s", runtime.GOARCH)
	}
	want := []uint32{unix.SYS_SYNC}
	for _, p := range rawProbes() {
		want = append(want, uint32(p.nr))
	}
	got := append(slices.Clone(s.chown), s.sync...)
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("chown and sync families: generated %v, unix.SYS_* %v", got, want)
	}
	if s.ioctl != unix.SYS_IOCTL {
		t.Errorf("ioctl: generated %d, unix.SYS_IOCTL %d", s.ioctl, unix.SYS_IOCTL)
	}
	if s.tiocsti != unix.TIOCSTI || s.tioclinux != unix.TIOCLINUX {
		t.Errorf("requests: generated %#x %#x, unix %#x %#x", s.tiocsti, s.tioclinux, unix.TIOCSTI, unix.TIOCLINUX)
	}
	// The filter of this GOARCH must use these numbers for its first ABI.
	a := abisByGOARCH(runtime.GOARCH)[0]
	for _, n := range append([]uint32{s.ioctl}, got...) {
		if !slices.Contains(a.ioctl, n) && !slices.Contains(a.chown, n) && !slices.Contains(a.sync, n) {
			t.Errorf("%s: native number %d not in the filter's tables", a.name, n)
		}
	}
}

// TestXsysnumUpToDate regenerates xsysnum.go from the golang.org/x/sys this
// module builds with and compares it with the checked-in file, so that an
// x/sys upgrade that renumbers or adds a family member is noticed.
func TestXsysnumUpToDate(t *testing.T) {
	if _, err := os.Stat(filepath.Join("internal", "gensysnum", "main.go")); err != nil {
		t.Skipf("generator source not in the working directory (test binary run outside sandbox/seccomp): %v", err)
	}
	gocmd, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command to run the generator: %v", err)
	}
	out := filepath.Join(t.TempDir(), "xsysnum.go")
	cmd := exec.Command(gocmd, "run", "./internal/gensysnum", "-o", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run ./internal/gensysnum: %v\n%s", err, b)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("xsysnum.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("xsysnum.go is stale; run go generate ./sandbox/seccomp\n--- regenerated ---\n%s", got)
	}
}
