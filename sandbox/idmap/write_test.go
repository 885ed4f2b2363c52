package idmap

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func TestNeedsHelper(t *testing.T) {
	tests := []struct {
		name   string
		in     idMap
		hostID int
		isRoot bool
		want   bool
	}{
		{"own id to itself", idMap{m(1000, 1000, 1)}, 1000, false, false},
		{"own id to root", idMap{m(0, 1000, 1)}, 1000, false, false},
		{"own id to another id", idMap{m(4242, 1000, 1)}, 1000, false, false},
		{"someone else's id", idMap{m(0, 1001, 1)}, 1000, false, true},
		{"own id, size 2", idMap{m(0, 1000, 2)}, 1000, false, true},
		{"two lines", idMap{m(0, 1000, 1), m(1, 100000, 65535)}, 1000, false, true},
		{"empty map", nil, 1000, false, true},
		{"root writes anything", idMap{m(0, 0, 1), m(1, 100000, 65535)}, 0, true, false},
		{"root, foreign id", idMap{m(0, 5, 1)}, 0, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NeedsHelper(tt.in, tt.hostID, tt.isRoot); got != tt.want {
				t.Errorf("NeedsHelper(%v, %d, %v) = %v, want %v", tt.in, tt.hostID, tt.isRoot, got, tt.want)
			}
		})
	}
}

// TestWriteDirect is the real test of the no-helper path: a child in a new,
// unmapped user namespace gets its maps from Write and reports what it
// sees. It runs for any caller (root or not).
func TestWriteDirect(t *testing.T) {
	uid, gid := os.Getuid(), os.Getgid()
	root := os.Geteuid() == 0
	tests := []struct {
		name             string
		mode             Mode
		inner            int
		wantUID, wantGID int
	}{
		{"self", Self, DefaultInner, uid, gid},
		{"root", Root, DefaultInner, 0, 0},
		{"self with --uid/--gid 4242", Self, 4242, 4242, 4242},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			um, gm, err := PlanInner(tt.mode, uid, gid, tt.inner, tt.inner, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if NeedsHelper(um, uid, root) || NeedsHelper(gm, gid, root) {
				t.Fatalf("mode %v should not need the helper: %v %v", tt.mode, um, gm)
			}
			c := startChild(t)
			if err := Write(c.pid(), um, gm, false); err != nil {
				t.Fatalf("Write: %v", err)
			}
			r := c.release(t)
			checkChild(t, r, um, gm, tt.wantUID, tt.wantGID)
			// Unprivileged gid_map writes need setgroups denied first; root's
			// child keeps setgroups.
			wantSG := "deny"
			if root {
				wantSG = "allow"
			}
			if got := strings.TrimSpace(r.Setgroups); got != wantSG {
				t.Errorf("child's setgroups = %q, want %q", got, wantSG)
			}
		})
	}
}

// TestWriteRootMultiRange: root may write any map itself, so Write without
// the helper must install multi-line, multi-range maps (including more
// than 5 lines, which the kernel stores differently).
func TestWriteRootMultiRange(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skipf("SKIPPED: writing multi-range maps without newuidmap needs root; running as uid %d (unprivileged callers use the helper: TestWriteHelper)", os.Geteuid())
	}
	var many []Range // 100 ranges of 700 ids with gaps: 95 lines
	for i := range 100 {
		many = append(many, Range{Start: 3_000_000 + i*1000, Count: 700})
	}
	tests := []struct {
		name             string
		mode             Mode
		subUID, subGID   []Range
		wantUID, wantGID int
	}{
		{"subids-root, several ranges", SubidsRoot,
			[]Range{{300000, 30000}, {400000, 20000}, {500000, 40000}}, []Range{{600000, 65536}}, 0, 0},
		{"subids-self, several ranges", SubidsSelf,
			[]Range{{300000, 30000}, {400000, 20000}, {500000, 40000}}, []Range{{600000, 10}, {700000, 65536}}, 0, 0},
		{"subids-root, 95 lines", SubidsRoot, many, many, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			um, gm, err := Plan(tt.mode, 0, 0, tt.subUID, tt.subGID)
			if err != nil {
				t.Fatal(err)
			}
			if NeedsHelper(um, 0, true) {
				t.Fatal("root should never need the helper")
			}
			c := startChild(t)
			if err := Write(c.pid(), um, gm, false); err != nil {
				t.Fatalf("Write: %v", err)
			}
			checkChild(t, c.release(t), um, gm, tt.wantUID, tt.wantGID)
		})
	}

	// The kernel's limit, reached with short numbers so that the text
	// stays under one page: Validate must agree with the kernel here.
	t.Run("340 lines, the kernel maximum", func(t *testing.T) {
		mp := idMap{m(0, 0, 1)} // keep root as root inside
		for i := 1; i < MaxLines; i++ {
			mp = append(mp, m(i*2, 1000+i, 1))
		}
		c := startChild(t)
		if err := Write(c.pid(), mp, mp, false); err != nil {
			t.Fatalf("Write: %v", err)
		}
		checkChild(t, c.release(t), mp, mp, 0, 0)
	})
}

func TestWriteErrors(t *testing.T) {
	uid, gid := os.Getuid(), os.Getgid()
	um, gm, err := Plan(Self, uid, gid, nil, nil)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("invalid pid", func(t *testing.T) {
		if err := Write(0, um, gm, false); err == nil {
			t.Error("Write(pid 0) succeeded")
		}
	})
	t.Run("invalid map is refused before writing", func(t *testing.T) {
		bad := idMap{m(0, 1000, 1), m(0, 1001, 1)}
		if err := Write(os.Getpid(), bad, gm, false); !errors.Is(err, ErrInvalidMap) {
			t.Errorf("err = %v, want ErrInvalidMap", err)
		}
	})
	t.Run("missing process names the pid", func(t *testing.T) {
		// The pid is translated to /proc's view through a pidfd first
		// (internal/procpid), so a process that is gone is ESRCH there,
		// before any /proc path is opened.
		pid := deadPID(t)
		err := Write(pid, um, gm, false)
		want := "pid " + strconv.Itoa(pid)
		if !errors.Is(err, syscall.ESRCH) || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want ESRCH naming %s", err, want)
		}
	})
	t.Run("second write is refused", func(t *testing.T) {
		c := startChild(t)
		if err := Write(c.pid(), um, gm, false); err != nil {
			t.Fatal(err)
		}
		err := Write(c.pid(), um, gm, false)
		want := "/proc/" + strconv.Itoa(c.pid()) + "/uid_map"
		if !errors.Is(err, syscall.EPERM) || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want EPERM naming %s", err, want)
		}
		c.release(t)
	})
	t.Run("unprivileged foreign id fails without helper", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root may write any map; nothing to refuse")
		}
		c := startChild(t)
		foreign := idMap{m(0, uid, 1), m(1, 100000, 10)}
		err := Write(c.pid(), foreign, gm, false)
		if !errors.Is(err, syscall.EPERM) || !strings.Contains(err.Error(), "uid_map") {
			t.Errorf("err = %v, want EPERM naming uid_map", err)
		}
	})
}

// deadPID returns the pid of a process that has exited and been reaped.
func deadPID(t *testing.T) int {
	t.Helper()
	p, err := os.StartProcess("/bin/true", []string{"true"}, &os.ProcAttr{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	return p.Pid
}
