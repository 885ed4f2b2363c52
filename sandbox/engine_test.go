package sandbox

import (
	"errors"
	"fmt"
	"golang.org/x/sys/unix"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// engineForced is set when the whole suite runs with the Go init only
// (test/all.sh runs this package a second time so).
var engineForced = os.Getenv("NOOK_ENGINE") == "init"

// startTrue starts /bin/true (or a shell line) in s and returns the engine
// that set it up and the exit code.
func startEngine(t *testing.T, s *Spec, args ...string) (string, int) {
	t.Helper()
	if len(args) == 0 {
		args = []string{"true"}
	}
	s.Args = args
	s.Env = []string{"PATH=/usr/bin:/bin"}
	p, err := Start(s)
	if err != nil {
		t.Fatalf("start %v: %v", args, err)
	}
	st, err := p.Wait()
	if err != nil {
		t.Fatalf("wait: %v", err)
	}
	return p.Engine, st.ExitCode()
}

// noPivotRootSpec is baseSpec with NoPivotRoot (the Go init's MS_MOVE +
// chroot, which takes CAP_SYS_ADMIN and CAP_SYS_CHROOT from the command).
// In a build with cgo the Go init's pid 1 cannot drop those on its other
// threads, so it refuses a command that keeps CAP_SYS_PTRACE
// (TestFallbackDropsChrootEscapes): such a command drops that too.
func noPivotRootSpec() *Spec {
	s := baseSpec()
	s.NoPivotRoot = true
	if !allThreadsSyscall() {
		s.Caps.Drop = append(s.Caps.Drop, "CAP_SYS_PTRACE")
	}
	return s
}

func wantEngine(t *testing.T, got, want string) {
	t.Helper()
	if engineForced {
		want = "init"
	}
	if got != want {
		t.Errorf("engine %q, want %q", got, want)
	}
}

// TestEngineChoice: the common specs run on the raw engine (no second Go
// runtime); what it cannot express goes to the Go init, decided either up
// front or by the child before anything of the command ran.
func TestEngineChoice(t *testing.T) {
	t.Run("base", func(t *testing.T) {
		e, code := startEngine(t, baseSpec())
		wantEngine(t, e, "raw")
		if code != 0 {
			t.Errorf("exit %d", code)
		}
	})
	t.Run("full isolation with binds, symlinks, dirs, remount-ro", func(t *testing.T) {
		s := baseSpec()
		s.Namespaces = Namespaces{PID: true, Net: true, IPC: true, UTS: true, Cgroup: true}
		s.Hostname = "engine"
		dir := t.TempDir()
		s.Mounts = append(s.Mounts,
			// Under /tmp (the spec's tmpfs): a mount point in the host's
			// read-only / would need the Go init on a host without /work.
			Mount{Op: OpBind, Source: dir, Dest: "/tmp/work"},
			Mount{Op: OpDir, Dest: "/tmp/a/b"},
			Mount{Op: OpSymlink, Source: "a/b", Dest: "/tmp/link"},
			Mount{Op: OpMqueue, Dest: "/dev/mqueue"},
			Mount{Op: OpRemountRO, Dest: "/tmp/work"},
		)
		e, code := startEngine(t, s, "sh", "-c", `test "$(hostname)" = engine && test -d /tmp/link && ! touch /tmp/work/x 2>/dev/null`)
		wantEngine(t, e, "raw")
		if code != 0 {
			t.Errorf("exit %d: hostname, symlink or read-only /tmp/work not as asked", code)
		}
	})
	t.Run("overlays", func(t *testing.T) {
		lower, upper, work := t.TempDir(), t.TempDir(), t.TempDir()
		if err := os.WriteFile(filepath.Join(lower, "l"), []byte("lower\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		s := baseSpec()
		s.Mounts = append(s.Mounts,
			Mount{Op: OpOverlay, Dest: "/tmp/t", Lower: []string{lower}, TmpfsUpper: true},
			Mount{Op: OpOverlay, Dest: "/tmp/h", Lower: []string{lower}, Upper: upper, Work: work},
		)
		e, code := startEngine(t, s, "sh", "-c", "grep -qx lower /tmp/t/l && echo t > /tmp/t/new && echo h > /tmp/h/new")
		wantEngine(t, e, "raw")
		if code != 0 {
			t.Errorf("exit %d", code)
		}
		if b, err := os.ReadFile(filepath.Join(upper, "new")); err != nil || string(b) != "h\n" {
			t.Errorf("host upper has %q, %v; want the file written through the overlay", b, err)
		}
		if _, err := os.Stat(filepath.Join(lower, "new")); err == nil {
			t.Errorf("the lower directory was written to")
		}
	})
	t.Run("write", func(t *testing.T) {
		s := baseSpec()
		s.Mounts = append(s.Mounts, Mount{Op: OpWrite, Dest: "/tmp/f", Data: []byte("x")})
		e, code := startEngine(t, s, "grep", "-qx", "x", "/tmp/f")
		wantEngine(t, e, "raw")
		if code != 0 {
			t.Errorf("exit %d", code)
		}
	})
	t.Run("chmod", func(t *testing.T) {
		s := baseSpec()
		s.Mounts = append(s.Mounts, Mount{Op: OpDir, Dest: "/tmp/d"}, Mount{Op: OpChmod, Dest: "/tmp/d", Mode: u32(0o700)})
		e, code := startEngine(t, s, "sh", "-c", `test "$(stat -c %a /tmp/d)" = 700`)
		wantEngine(t, e, "raw")
		if code != 0 {
			t.Errorf("exit %d", code)
		}
	})
	t.Run("no pivot_root needs the Go init", func(t *testing.T) {
		s := noPivotRootSpec()
		e, code := startEngine(t, s, "true")
		wantEngine(t, e, "init")
		if code != 0 {
			t.Errorf("exit %d", code)
		}
	})
	t.Run("mount point under a read-only bind falls back at run time", func(t *testing.T) {
		name := "/nook-engine-" + filepath.Base(t.TempDir())
		if _, err := os.Stat(name); err == nil {
			t.Skipf("%s exists on the host", name)
		}
		s := baseSpec()
		s.Mounts = append(s.Mounts, Mount{Op: OpTmpfs, Dest: name})
		e, code := startEngine(t, s, "test", "-d", name)
		wantEngine(t, e, "init")
		if code != 0 {
			t.Errorf("exit %d", code)
		}
		if _, err := os.Stat(name); err == nil {
			t.Errorf("%s was created on the host", name)
		}
	})
	t.Run("command not found", func(t *testing.T) {
		s := baseSpec()
		s.Args = []string{"nook-no-such-command"}
		s.Env = []string{"PATH=/usr/bin:/bin"}
		_, err := Start(s)
		se, ok := err.(*StartError)
		if !ok || se.Code != ExitNotFound || !strings.Contains(se.Msg, "nook-no-such-command: command not found") {
			t.Errorf("got %v, want a 127 StartError", err)
		}
	})
}

// TestConcurrentPID1: while one sandbox's pid 1 runs, others still start,
// on the raw engine and the Go init, and the process stays dumpable as it
// was.
func TestConcurrentPID1(t *testing.T) {
	before, err := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	a := baseSpec()
	a.Args = []string{"/bin/sh", "-c", "cat >/dev/null"}
	a.Env = []string{"PATH=/usr/bin:/bin"}
	a.Stdin = pr
	pa, err := Start(a)
	pr.Close()
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		e, code := startEngine(t, baseSpec(), "true")
		wantEngine(t, e, "raw")
		if code != 0 {
			t.Errorf("second sandbox: exit %d", code)
		}
	}
	// One that needs the Go init, too.
	w := noPivotRootSpec()
	if e, code := startEngine(t, w, "true"); code != 0 || e != "init" {
		t.Errorf("a sandbox on the Go init beside a running one: engine %s, exit %d", e, code)
	}
	pw.Close()
	if st, err := pa.Wait(); err != nil || st.ExitCode() != 0 {
		t.Errorf("first sandbox: %+v, %v", st, err)
	}
	after, err := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Errorf("dumpable %d after the sandboxes, %d before", after, before)
	}
}

// TestNoLeaksOverManyRuns: many sandboxes started one after another from
// one process leave its fds, goroutines, children, memory and the host's
// mounts as they were, on both engines and with and without pid 1.
// NOOK_LOAD_RUNS sets the number of rounds (two sandboxes each; default
// 100, the load figures in the notes use 500).
func TestNoLeaksOverManyRuns(t *testing.T) {
	type counts struct {
		fds, goroutines, progs, children, mounts int
		heap                                     uint64
	}
	count := func() counts {
		var c counts
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		c.fds = len(ents)
		liveProgs.Range(func(any, any) bool { c.progs++; return true })
		c.goroutines = runtime.NumGoroutine()
		tasks, _ := filepath.Glob("/proc/self/task/*/children")
		for _, f := range tasks {
			b, _ := os.ReadFile(f)
			c.children += len(strings.Fields(string(b)))
		}
		mi, _ := os.ReadFile("/proc/self/mountinfo")
		c.mounts = strings.Count(string(mi), "\n")
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		c.heap = ms.HeapInuse
		return c
	}
	run := func() {
		for i, s := range []*Spec{baseSpec(), baseSpec()} {
			if i == 1 {
				s.Namespaces.PID = false
				s.Mounts = s.Mounts[:1]
			}
			s.Args = []string{"true"}
			s.Env = []string{"PATH=/usr/bin:/bin"}
			if st, err := Run(s); err != nil || st.ExitCode() != 0 {
				t.Fatalf("run: %+v, %v", st, err)
			}
		}
	}
	for i := 0; i < 5; i++ {
		run() // warm up: the runtime's own fds, goroutines and heap
	}
	time.Sleep(50 * time.Millisecond)
	c0 := count()
	n := 100
	if v, err := strconv.Atoi(os.Getenv("NOOK_LOAD_RUNS")); err == nil && v > 0 {
		n = v
	}
	if testing.Short() {
		n = 10
	}
	for i := 0; i < n; i++ {
		run()
	}
	time.Sleep(100 * time.Millisecond)
	c1 := count()
	t.Logf("%d sandboxes: fds %d->%d, goroutines %d->%d, children %d->%d, mounts %d->%d, heap %d->%d KiB",
		2*n, c0.fds, c1.fds, c0.goroutines, c1.goroutines, c0.children, c1.children, c0.mounts, c1.mounts, c0.heap>>10, c1.heap>>10)
	if c1.fds > c0.fds {
		t.Errorf("open fds grew from %d to %d over %d runs", c0.fds, c1.fds, 2*n)
	}
	if c1.goroutines > c0.goroutines+2 {
		t.Errorf("goroutines grew from %d to %d over %d runs", c0.goroutines, c1.goroutines, 2*n)
	}
	if c1.progs != 0 {
		t.Errorf("%d raw programs still held after every sandbox was reaped", c1.progs)
	}
	if c1.children != c0.children {
		t.Errorf("child processes %d before, %d after", c0.children, c1.children)
	}
	if c1.mounts != c0.mounts {
		t.Errorf("the host's mount table had %d lines before, %d after", c0.mounts, c1.mounts)
	}
	// A leak of even a few hundred bytes a sandbox shows over hundreds of
	// them; the allowance is for the runtime's own caches.
	if c1.heap > c0.heap+2<<20 {
		t.Errorf("heap in use grew from %d KiB to %d KiB over %d runs", c0.heap>>10, c1.heap>>10, 2*n)
	}
}

// TestConcurrentStarts: sandboxes started from several goroutines at once,
// with and without pid 1, all start (none finds the process in a state
// that breaks its id maps), and the process stays as dumpable as it was.
func TestConcurrentStarts(t *testing.T) {
	before, _ := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
	errs := make(chan error, 64)
	var wg sync.WaitGroup
	for g := 0; g < 6; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 8; i++ {
				s := baseSpec()
				if (g+i)%2 == 1 {
					s.Namespaces.PID = false
					s.Mounts = s.Mounts[:1]
				}
				s.Args = []string{"true"}
				s.Env = []string{"PATH=/usr/bin:/bin"}
				st, err := Run(s)
				if err == nil && st.ExitCode() != 0 {
					err = fmt.Errorf("exit %d", st.ExitCode())
				}
				if err != nil {
					errs <- fmt.Errorf("goroutine %d, start %d: %w", g, i, err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if after, _ := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0); after != before {
		t.Errorf("dumpable %d after, %d before", after, before)
	}
}

// TestIDSwitchLeavesCallerDumpable: a sandbox that switches uid (here as
// real root, or in a subordinate-id mode) must not do so on memory it
// shares with the caller: the kernel would make the caller non-dumpable.
func TestIDSwitchLeavesCallerDumpable(t *testing.T) {
	before, _ := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
	s := baseSpec()
	s.Namespaces.PID = false
	s.Mounts = s.Mounts[:1]
	uid := 4242
	s.Identity = Identity{UID: &uid}
	if !isRoot() {
		subIDs(t)
		s.Identity.Mode = "subids-root"
	}
	if _, code := startEngine(t, s, "true"); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if after, _ := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0); after != before {
		t.Errorf("dumpable %d after a sandbox that switched uid, %d before", after, before)
	}
}

// TestSELinuxLabels: labels send the spec to the Go init, which applies
// them. Without SELinux the kernel refuses the exec label, which shows it
// was applied (and reported as a setup error, never ignored); with SELinux
// the command runs with it.
func TestSELinuxLabels(t *testing.T) {
	s := baseSpec()
	s.ExecLabel = "unconfined_u:unconfined_r:unconfined_t:s0"
	if why := s.initOnly(); why != "SELinux labels" {
		t.Errorf("a labelled spec goes to the raw engine (initOnly %q)", why)
	}
	s.Args = []string{"cat", "/proc/self/attr/current"}
	s.Env = []string{"PATH=/usr/bin:/bin"}
	var out strings.Builder
	r, w, _ := os.Pipe()
	s.Stdout = w
	done := make(chan struct{})
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := r.Read(b)
			out.Write(b[:n])
			if err != nil {
				close(done)
				return
			}
		}
	}()
	st, err := Run(s)
	w.Close()
	<-done
	if _, serr := os.Stat("/sys/fs/selinux/enforce"); serr != nil {
		var se *StartError
		if err == nil || !errors.As(err, &se) || !strings.Contains(se.Msg, "SELinux exec label") {
			t.Errorf("without SELinux: %v, %+v; want the exec label refused as a setup error", err, st)
		}
		return
	}
	if err != nil || st.ExitCode() != 0 || !strings.HasPrefix(out.String(), s.ExecLabel) {
		t.Errorf("with SELinux: %v, %+v, label %q", err, st, out.String())
	}
}

// TestBeforeFork: the hook runs once per start, on either engine, while
// the sandbox has no process yet (a front end waits there for its signal
// subscription, and a signal it cannot forward yet must find nothing to
// orphan).
func TestBeforeFork(t *testing.T) {
	children := func() string {
		var all []string
		tasks, _ := filepath.Glob("/proc/self/task/*/children")
		for _, f := range tasks {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatalf("read %s: %v", f, err)
			}
			all = append(all, strings.Fields(string(b))...)
		}
		return strings.Join(all, " ")
	}
	for _, init := range []bool{false, true} {
		t.Run(fmt.Sprintf("go init %v", init), func(t *testing.T) {
			s := baseSpec()
			calls, forkedAt := 0, -1
			s.BeforeFork = func() {
				calls++
				if c := children(); c != "" {
					t.Errorf("BeforeFork ran with children %s", c)
				}
			}
			if init {
				// OnForked keeps the sandbox on the Go init.
				s.OnForked = func(int) { forkedAt = calls }
			}
			e, code := startEngine(t, s)
			if code != 0 {
				t.Errorf("exit %d", code)
			}
			if init && e != "init" {
				t.Errorf("engine %q, want init", e)
			}
			if calls != 1 {
				t.Errorf("BeforeFork ran %d times, want 1", calls)
			}
			if init && forkedAt != 1 {
				t.Errorf("OnForked ran after %d BeforeFork calls, want 1", forkedAt)
			}
		})
	}
}

// TestRelativeSources: a relative host path in a mount is the caller's
// working directory's (CallerDir), never the host root's, on either
// engine, for binds and overlay layers.
func TestRelativeSources(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"src", "low", "up", "wk"} {
		os.Mkdir(filepath.Join(dir, d), 0o755)
	}
	os.WriteFile(filepath.Join(dir, "src", "marker"), []byte("m"), 0o644)
	os.WriteFile(filepath.Join(dir, "low", "lower-marker"), []byte("l"), 0o644)
	s := baseSpec()
	s.CallerDir = dir
	s.Mounts = append(s.Mounts,
		Mount{Op: OpBind, Source: "src", Dest: "/m"},
		Mount{Op: OpBind, Source: ".", Dest: "/w", ReadOnly: true},
		Mount{Op: OpOverlay, Lower: []string{"low"}, Upper: "up", Work: "wk", Dest: "/o"},
	)
	mounts := append([]Mount(nil), s.Mounts...)
	_, code := startEngine(t, s, "sh", "-c", "test -e /m/marker && test -e /w/src/marker && test -e /o/lower-marker && ! test -e /w/etc && echo x > /o/new")
	if code != 0 {
		t.Errorf("exit %d: the relative paths did not name the caller's directory", code)
	}
	if _, err := os.Stat(filepath.Join(dir, "up", "new")); err != nil {
		t.Errorf("the overlay's relative upper: %v", err)
	}
	if !reflect.DeepEqual(s.Mounts, mounts) {
		t.Errorf("Start changed the caller's spec: %v", s.Mounts)
	}
}
