package idmap

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// childEnv, when set, turns the test binary into the namespace child that
// the Write tests start: it waits on stdin, then reports what it sees.
const childEnv = "NOOK_IDMAP_TEST_CHILD"

func TestMain(mtest *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(childMain())
	}
	os.Exit(mtest.Run())
}

// childReport is what the child sees from inside the namespace.
type childReport struct {
	UIDMap, GIDMap, Setgroups string
	UID, GID                  int
}

// childMain blocks until the parent closes stdin (maps written), then
// prints its view as JSON; reading stdin is the release signal because it
// needs no cooperation beyond closing a pipe.
func childMain() int {
	if _, err := io.Copy(io.Discard, os.Stdin); err != nil {
		fmt.Fprintln(os.Stderr, "child: read stdin:", err)
		return 2
	}
	var r childReport
	for _, f := range []struct {
		path string
		dst  *string
	}{{"/proc/self/uid_map", &r.UIDMap}, {"/proc/self/gid_map", &r.GIDMap}, {"/proc/self/setgroups", &r.Setgroups}} {
		b, err := os.ReadFile(f.path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			return 2
		}
		*f.dst = string(b)
	}
	r.UID, r.GID = syscall.Getuid(), syscall.Getgid()
	if err := json.NewEncoder(os.Stdout).Encode(r); err != nil {
		fmt.Fprintln(os.Stderr, "child: encode:", err)
		return 2
	}
	return 0
}

// nsChild is a test-binary child in a fresh, still unmapped user namespace.
type nsChild struct {
	cmd            *exec.Cmd
	stdin          io.WriteCloser
	stdout, stderr strings.Builder
}

// startChild starts the child with CLONE_NEWUSER and no UidMappings, so
// that the Go runtime writes nothing and Write is the only writer.
func startChild(t *testing.T) *nsChild {
	t.Helper()
	skipIfNoUserns(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	c := &nsChild{cmd: exec.Command(exe)}
	c.cmd.Env = append(os.Environ(), childEnv+"=1")
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER}
	c.cmd.Stdout, c.cmd.Stderr = &c.stdout, &c.stderr
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("start child in a new user namespace: %v", err)
	}
	t.Cleanup(func() {
		if c.cmd.ProcessState == nil {
			_ = c.cmd.Process.Kill()
			_ = c.cmd.Wait()
		}
	})
	return c
}

func (c *nsChild) pid() int { return c.cmd.Process.Pid }

// release lets the child run and returns its report.
func (c *nsChild) release(t *testing.T) childReport {
	t.Helper()
	_ = c.stdin.Close()
	if err := c.cmd.Wait(); err != nil {
		t.Fatalf("child: %v; stderr: %s", err, c.stderr.String())
	}
	var r childReport
	if err := json.Unmarshal([]byte(c.stdout.String()), &r); err != nil {
		t.Fatalf("child output %q: %v", c.stdout.String(), err)
	}
	return r
}

// skipIfNoUserns skips only when the system forbids user namespaces
// outright by configuration; every other failure is a real failure.
func skipIfNoUserns(t *testing.T) {
	t.Helper()
	if b, err := os.ReadFile("/proc/sys/user/max_user_namespaces"); err == nil && strings.TrimSpace(string(b)) == "0" {
		t.Skip("SKIPPED: user namespaces are disabled (user.max_user_namespaces = 0); the real Write tests cannot run here")
	}
	if os.Geteuid() != 0 {
		if b, err := os.ReadFile("/proc/sys/kernel/unprivileged_userns_clone"); err == nil && strings.TrimSpace(string(b)) == "0" {
			t.Skip("SKIPPED: unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone = 0); the real Write tests cannot run here")
		}
	}
}

// parseProcMap parses the kernel's padded uid_map text; it is sorted by
// inside id because the kernel lists maps of more than 5 lines sorted.
func parseProcMap(t *testing.T, s string) idMap {
	t.Helper()
	var out idMap
	for line := range strings.Lines(s) {
		f := strings.Fields(line)
		if len(f) != 3 {
			t.Fatalf("bad map line %q", line)
		}
		var v [3]int
		for i := range f {
			n, err := strconv.Atoi(f[i])
			if err != nil {
				t.Fatalf("bad map line %q: %v", line, err)
			}
			v[i] = n
		}
		out = append(out, m(v[0], v[1], v[2]))
	}
	return sortedMap(out)
}

func sortedMap(mp idMap) idMap {
	mp = slices.Clone(mp)
	slices.SortFunc(mp, func(a, b syscall.SysProcIDMap) int { return a.ContainerID - b.ContainerID })
	return mp
}

// checkChild asserts the child saw exactly the planned maps and runs as
// the planned inside ids.
func checkChild(t *testing.T, r childReport, uidMap, gidMap idMap, wantUID, wantGID int) {
	t.Helper()
	if diff := cmp.Diff(sortedMap(uidMap), parseProcMap(t, r.UIDMap)); diff != "" {
		t.Errorf("child's /proc/self/uid_map (-planned +seen):\n%s", diff)
	}
	if diff := cmp.Diff(sortedMap(gidMap), parseProcMap(t, r.GIDMap)); diff != "" {
		t.Errorf("child's /proc/self/gid_map (-planned +seen):\n%s", diff)
	}
	if r.UID != wantUID || r.GID != wantGID {
		t.Errorf("child runs as uid %d gid %d, want %d %d", r.UID, r.GID, wantUID, wantGID)
	}
}
