package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// loadRuns is the number of sequential commands of the load tests:
// NOOK_LOAD_RUNS, default 100 (the figures in the notes use 1000).
func loadRuns() int {
	if v, err := strconv.Atoi(os.Getenv("NOOK_LOAD_RUNS")); err == nil && v > 0 {
		return v
	}
	if testing.Short() {
		return 10
	}
	return 100
}

// TestLoadConcurrentBegins: 32 sessions of one chroot begun at once on a
// cold cache unpack it once, and every session is whole.
func TestLoadConcurrentBegins(t *testing.T) {
	e := newSessionEnv(t)
	e.busyboxChroot("bb")
	const n = 32
	ids := make([]string, n)
	errs := make(chan string, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			out, errOut, code := e.nook("session", "begin", "bb")
			if code != 0 {
				errs <- fmt.Sprintf("begin %d: exit %d: %s", i, code, errOut)
				return
			}
			ids[i] = strings.TrimSpace(out)
			out, errOut, code = e.nook("session", "run", ids[i], "--", "sh", "-c", "cat /etc/passwd; ls /bin | wc -l >/dev/null; touch /root/mine-"+strconv.Itoa(i)+"; ls /root")
			if code != 0 || out != "root:x:0:0:root:/root:/bin/sh\nmine-"+strconv.Itoa(i)+"\n" {
				errs <- fmt.Sprintf("session %d: exit %d, %q, %s", i, code, out, errOut)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	var entries []map[string]any
	json.Unmarshal([]byte(e.must("cache", "list", "--json")), &entries)
	if len(entries) != 1 {
		t.Errorf("%d cache entries after %d concurrent begins of one tarball, want 1: %v", len(entries), n, entries)
	}
	var wg2 sync.WaitGroup
	for _, id := range ids {
		if id == "" {
			continue
		}
		wg2.Add(1)
		go func(id string) {
			defer wg2.Done()
			if _, errOut, code := e.nook("session", "end", id); code != 0 {
				t.Errorf("end %s: %d %s", id, code, errOut)
			}
		}(id)
	}
	wg2.Wait()
	if out := e.must("session", "list"); out != "" {
		t.Errorf("sessions left: %q", out)
	}
	var left []string
	ents, _ := os.ReadDir(filepath.Join(e.dir, "state", "nook", "sessions"))
	for _, d := range ents {
		if d.Name() != ".lock" { // the store's own lock file stays
			left = append(left, d.Name())
		}
	}
	if len(left) != 0 {
		t.Errorf("session directories left: %v", left)
	}
	checkNoMountsUnder(t, e.dir)
}

// TestLoadParallelRunsInOneSession: 32 commands started at once in one
// session run one at a time (an overlay's upper directory must not be in
// two live mounts), so a read-modify-write of one file loses nothing.
func TestLoadParallelRunsInOneSession(t *testing.T) {
	e := newSessionEnv(t)
	e.busyboxChroot("bb")
	id := strings.TrimSpace(e.must("session", "begin", "bb"))
	const n = 32
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, errOut, code := e.nook("session", "run", id, "--", "sh", "-c", "n=$(cat /root/c 2>/dev/null || echo 0); sleep 0.01; echo $((n+1)) > /root/c"); code != 0 {
				t.Errorf("run: %d %s", code, errOut)
			}
		}()
	}
	wg.Wait()
	if out := e.must("session", "run", id, "--", "cat", "/root/c"); out != strconv.Itoa(n)+"\n" {
		t.Errorf("counter after %d parallel commands: %q", n, out)
	}
	e.must("session", "end", id)
}

// TestLoadSequential: many `nook run` and `nook session run` commands one
// after another leave no process, mount or file behind them.
func TestLoadSequential(t *testing.T) {
	e := newSessionEnv(t)
	e.busyboxChroot("bb")
	id := strings.TrimSpace(e.must("session", "begin", "bb"))
	e.must("session", "run", id, "--", "true")
	// Orphans of the commands would come to this process: a leaked
	// sandbox process shows as a child of the test.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	defer unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
	procs0, mounts0, fds0 := ownChildren(t), mountCount(t), fdCount(t)
	n := loadRuns()
	for i := 0; i < n; i++ {
		if _, errOut, code := e.nook("run", "--", "true"); code != 0 {
			t.Fatalf("nook run %d: %d %s", i, code, errOut)
		}
		if _, errOut, code := e.nook("session", "run", id, "--", "true"); code != 0 {
			t.Fatalf("session run %d: %d %s", i, code, errOut)
		}
	}
	procs1, mounts1, fds1 := ownChildren(t), mountCount(t), fdCount(t)
	t.Logf("%d nook run and %d session run: processes %d->%d, host mounts %d->%d, test fds %d->%d", n, n, procs0, procs1, mounts0, mounts1, fds0, fds1)
	if procs1 > procs0 || mounts1 != mounts0 || fds1 > fds0 {
		t.Errorf("after %d commands: processes %d->%d, mounts %d->%d, fds %d->%d", 2*n, procs0, procs1, mounts0, mounts1, fds0, fds1)
	}
	ents, _ := os.ReadDir(filepath.Join(e.dir, "state", "nook", "sessions", id))
	var names []string
	for _, d := range ents {
		names = append(names, d.Name())
	}
	// userns: the record of the session's user namespace holder, with
	// subordinate ids (session.holdIdle).
	if got := strings.Join(names, " "); got != "lock mnt state.json upper work" && got != "lock mnt state.json upper userns work" {
		t.Errorf("the session directory holds %v after the commands", names)
	}
	e.must("session", "end", id)
}

// ownChildren counts the test process's children (with it a subreaper,
// every orphan of what it started).
func ownChildren(t *testing.T) int {
	t.Helper()
	tasks, _ := filepath.Glob("/proc/self/task/*/children")
	n := 0
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		n += len(strings.Fields(string(b)))
	}
	return n
}

func mountCount(t *testing.T) int {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "\n")
}

func fdCount(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func checkNoMountsUnder(t *testing.T, dir string) {
	t.Helper()
	b, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(b), dir) {
		t.Errorf("mounts under %s left on the host:\n%s", dir, b)
	}
}
