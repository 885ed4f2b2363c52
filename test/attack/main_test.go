// Package attack holds nook's attack suite (issue 8, part 1): every case is
// an attempt, from inside a sandbox or through hostile input, to do harm on
// the host, and asserts that the concrete harm did not happen — a host file
// unchanged, a process not reachable, a write refused — never merely that
// nook exited non-zero. docs/security.md lists the cases.
//
// The tests drive the built nook binary (NOOK_BIN, set by test/all.sh; else
// it is built). Attacks that need code inside the sandbox run this test
// binary itself there ("-attack-helper ACTION ARGS..."): it is static
// (CGO_ENABLED=0, as CI builds it) and is bound into each sandbox.
package attack

import (
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

var (
	nookBin string
	selfBin string // this test binary, for the helper inside sandboxes
)

func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == "-attack-helper" {
		os.Exit(helper(os.Args[2], os.Args[3:]))
	}
	if len(os.Args) > 1 && os.Args[1] == unpackFlag {
		// Started by nook as its unpack helper (TestHelpersLocked).
		hostileUnpackHelper()
		os.Exit(1)
	}
	// Fds this test binary inherited (from a CI runner, a terminal
	// multiplexer) must not reach nook: the cases count every fd above 2
	// that nobody passed.
	unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	selfBin = self
	nookBin = os.Getenv("NOOK_BIN")
	if nookBin == "" {
		dir, err := os.MkdirTemp("", "nook-attack")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Chmod(dir, 0o755)
		nookBin = filepath.Join(dir, "nook")
		// nook and, beside it, its unpack helper.
		cmd := exec.Command("go", "build", "-o", dir, "github.com/nook-project/nook/cmd/nook", "github.com/nook-project/nook/cmd/nook-unpack")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build nook: %v\n%s", err, out)
			os.Exit(1)
		}
		code := m.Run()
		os.RemoveAll(dir)
		os.Exit(code)
	}
	os.Exit(m.Run())
}

func isRoot() bool { return os.Getuid() == 0 }

// needStaticSelf makes sure this test binary can run in a chroot that
// holds nothing else. test/all.sh always builds it with CGO_ENABLED=0.
func needStaticSelf(t *testing.T) {
	t.Helper()
	f, err := elf.Open(selfBin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatalf("the attack suite must be built static (CGO_ENABLED=0 go test), as test/all.sh does")
		}
	}
}

// result is what one nook invocation did.
type result struct {
	out, err string
	code     int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout: %s\nstderr: %s", r.code, r.out, r.err)
}

type runOpts struct {
	dir   string
	env   []string // replaces the environment when set
	stdin io.Reader
	extra []*os.File
	bin   string // a nook other than nookBin
}

func nookWith(t *testing.T, o runOpts, args ...string) result {
	t.Helper()
	bin := nookBin
	if o.bin != "" {
		bin = o.bin
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = o.dir
	if cmd.Dir == "" {
		cmd.Dir = "/"
	}
	if o.env != nil {
		cmd.Env = o.env
	}
	cmd.Stdin = o.stdin
	cmd.ExtraFiles = o.extra
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run nook: %v", err)
	}
	r := result{out.String(), errb.String(), code}
	if strings.Contains(r.err, "panic:") || strings.Contains(r.err, "goroutine ") {
		t.Errorf("nook %s crashed:\n%s", strings.Join(args, " "), r)
	}
	return r
}

func nook(t *testing.T, args ...string) result {
	t.Helper()
	return nookWith(t, runOpts{}, args...)
}

// tempDir is a t.TempDir every test user can enter (the sandbox's uid may
// differ from the caller's with subordinate ids).
func tempDir(t *testing.T) string {
	d := t.TempDir()
	os.Chmod(d, 0o755)
	return d
}

// snapshot describes every entry below dir (names, types, modes, owners,
// contents, link targets), to show that nothing there changed.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var lines []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			lines = append(lines, p+" error "+err.Error())
			return nil
		}
		fi, err := os.Lstat(p)
		if err != nil {
			lines = append(lines, p+" lstat "+err.Error())
			return nil
		}
		line := fmt.Sprintf("%s %v", p, fi.Mode())
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			line += " -> " + l
		case fi.Mode().IsRegular():
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				line += fmt.Sprintf(" links %d", st.Nlink)
			}
			b, _ := os.ReadFile(p)
			sum := sha256.Sum256(b)
			line += " " + hex.EncodeToString(sum[:8])
		}
		lines = append(lines, line)
		return nil
	})
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// victim is a host directory an attack aims at: a file, a subdirectory
// and a file in it, all owned by the caller (so only nook's care, not
// permissions, keeps them safe).
type victim struct {
	dir, file, sub string
	before         string
}

func newVictim(t *testing.T, base string) *victim {
	t.Helper()
	v := &victim{dir: filepath.Join(base, "victim")}
	v.file = filepath.Join(v.dir, "file")
	v.sub = filepath.Join(v.dir, "sub")
	must(t, os.MkdirAll(v.sub, 0o755))
	must(t, os.WriteFile(v.file, []byte("host data\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(v.sub, "keep"), []byte("keep\n"), 0o600))
	os.Chmod(v.dir, 0o755)
	v.before = snapshot(t, v.dir)
	return v
}

// check fails the test when anything below the victim changed.
func (v *victim) check(t *testing.T, what string) {
	t.Helper()
	if after := snapshot(t, v.dir); after != v.before {
		t.Errorf("%s changed the host directory %s:\nbefore:\n%s\nafter:\n%s", what, v.dir, v.before, after)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func fileSum(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// copyFile copies src to dst with mode.
func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	must(t, os.WriteFile(dst, b, mode))
	must(t, os.Chmod(dst, mode))
}

// attackerRoot makes a root tree the attacker controls: busybox (as
// /bin/sh and friends) and this test binary as /attack.
func attackerRoot(t *testing.T, base string) string {
	t.Helper()
	needStaticSelf(t)
	root := filepath.Join(base, "root")
	for _, d := range []string{"bin", "tmp", "proc", "dev"} {
		must(t, os.MkdirAll(filepath.Join(root, d), 0o755))
	}
	copyFile(t, "/bin/busybox", filepath.Join(root, "bin/busybox"), 0o755)
	for _, a := range []string{"sh", "cat", "ls", "touch", "ln", "mkdir", "echo", "test", "sleep", "id", "mount", "readlink", "kill"} {
		must(t, os.Symlink("busybox", filepath.Join(root, "bin", a)))
	}
	copyFile(t, selfBin, filepath.Join(root, "attack"), 0o755)
	return root
}

// userns is the option that makes a real root caller's sandbox a user
// namespace: without one (the default for root) the command is the host's
// root with its capabilities, a sandbox only by convention, and the
// in-sandbox attacks are run against the configuration root uses when it
// wants a boundary.
func userns() []string {
	if isRoot() {
		return []string{"--userns", "always"}
	}
	return nil
}
