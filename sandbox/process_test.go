package sandbox

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestWorkingDirectory(t *testing.T) {
	dir := t.TempDir()
	t.Run("caller's when it exists inside", func(t *testing.T) {
		s := baseSpec()
		s.CallerDir = "/usr/share"
		r, _ := runReport(t, s, reportOpts{})
		if r.Cwd != "/usr/share" {
			t.Errorf("cwd = %q", r.Cwd)
		}
	})
	t.Run("root when the caller's is missing", func(t *testing.T) {
		s := baseSpec()
		s.CallerDir = filepath.Join(dir, "not-inside")
		r, _ := runReport(t, s, reportOpts{})
		if r.Cwd != "/" {
			t.Errorf("cwd = %q, want /", r.Cwd)
		}
	})
	t.Run("explicit", func(t *testing.T) {
		s := baseSpec()
		s.Dir = "/etc"
		r, _ := runReport(t, s, reportOpts{})
		if r.Cwd != "/etc" {
			t.Errorf("cwd = %q", r.Cwd)
		}
	})
	t.Run("explicit missing fails", func(t *testing.T) {
		s := baseSpec()
		s.Dir = "/no/such/dir"
		_, _, err := tryReport(t, s, reportOpts{})
		var se *StartError
		if !errors.As(err, &se) || se.Code != ExitSetupFailed || !strings.Contains(se.Msg, "/no/such/dir") {
			t.Errorf("err = %v, want a setup error naming the directory", err)
		}
	})
}

func TestEnvironmentIsExactlyTheSpecs(t *testing.T) {
	s := baseSpec()
	s.Env = []string{"A=1", "B=two words"}
	r, _ := runReport(t, s, reportOpts{})
	for _, kv := range []string{"A=1", "B=two words"} {
		k, v, _ := strings.Cut(kv, "=")
		if got, ok := r.env(k); !ok || got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	for _, kv := range r.Env {
		if strings.HasPrefix(kv, "HOME=") || strings.HasPrefix(kv, "NOOK_INIT") {
			t.Errorf("unexpected variable inside: %s", kv)
		}
	}
}

func TestExitStatus(t *testing.T) {
	_, st := runReport(t, baseSpec(), reportOpts{exit: 7})
	if st.Code != 7 || st.Signal != 0 || st.ExitCode() != 7 {
		t.Errorf("status = %+v, want exit 7", st)
	}
	for _, pid := range []bool{true, false} {
		s := baseSpec()
		s.Namespaces.PID = pid
		if !pid {
			s.Mounts[2] = Mount{Op: OpBind, Source: "/proc", Dest: "/proc"}
		}
		s.Args = []string{"/bin/sh", "-c", "kill -TERM $$"}
		st, err := Run(s)
		if err != nil {
			t.Fatal(err)
		}
		if st.Signal != unix.SIGTERM || st.ExitCode() != 143 {
			t.Errorf("pid namespace %v: status = %+v, want killed by SIGTERM (143)", pid, st)
		}
	}
}

func TestCommandNotFound(t *testing.T) {
	dir := t.TempDir()
	locked := filepath.Join(dir, "locked")
	os.Mkdir(locked, 0o000)
	notExec := filepath.Join(dir, "plain")
	os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644)
	for _, pid := range []bool{true, false} {
		for _, c := range []struct {
			name string
			arg  string
			path string
			code int
		}{
			{"missing", "nook-no-such-command", "/usr/bin:/bin", ExitNotFound},
			{"missing with unreadable PATH entry", "nook-no-such-command", locked + ":/usr/bin", ExitNotFound},
			{"found after unreadable PATH entry", "true", locked + ":/usr/bin:/bin", 0},
			{"not executable", notExec, "/usr/bin", ExitCannotExecute},
			{"directory", "/etc", "/usr/bin", ExitCannotExecute},
		} {
			t.Run(c.name+" pid="+strconv.FormatBool(pid), func(t *testing.T) {
				s := baseSpec()
				s.Namespaces.PID = pid
				if !pid {
					s.Mounts[2] = Mount{Op: OpBind, Source: "/proc", Dest: "/proc"}
				}
				s.Mounts = append(s.Mounts, Mount{Op: OpBind, Source: dir, Dest: dir})
				s.Args = []string{c.arg}
				s.Env = []string{"PATH=" + c.path}
				st, err := Run(s)
				code := st.ExitCode()
				var se *StartError
				if errors.As(err, &se) {
					code = se.Code
				} else if err != nil {
					t.Fatal(err)
				}
				if code != c.code {
					t.Errorf("exit %d (%v), want %d", code, err, c.code)
				}
			})
		}
	}
}

func TestPassedFds(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	s := baseSpec()
	s.Fds = []FD{{Inside: 7, Outside: int(pw.Fd())}}
	r, _ := runReport(t, s, reportOpts{})
	if !strings.HasPrefix(r.Fds[7], "pipe:") {
		t.Errorf("fd 7 inside = %q, want the pipe", r.Fds[7])
	}
	for fd, what := range r.Fds {
		if fd > 2 && fd != 7 {
			t.Errorf("unexpected fd %d inside: %s (nook's own fds must not leak)", fd, what)
		}
	}
	if _, ok := r.env("LISTEN_FDS"); ok {
		t.Errorf("LISTEN_FDS set without PackFds")
	}
	for _, pid := range []bool{false, true} {
		s = baseSpec()
		s.Namespaces.PID = pid
		if !pid {
			s.Mounts[2] = Mount{Op: OpBind, Source: "/proc", Dest: "/proc"}
		}
		s.Fds = []FD{{Inside: 9, Outside: int(pw.Fd())}, {Inside: 12, Outside: int(pr.Fd())}}
		s.PackFds = true
		r, _ = runReport(t, s, reportOpts{})
		if !strings.HasPrefix(r.Fds[3], "pipe:") || !strings.HasPrefix(r.Fds[4], "pipe:") || len(r.Fds) != 5 {
			t.Errorf("packed fds = %v, want pipes at 3 and 4 only", r.Fds)
		}
		n, _ := r.env("LISTEN_FDS")
		p, _ := r.env("LISTEN_PID")
		if n != "2" || p != strconv.Itoa(r.Pid) {
			t.Errorf("pid ns %v: LISTEN_FDS=%q LISTEN_PID=%q, want 2 and %d", pid, n, p, r.Pid)
		}
	}
}

func TestPID1(t *testing.T) {
	r, _ := runReport(t, baseSpec(), reportOpts{})
	if r.Pid == 1 || r.PPid != 1 {
		t.Errorf("pid %d ppid %d, want the command under nook's pid 1", r.Pid, r.PPid)
	}
	s := baseSpec()
	s.AsPID1 = true
	r, _ = runReport(t, s, reportOpts{})
	if r.Pid != 1 {
		t.Errorf("pid %d with AsPID1, want 1", r.Pid)
	}
}

// TestPID1Unreachable: the command keeps every capability inside its user
// namespace, and nook's pid 1 lives in the same namespaces. On the raw
// engine pid 1's memory is its own, non-dumpable and owned by the host's
// user namespace, so the command can neither trace it nor read it; on the
// Go init (the fallback) pid 1 holds no capability on any thread, so
// tracing it gains nothing. Killing it from inside is ignored (pid 1).
func TestPID1Unreachable(t *testing.T) {
	r, st := runReport(t, baseSpec(), reportOpts{do: []string{"ptrace:1", "read:/proc/1/environ", "kill:1", "pid1threads:1"}})
	if st.ExitCode() != 0 {
		t.Fatalf("status %+v", st)
	}
	if engineForced {
		// Every thread: capabilities are per thread, and the command
		// may attach to any of the Go init's.
		if r.Do["pid1threads:1"] != "ok" {
			t.Errorf("the Go init's pid 1 holds capabilities: %s", r.Do["pid1threads:1"])
		}
	} else if !isRoot() {
		// (Real root makes no user namespace: the command is the host's
		// root with every capability, a sandbox only by convention.)
		for _, a := range []string{"ptrace:1", "read:/proc/1/environ"} {
			if r.Do[a] == "ok" {
				t.Errorf("%s worked from inside the sandbox; pid 1 must be unreachable", a)
			}
		}
	}
}

// TestPID1CapDrop: the Go init's pid 1 under a command that keeps
// CAP_SYS_PTRACE but not CAP_SYS_ADMIN. The command may attach to pid 1
// (it holds CAP_SYS_PTRACE in pid 1's user namespace), so no thread of pid
// 1 may keep CAP_SYS_ADMIN, in any set: the bounding set too, since an exec
// from a thread gives uid 0 all of that thread's. Where pid 1 cannot reach
// its other threads (a program built with cgo) the sandbox must fail
// closed: refused before the command starts, or the command in a user
// namespace below pid 1's, from which pid 1 cannot be traced.
func TestPID1CapDrop(t *testing.T) {
	t.Setenv("NOOK_ENGINE", "init")
	s := baseSpec()
	s.Caps.Drop = []string{"CAP_SYS_ADMIN"}
	r, st, err := tryReport(t, s, reportOpts{do: []string{"pid1threads:1", "ptrace:1"}})
	var se *StartError
	switch {
	case err != nil && !allThreadsSyscall() && errors.As(err, &se) && se.Code == ExitSetupFailed && strings.Contains(se.Msg, "cgo"):
		t.Logf("cgo build: refused, as it must be: %v", err)
	case err != nil:
		t.Fatalf("run reporter: %v", err)
	case st.ExitCode() != 0:
		t.Fatalf("status %+v", st)
	case r.Do["pid1threads:1"] == "ok":
	case !allThreadsSyscall() && r.Do["ptrace:1"] != "ok":
		t.Logf("cgo build: pid 1's other threads keep capabilities, but the command cannot attach: %s", r.Do["ptrace:1"])
	default:
		t.Errorf("the command (no CAP_SYS_ADMIN, CAP_SYS_PTRACE kept) can reach a pid 1 that holds more: %s; ptrace: %s",
			r.Do["pid1threads:1"], r.Do["ptrace:1"])
	}
}

func TestPIDNamespaceLeavesNothing(t *testing.T) {
	marker := "nook-orphan-" + strconv.Itoa(os.Getpid())
	s := baseSpec()
	// The orphan holds no fd of ours (so nothing waits on it) and would
	// sleep for ten minutes.
	s.Args = []string{"/bin/sh", "-c", "exec 3>&- ; (exec -a " + marker + " sleep 600 </dev/null >/dev/null 2>&1 &) ; exit 5"}
	start := time.Now()
	st, err := Run(s)
	if err != nil {
		t.Fatal(err)
	}
	if st.ExitCode() != 5 {
		t.Errorf("status %+v, want 5", st)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("took %v: something waited for the orphan", d)
	}
	if pids := findProcesses(marker); len(pids) > 0 {
		t.Errorf("processes of the sandbox survived: %v", pids)
	}
}

func findProcesses(marker string) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if strings.Contains(string(b), marker) {
			out = append(out, pid)
		}
	}
	return out
}

func TestSessionAndGroup(t *testing.T) {
	r, _ := runReport(t, baseSpec(), reportOpts{})
	mySid, _ := unix.Getsid(0)
	if r.Sid == r.Pid {
		t.Errorf("command is a session leader without NewSession")
	}
	_ = mySid
	s := baseSpec()
	s.NewSession = true
	s.AsPID1 = true
	r, _ = runReport(t, s, reportOpts{})
	if r.Sid != r.Pid {
		t.Errorf("sid %d pid %d: NewSession did not make a new session", r.Sid, r.Pid)
	}
}

func TestUmaskKept(t *testing.T) {
	old := unix.Umask(0o027)
	defer unix.Umask(old)
	r, _ := runReport(t, baseSpec(), reportOpts{})
	if r.Umask != 0o027 {
		t.Errorf("umask inside %o, want 027", r.Umask)
	}
}

// TestSignalAfterSetsid: a command that leaves the sandbox's process group
// (setsid) no longer gets the group's copy of a forwarded signal; pid 1
// passes it on.
func TestSignalAfterSetsid(t *testing.T) {
	s := baseSpec()
	s.Args = []string{"/bin/sh", "-c", `exec setsid sh -c 'trap "exit 7" TERM; echo ready; while :; do sleep 0.05; done'`}
	s.Env = []string{"PATH=/usr/bin:/bin"}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	s.Stdout = pw
	p, err := Start(s)
	pw.Close()
	if err != nil {
		t.Fatal(err)
	}
	line := make([]byte, 6)
	if _, err := io.ReadFull(pr, line); err != nil || string(line) != "ready\n" {
		t.Fatalf("read %q, %v", line, err)
	}
	timer := time.AfterFunc(20*time.Second, func() { unix.Kill(p.Pid, unix.SIGKILL) })
	defer timer.Stop()
	if err := p.Signal(unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	st, err := p.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if st.ExitCode() != 7 {
		t.Errorf("status %+v, want 7: SIGTERM did not reach the command after setsid", st)
	}
}

// TestPID1MemNeverOpens: the command starts as early as it can and opens
// pid 1's memory read-write at once. pid 1 must have become non-dumpable
// before the command existed: the kernel checks at open, and a handle won
// in a window before the flag would outlive it (on the raw engine pid 1's
// memory is a copy of nook's). Repeated, since a window is a race.
func TestPID1MemNeverOpens(t *testing.T) {
	if isRoot() {
		t.Skip("real root makes no user namespace and may open anything anyway")
	}
	for i := 0; i < 40; i++ {
		s := baseSpec()
		s.Args = []string{"/bin/sh", "-c", "exec 3<>/proc/1/mem 2>/dev/null && echo OPENED; exit 0"}
		s.Env = []string{"PATH=/usr/bin:/bin"}
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		s.Stdout = pw
		p, err := Start(s)
		pw.Close()
		if err != nil {
			pr.Close()
			t.Fatal(err)
		}
		out, _ := io.ReadAll(pr)
		pr.Close()
		p.Wait()
		if strings.Contains(string(out), "OPENED") {
			t.Fatalf("run %d: the command opened /proc/1/mem read-write", i)
		}
	}
}
