package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nook-project/nook/internal/phase"
)

// The fault tests stop a nook process at a named step (NOOK_TEST_STOP_AT,
// sandbox.Phase: the process sends itself SIGSTOP there), kill it with
// SIGKILL, and check that nothing is left: no process, no mount, no half
// session or cache entry, and that the next command works.

// stoppedUnder returns the pid of a process that stopped itself at the
// step asked for (a thread named "nook-stopped", see sandbox.Phase) among
// root and its descendants.
func stoppedUnder(root int) int {
	parent := map[int]int{}
	ents, _ := os.ReadDir("/proc")
	for _, d := range ents {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		if i := strings.LastIndexByte(s, ')'); i > 0 {
			if f := strings.Fields(s[i+2:]); len(f) > 1 {
				parent[pid], _ = strconv.Atoi(f[1])
			}
		}
	}
	for pid := range parent {
		p := pid
		for p > 1 && p != root {
			p = parent[p]
		}
		if p != root {
			continue
		}
		comms, _ := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/comm")
		for _, c := range comms {
			if b, _ := os.ReadFile(c); strings.TrimSpace(string(b)) == "nook-stopped" {
				return pid
			}
		}
	}
	return 0
}

// killAt runs nook with args, stops it at stage, kills the stopped
// process, waits for nook and everything it started to be gone, and
// returns which pid was killed and whether it was nook itself.
func killAt(t *testing.T, env []string, stage string, args ...string) {
	t.Helper()
	if !phase.TestHooks {
		t.Skip("SKIPPED LOUDLY: built without -tags nooktest, so nook ignores NOOK_TEST_STOP_AT (test/all.sh builds with it)")
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	defer unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
	cmd := exec.Command(nookBin, args...)
	cmd.Dir = "/"
	cmd.Env = append(append([]string{}, env...), "NOOK_TEST_STOP_AT="+stage)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	victim := 0
	for deadline := time.Now().Add(20 * time.Second); victim == 0; {
		if victim = stoppedUnder(cmd.Process.Pid); victim != 0 {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("nook %s ended (%v) without reaching step %q", strings.Join(args, " "), err, stage)
		default:
		}
		if time.Now().After(deadline) {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			t.Fatalf("nook %s never stopped at %q", strings.Join(args, " "), stage)
		}
		time.Sleep(5 * time.Millisecond)
	}
	syscall.Kill(victim, syscall.SIGKILL)
	if victim != cmd.Process.Pid {
		// A child was killed: nook itself must notice and end.
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			t.Fatalf("nook did not end after its child (pid %d) was killed at %q", victim, stage)
		}
	} else {
		<-done
	}
	// Everything nook started comes to this subreaper when orphaned; all
	// of it must die (parent-death signals), none may linger.
	for deadline := time.Now().Add(10 * time.Second); ; {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err != nil { // ECHILD: nothing left
			break
		}
		if pid == 0 {
			if onlyHolders() {
				// A session's user namespace holder outlives the
				// command by design (session.holdIdle); session end
				// stops it.
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("processes of nook still alive 10 s after it was killed at %q", stage)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// onlyHolders: every live child of this process is a user namespace
// holder (sandbox.UserNSHolder), by its argv[0].
func onlyHolders() bool {
	tasks, _ := filepath.Glob("/proc/self/task/*/children")
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		for _, pid := range strings.Fields(string(b)) {
			cmdline, _ := os.ReadFile("/proc/" + pid + "/cmdline")
			if st, _ := os.ReadFile("/proc/" + pid + "/stat"); strings.Contains(string(st), ") Z ") {
				return false // to be reaped first
			}
			if arg0, _, _ := strings.Cut(string(cmdline), "\x00"); arg0 != "nook-userns-holder" {
				return false
			}
		}
	}
	return true
}

// checkClean: no mount of the test on the host, every listed session
// whole, every cache entry complete.
func (e *sessionEnv) checkClean(t *testing.T, mounts0 int, stage string) {
	t.Helper()
	if m := mountCount(t); m != mounts0 {
		t.Errorf("after a kill at %q: %d host mounts, %d before", stage, m, mounts0)
	}
	checkNoMountsUnder(t, e.dir)
	var list []map[string]any
	json.Unmarshal([]byte(e.must("session", "list", "--json")), &list)
	for _, s := range list {
		if s["damaged"] == true || s["chroot"] == "" {
			t.Errorf("after a kill at %q a half session is listed: %v", stage, s)
		}
	}
}

func TestFaultKillDuringRun(t *testing.T) {
	e := newSessionEnv(t)
	mounts0 := mountCount(t)
	stages := []string{"main", "start", "identity", "pipes", "compiled", "forked", "started"}
	initStages := []string{"fork", "forked", "spec sent", "init runs", "init has spec", "init set up", "init staged", "init pivoted"}
	for _, c := range []struct {
		engine string
		stages []string
	}{{"", stages}, {"init", initStages}} {
		for _, stage := range c.stages {
			t.Run(c.engine+"/"+stage, func(t *testing.T) {
				// Each list names the steps of its own engine, whatever
				// engine the suite as a whole is forced to.
				var env []string
				for _, kv := range e.env {
					if !strings.HasPrefix(kv, "NOOK_ENGINE=") {
						env = append(env, kv)
					}
				}
				if c.engine != "" {
					env = append(env, "NOOK_ENGINE="+c.engine)
				}
				killAt(t, env, stage, "run", "--unshare-pid", "--", "sleep", "60")
				e.checkClean(t, mounts0, stage)
				if out := e.must("run", "--", "echo", "again"); out != "again\n" {
					t.Errorf("the next nook run: %q", out)
				}
			})
		}
	}
}

func TestFaultKillDuringSession(t *testing.T) {
	e := newSessionEnv(t)
	e.busyboxChroot("bb")
	mounts0 := mountCount(t)
	// begin, from a cold cache, stopped at each step.
	for _, stage := range []string{"helper: unpacking", "unpack: complete", "begin: cache ready", "begin: directory made", "begin: state written"} {
		t.Run("begin/"+stage, func(t *testing.T) {
			e.nook("cache", "prune")
			killAt(t, e.env, stage, "session", "begin", "bb")
			e.checkClean(t, mounts0, stage)
			// The next begin works and sees the whole chroot (a killed
			// unpack is never taken for complete).
			id := strings.TrimSpace(e.must("session", "begin", "bb"))
			if out := e.must("session", "run", id, "--", "sh", "-c", "ls /bin | wc -l; cat /etc/passwd"); !strings.HasSuffix(out, "root:x:0:0:root:/root:/bin/sh\n") || strings.HasPrefix(out, "0") {
				t.Errorf("session after a killed begin: %q", out)
			}
			e.must("session", "end", id)
			if out := e.must("session", "list"); out != "" {
				t.Errorf("sessions left: %q", out)
			}
		})
	}
	// run, stopped at each step of a command in a session.
	id := strings.TrimSpace(e.must("session", "begin", "bb"))
	runStages := []string{"run: locked", "start", "forked", "started"}
	e.must("session", "run", id, "--", "true")
	if _, err := os.Stat(filepath.Join(e.dir, "state/nook/sessions", id, "userns")); err == nil {
		// With subordinate ids the session keeps a user namespace.
		runStages = append(runStages, "run: user namespace")
	}
	for _, stage := range runStages {
		t.Run("run/"+stage, func(t *testing.T) {
			killAt(t, e.env, stage, "session", "run", id, "--", "sleep", "60")
			e.checkClean(t, mounts0, stage)
			if out := e.must("session", "run", id, "--", "echo", "next"); out != "next\n" {
				t.Errorf("the next command: %q", out)
			}
		})
	}
	e.must("session", "end", id)
	// end, stopped at each step: the session is gone or still whole, and
	// a second end (or the next begin) finishes the job.
	endStages := []string{"end: renamed", "helper: removing"}
	if os.Getuid() == 0 {
		// Real root deletes a session's tree itself; no helper runs.
		endStages = endStages[:1]
	}
	for _, stage := range endStages {
		t.Run("end/"+stage, func(t *testing.T) {
			id := strings.TrimSpace(e.must("session", "begin", "bb"))
			e.must("session", "run", id, "--", "touch", "/root/x")
			killAt(t, e.env, stage, "session", "end", id)
			e.checkClean(t, mounts0, stage)
			e.nook("session", "end", id) // may say it is gone already
			id2 := strings.TrimSpace(e.must("session", "begin", "bb"))
			e.must("session", "end", id2)
			ents, _ := os.ReadDir(e.dir + "/state/nook/sessions")
			for _, d := range ents {
				if d.Name() != ".lock" {
					t.Errorf("left in the sessions directory after a kill at %q and the next begin: %s", stage, d.Name())
				}
			}
		})
	}
}
