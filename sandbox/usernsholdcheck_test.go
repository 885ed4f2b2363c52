package sandbox

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// nsOf is the user namespace an fd or /proc path names ("user:[N]").
func nsOfFd(t *testing.T, fd int) string {
	t.Helper()
	l, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func heldNS(t *testing.T, h *UserNSHolder) (holderRecord, string) {
	t.Helper()
	rec, err := readHolderFile(h.File)
	if err != nil {
		t.Fatal(err)
	}
	ns, err := os.Readlink("/proc/" + strconv.Itoa(rec.pid) + "/ns/user")
	if err != nil {
		t.Fatal(err)
	}
	return rec, ns
}

func holderAlive(rec holderRecord) bool {
	start, state, err := procStat(rec.pid)
	return err == nil && start == rec.start && state != 'Z' && state != 'X'
}

// TestHeldUserNSOfAnotherRecord (issue 16, point 5): a record rewritten to
// name another record's holder — a live holder of the same user with the
// same maps, which passed every check before — is not entered, nor is a
// process that claims to be this record's holder from inside a sandbox
// (its argv says so, its user namespace is a held one), and ending the
// session does not kill the other record's holder.
func TestHeldUserNSOfAnotherRecord(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	ident := Identity{Mode: "root", UserNS: UserNSAlways}
	a := &UserNSHolder{File: filepath.Join(dir, "a"), Idle: time.Minute}
	b := &UserNSHolder{File: filepath.Join(dir, "b"), Idle: time.Minute}
	defer a.Stop()
	defer b.Stop()
	fdA, _, err := a.Enter(ident)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fdA)
	recA, nsA := heldNS(t, a)
	fd, _, err := b.Enter(ident)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)

	t.Run("another record's holder", func(t *testing.T) {
		copyFile(t, a.File, b.File)
		fd, started, err := b.Enter(ident)
		if err != nil {
			t.Fatal(err)
		}
		got := nsOfFd(t, fd)
		unix.Close(fd)
		if got == nsA || !started {
			t.Errorf("b's record, rewritten to name a's holder, was entered (namespace %s, a's %s, started %v)", got, nsA, started)
		}
		// Ending b with the rewritten record must not end a's holder.
		copyFile(t, a.File, b.File)
		if err := b.Stop(); err != nil {
			t.Fatal(err)
		}
		if !holderAlive(recA) {
			t.Errorf("ending b killed a's holder %d, which b's rewritten record named", recA.pid)
		}
	})

	t.Run("a holder claimed from inside a sandbox", func(t *testing.T) {
		// The attacker's process: nook's own holder code, started in a
		// sandbox (no pid namespace, so it shares this one) that runs
		// right in a's held namespace (it joins it, as bwrap's --userns
		// does), so its user namespace passes the parent, owner and map
		// checks, and with b's record path and a token of its choosing in
		// its argv. Only its mount namespace gives it away.
		token, err := holderToken()
		if err != nil {
			t.Fatal(err)
		}
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		s := baseSpec()
		s.Namespaces.PID = false
		s.Mounts = slices.DeleteFunc(s.Mounts, func(m Mount) bool { return m.Op == OpProc })
		s.JoinUserNS = &fdA
		s.NoIDMaps = true
		s.Mounts = append(s.Mounts, Mount{Op: OpBind, Source: exe, Dest: exe, ReadOnly: true},
			Mount{Op: OpBind, Source: dir, Dest: dir})
		s.Args = []string{exe, holderArg1, b.File, "1m", token}
		s.Argv0 = holderArg0
		p, err := Start(s)
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			p.Signal(unix.SIGKILL)
			p.Wait()
		}()
		fake := 0
		for deadline := time.Now().Add(10 * time.Second); fake == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			for _, pid := range findProcesses(token) {
				if b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline"); strings.HasPrefix(string(b), holderArg0+"\x00") {
					fake = pid
				}
			}
		}
		if fake == 0 {
			t.Fatal("the fake holder did not start")
		}
		start, err := procStartTime(fake)
		if err != nil {
			t.Fatal(err)
		}
		if ns, _ := os.Readlink("/proc/" + strconv.Itoa(fake) + "/ns/user"); ns != nsA {
			t.Fatalf("the fake holder's user namespace is %s, not a's %s: the case tests nothing", ns, nsA)
		}
		must(t, writeHolderFile(b.File, holderRecord{pid: fake, start: start, token: token}))
		fd, started, err := b.Enter(ident)
		if err != nil {
			t.Fatal(err)
		}
		got := nsOfFd(t, fd)
		unix.Close(fd)
		if got == nsA || !started {
			t.Errorf("a process in a sandbox claiming to be b's holder was entered (namespace %s, a's %s, started %v)", got, nsA, started)
		}
	})
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	must(t, err)
	must(t, os.WriteFile(to, b, 0o600))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestHeldUserNSRefusing (issue 16, point 4): a held namespace in which a
// user.max_* limit was lowered to 0 refuses every later sandbox (ENOSPC).
// Start ends that holder and makes the sandbox in a fresh one; without the
// holder named it fails with ErrHeldUserNSRefused; and failing tries do not
// keep the refusing holder alive.
func TestHeldUserNSRefusing(t *testing.T) {
	ident := Identity{Mode: "root", UserNS: UserNSAlways}
	h := &UserNSHolder{File: filepath.Join(t.TempDir(), "userns"), Idle: time.Minute}
	defer h.Stop()
	fd, _, err := h.Enter(ident)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	rec, _ := heldNS(t, h)
	// What a process with its capabilities in the held namespace can do
	// (a session command could, before commands were nested): the
	// sysctl belongs to the user namespace of the writer. A sandbox that
	// joins the namespace (bwrap's --userns) runs its command right in it.
	poison := baseSpec()
	poison.JoinUserNS = &fd
	poison.NoIDMaps = true
	poison.Args = []string{"/bin/sh", "-c", "echo 0 > /proc/sys/user/max_mnt_namespaces && cat /proc/sys/user/max_mnt_namespaces"}
	pr, w, err := os.Pipe()
	must(t, err)
	poison.Stdout = w
	st, err := Run(poison)
	w.Close()
	out, _ := io.ReadAll(pr)
	pr.Close()
	if err != nil || st.ExitCode() != 0 || strings.TrimSpace(string(out)) != "0" {
		t.Fatalf("lower the limit inside the held namespace: %v, %+v: %q", err, st, out)
	}
	old := time.Now().Add(-30 * time.Second)
	must(t, os.Chtimes(h.File, old, old))

	// Without the holder named, the refusal is the error, and the try
	// does not restart the holder's idle clock.
	s := baseSpec()
	s.Identity = ident
	s.EnterUserNS = &fd
	_, _, err = tryReport(t, s, reportOpts{})
	if engineForced {
		// The Go init makes a namespace of its own; nothing to refuse.
		if err != nil {
			t.Fatal(err)
		}
		t.Skip("SKIP (NOOK_ENGINE=init): only the raw engine enters a held namespace")
	}
	if !errors.Is(err, ErrHeldUserNSRefused) {
		t.Fatalf("a sandbox in the poisoned namespace: %v, want ErrHeldUserNSRefused", err)
	}
	if fi, err := os.Stat(h.File); err != nil || fi.ModTime().After(old.Add(time.Second)) {
		t.Errorf("a failed start marked the refusing holder used (%v)", err)
	}

	// With the holder named: a fresh holder, the sandbox runs, the
	// refusing holder is gone.
	s = baseSpec()
	s.Identity = ident
	s.EnterUserNS = &fd
	s.HeldUserNS = h
	r, st := runReport(t, s, reportOpts{})
	if st.ExitCode() != 0 {
		t.Fatalf("status %+v", st)
	}
	fresh, _ := heldNS(t, h)
	if fresh.pid == rec.pid {
		t.Fatalf("the refusing holder %d is still recorded", rec.pid)
	}
	if r.UID != 0 {
		t.Errorf("uid %d in the fresh holder's namespace, want 0", r.UID)
	}
	waitGone(t, rec.pid, 5*time.Second)
	if fi, err := os.Stat(h.File); err != nil || time.Since(fi.ModTime()) > 10*time.Second {
		t.Errorf("the fresh holder was not marked used (%v)", err)
	}
}
