package sandbox

import (
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// TestLockMaps: the outer namespace maps the host ids of an identity onto
// themselves, and ids named during set-up are translated into them.
func TestLockMaps(t *testing.T) {
	subidsRoot := []syscall.SysProcIDMap{{ContainerID: 0, HostID: 1000, Size: 1}, {ContainerID: 1, HostID: 100000, Size: 65535}}
	for _, c := range []struct {
		name  string
		in    []syscall.SysProcIDMap
		outer []syscall.SysProcIDMap
		ids   map[int]int // inside → outer
	}{
		{"root", []syscall.SysProcIDMap{{ContainerID: 0, HostID: 1000, Size: 1}},
			[]syscall.SysProcIDMap{{ContainerID: 1000, HostID: 1000, Size: 1}}, map[int]int{0: 1000, 5: 5}},
		{"self", []syscall.SysProcIDMap{{ContainerID: 1000, HostID: 1000, Size: 1}},
			[]syscall.SysProcIDMap{{ContainerID: 1000, HostID: 1000, Size: 1}}, map[int]int{1000: 1000, 5: 5}},
		{"subids-root", subidsRoot,
			[]syscall.SysProcIDMap{{ContainerID: 1000, HostID: 1000, Size: 1}, {ContainerID: 100000, HostID: 100000, Size: 65535}},
			map[int]int{0: 1000, 1: 100000, 5: 100004, 65535: 165534, 65536: 65536}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if d := cmp.Diff(c.outer, identityMaps(c.in)); d != "" {
				t.Errorf("identityMaps (-want +got):\n%s", d)
			}
			for in, want := range c.ids {
				if got := outerID(c.in, in); got != want {
					t.Errorf("outerID(%d) = %d, want %d", in, got, want)
				}
			}
		})
	}
}

// TestCommandNested: the command's user namespace is a child of the
// sandbox's, which is a child of the caller's (both engines: CI runs this
// with NOOK_ENGINE=init too), and the command runs in a mount namespace
// other than pid 1's.
func TestCommandNested(t *testing.T) {
	for _, mode := range []string{"self", "root"} {
		t.Run(mode, func(t *testing.T) {
			p, release := startWaiting(t, &Spec{Identity: Identity{Mode: mode, UserNS: UserNSAlways}})
			defer release()
			// The Go init stays as the command's parent (it nests the
			// command); the raw engine's first process is the command.
			cmd := p.Pid
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				if kids := childrenOf(p.Pid); len(kids) == 1 {
					cmd = kids[0]
					break
				} else if p.Engine == "raw" {
					break
				}
			}
			fd, err := unix.Open("/proc/"+strconv.Itoa(cmd)+"/ns/user", unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(fd)
			var own unix.Stat_t
			if err := unix.Stat("/proc/self/ns/user", &own); err != nil {
				t.Fatal(err)
			}
			depth := 0
			for cur := fd; ; depth++ {
				var st unix.Stat_t
				if err := unix.Fstat(cur, &st); err != nil {
					t.Fatal(err)
				}
				if st.Ino == own.Ino {
					break
				}
				parent, err := unix.IoctlRetInt(cur, nsGetParent)
				if cur != fd {
					unix.Close(cur)
				}
				if err != nil {
					t.Fatalf("NS_GET_PARENT at depth %d: %v", depth, err)
				}
				cur = parent
			}
			if depth != 2 {
				t.Errorf("the command's user namespace is %d levels below the caller's, want 2 (the sandbox's, then the command's own)", depth)
			}
		})
	}
}

// childrenOf lists the processes whose parent is pid (from /proc/*/stat,
// readable whatever the process).
func childrenOf(pid int) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so from the last ')'.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, n)
		}
	}
	return out
}

// TestPID1KeepsNoCapabilities: pid 1 stays in the sandbox's outer user
// namespace, where nook's mounts are not locked: it drops every capability
// it holds there once the command runs (both engines). pid 1 drops them
// after the command has started (it is suspended until the exec), so the
// command looks until they are gone; the window is harmless, as pid 1 is
// non-dumpable and in a namespace above the command's.
func TestPID1KeepsNoCapabilities(t *testing.T) {
	s := baseSpec()
	s.Identity = Identity{UserNS: UserNSAlways}
	s.Args = []string{"/bin/sh", "-c", `i=0; while [ $i -lt 500 ]; do
		if grep -E '^Cap(Prm|Eff|Amb):' /proc/1/status | grep -qv '0000000000000000$'; then i=$((i+1)); sleep 0.01; else echo dropped; exit 0; fi
	done; grep -E '^Cap(Prm|Eff|Amb):' /proc/1/status; exit 1`}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	s.Stdout = w
	p, err := Start(s)
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(r)
	r.Close()
	if st, err := p.Wait(); err != nil || st.ExitCode() != 0 || strings.TrimSpace(string(out)) != "dropped" {
		t.Errorf("pid 1 still holds capabilities after 5 s (status %+v, %v):\n%s", st, err, out)
	}
}

// startWaiting starts s (the host root read-only, /dev; no pid namespace,
// so the process started is the command's, or the Go init's) with a
// command that waits until release, which also waits for the end.
func startWaiting(t *testing.T, s *Spec) (*Process, func()) {
	t.Helper()
	s.Args = []string{"/bin/sh", "-c", "read x"}
	s.Mounts = []Mount{{Op: OpBind, Source: "/", Dest: "/", ReadOnly: true}, {Op: OpDev, Dest: "/dev"}}
	in, hold, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	s.Stdin = in
	p, err := Start(s)
	in.Close()
	if err != nil {
		hold.Close()
		t.Fatal(err)
	}
	return p, func() {
		hold.Close()
		if _, err := p.Wait(); err != nil {
			t.Error(err)
		}
	}
}
