package session

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A long-lived session keeps one sandbox from begin to end: a process a
// command leaves running is still there for the next command (it would
// not be in an ordinary session, whose commands get fresh namespaces),
// commands get stdin, exit status, -d and the relay of a booted session's,
// --no-network gives only loopback, and end leaves no process and no
// session behind. As every kind of caller: it needs neither subordinate
// ids nor a delegated cgroup.
func TestLongLivedSession(t *testing.T) {
	s := testStore(t)
	addTarball(t, s, "bb", busyboxTar(t))
	if _, err := s.Begin("bb", BeginOptions{LongLived: true, Boot: true}); !errors.Is(err, ErrBadBegin) {
		t.Errorf("begin --boot --long-lived: %v, want ErrBadBegin", err)
	}
	start := time.Now()
	res, err := s.Begin("bb", BeginOptions{LongLived: true, NoNetwork: true})
	if err != nil {
		t.Fatalf("begin --long-lived: %v", err)
	}
	t.Logf("begin --long-lived (with the unpack) took %v", time.Since(start))
	id := res.State.ID
	ended := false
	defer func() {
		if !ended {
			s.End(id, nil)
		}
	}()
	if _, err := s.Prepare(id, RunOptions{Args: []string{"true"}}); !errors.Is(err, ErrBooted) {
		t.Errorf("Prepare on a long-lived session: %v, want ErrBooted (its commands go through the agent)", err)
	}
	if out, errOut, code := runBooted(t, s, id, RunOptions{Args: []string{"sh", "-c", "sleep 60 & echo $! > /tmp/bg; echo started"}}, "", nil); code != 0 || out != "started\n" {
		t.Fatalf("leave sleep behind: %d %q %q", code, out, errOut)
	}
	if out, errOut, code := runBooted(t, s, id, RunOptions{Args: []string{"sh", "-c", "kill -0 $(cat /tmp/bg) && echo alive; cat; pwd; exit 7"}, Dir: "/tmp"}, "in\n", nil); code != 7 || out != "alive\nin\n/tmp\n" {
		t.Errorf("second command: %d %q (stderr %q), want 7 and the first one's sleep alive, stdin, /tmp", code, out, errOut)
	}
	if out, _, code := runBooted(t, s, id, RunOptions{Args: []string{"sh", "-c", "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '"}}, "", nil); code != 0 || out != "lo\n" {
		t.Errorf("--no-network: interfaces %d %q, want lo alone", code, out)
	}
	st, err := s.Get(id)
	if err != nil || !st.LongLived || !st.BootRunning() {
		t.Fatalf("state: %+v %v, want long-lived and running", st, err)
	}
	var rec bootRecord
	if err := readJSON(filepath.Join(st.Dir, bootRecordFile), &rec); err != nil || rec.Pid1 <= 0 {
		t.Fatalf("the supervisor's record: %+v %v", rec, err)
	}
	if err := s.End(id, nil); err != nil {
		t.Fatalf("end: %v", err)
	}
	ended = true
	for _, pid := range []int{rec.Pid1, rec.Supervisor} {
		if b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat")); err == nil && !strings.Contains(string(b), ") Z ") {
			t.Errorf("process %d (%s) is still there after end", pid, strings.Fields(string(b))[1])
		}
	}
	if _, err := os.Stat(st.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the session's directory is still there after end: %v", err)
	}
}
