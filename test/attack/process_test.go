package attack

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// sandboxKind is one way to put the attacker's code in a sandbox: nook
// run (on the raw engine and on the Go init), nook as bwrap, and a
// session command. The root tree holds only busybox and /attack (this
// binary), so nothing of the host is visible but through a hole.
type sandboxKind struct {
	name string
	// cmd returns nook's arguments and extra environment for running
	// /attack -attack-helper ARGS... inside.
	cmd func(helperArgs ...string) ([]string, []string)
	// boundary is false where the command is the host's root by design
	// (real root's session: no user namespace, the host's ids).
	boundary bool
}

func sandboxKinds(t *testing.T, base string) []sandboxKind {
	t.Helper()
	root := attackerRoot(t, base)
	inner := func(a []string) []string { return append([]string{"--", "/attack", "-attack-helper"}, a...) }
	run := func(a ...string) ([]string, []string) {
		args := append(append([]string{"run"}, userns()...), "--bind", root, "/", "--proc", "/proc", "--dev", "/dev")
		return append(args, inner(a)...), nil
	}
	kinds := []sandboxKind{
		{name: "run", cmd: run, boundary: true},
		{name: "run-go-init", cmd: func(a ...string) ([]string, []string) {
			args, _ := run(a...)
			return args, []string{"NOOK_ENGINE=init"}
		}, boundary: true},
		{name: "bwrap", cmd: func(a ...string) ([]string, []string) {
			args := []string{"bwrap", "--bind", root, "/", "--proc", "/proc", "--dev", "/dev", "--unshare-pid"}
			if isRoot() {
				args = append(args, "--unshare-user")
			}
			return append(args, inner(a)...), nil
		}, boundary: true},
	}
	s := newStore(t, base)
	id, r := hostileChroot(t, s, "plain", nil, false)
	if id == "" {
		t.Fatalf("session begin: %s", r)
	}
	kinds = append(kinds, sandboxKind{name: "session", cmd: func(a ...string) ([]string, []string) {
		return append([]string{"session", "run", id}, inner(a)...), s.env[len(s.env)-3:]
	}, boundary: !isRoot()})
	return kinds
}

func runKind(t *testing.T, k sandboxKind, o runOpts, helperArgs ...string) result {
	t.Helper()
	args, env := k.cmd(helperArgs...)
	if o.env == nil {
		o.env = os.Environ()
	}
	o.env = append(append([]string{}, o.env...), env...)
	return nookWith(t, o, args...)
}

func noHarm(t *testing.T, what string, r result) {
	t.Helper()
	for _, l := range strings.Split(r.out, "\n") {
		if strings.HasPrefix(l, "HARM ") {
			t.Errorf("%s: %s", what, l)
		}
	}
	if !strings.Contains(r.out, "done") {
		t.Errorf("%s: the attack did not run to its end: %s", what, r)
	}
}

// parseFds reads the helper's "fd N TARGET" lines.
func parseFds(out string) map[int]string {
	m := map[int]string{}
	for _, l := range strings.Split(out, "\n") {
		f := strings.SplitN(l, " ", 3)
		if len(f) == 3 && f[0] == "fd" {
			n, _ := strconv.Atoi(f[1])
			m[n] = f[2]
		}
	}
	return m
}

// TestNookFdsNotReachable: nook's own fds — the spec and status pipes,
// the directory handles it builds the root with, the --file source, the
// terminal it takes over — never reach the command (CVE-2024-21626 class):
// the command holds 0, 1, 2 and exactly the fds the caller passed.
func TestNookFdsNotReachable(t *testing.T) {
	base := tempDir(t)
	kinds := sandboxKinds(t, base)
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			r := runKind(t, k, runOpts{}, "fds")
			fds := parseFds(r.out)
			if r.code != 0 || len(fds) == 0 {
				t.Fatalf("helper: %s", r)
			}
			for fd, target := range fds {
				if fd > 2 {
					t.Errorf("the command holds fd %d -> %s, which nobody passed", fd, target)
				}
			}
		})
		t.Run(k.name+"/one-fd-passed", func(t *testing.T) {
			pr, pw, err := os.Pipe()
			must(t, err)
			defer pr.Close()
			defer pw.Close()
			r := runKind(t, k, runOpts{extra: []*os.File{pr}}, "fds")
			fds := parseFds(r.out)
			if k.name == "session" {
				// Session commands get no inherited fds (as schroot).
				delete(fds, 3)
			} else if !strings.HasPrefix(fds[3], "pipe:") {
				t.Errorf("the passed pipe is not fd 3: %v (%s)", fds, r)
			}
			for fd, target := range fds {
				if fd > 3 {
					t.Errorf("the command holds fd %d -> %s, which nobody passed", fd, target)
				}
			}
		})
	}
	// --file's source fd is nook's to read, not the command's.
	t.Run("run/file-source", func(t *testing.T) {
		f, err := os.Open("/etc/hostname")
		must(t, err)
		defer f.Close()
		args, _ := kinds[0].cmd("fds")
		args = append([]string{args[0], "--file", "3", "/data"}, args[1:]...)
		r := nookWith(t, runOpts{extra: []*os.File{f}}, args...)
		for fd, target := range parseFds(r.out) {
			if fd > 2 {
				t.Errorf("the command holds fd %d -> %s (the --file source is nook's)", fd, target)
			}
		}
	})
	// A terminal: nook opens it for /dev/console and job control.
	t.Run("run/terminal", func(t *testing.T) {
		ptm, pts, err := pty.Open()
		must(t, err)
		defer ptm.Close()
		defer pts.Close()
		go drain(ptm)
		args, _ := kinds[0].cmd("fds")
		cmd := exec.Command(nookBin, args...)
		var out strings.Builder
		cmd.Stdin, cmd.Stdout, cmd.Stderr = pts, &out, pts
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
		cmd.Run()
		fds := parseFds(out.String())
		if len(fds) == 0 {
			t.Fatalf("helper printed %q", out.String())
		}
		for fd, target := range fds {
			if fd > 2 {
				t.Errorf("the command holds fd %d -> %s", fd, target)
			}
		}
	})
}

func drain(f *os.File) {
	b := make([]byte, 4096)
	for {
		if _, err := f.Read(b); err != nil {
			return
		}
	}
}

// TestHostRootUnreachable: a file of the host's outside the sandbox's root
// cannot be read through /proc/PID/root, /proc/PID/cwd, /proc/PID/fd/* of
// any process the command sees (nook's pid 1 among them), nor by walking
// ".." up from any directory fd it holds.
func TestHostRootUnreachable(t *testing.T) {
	base := tempDir(t)
	secret := filepath.Join(base, "secret")
	word := "s3cret-" + strconv.Itoa(os.Getpid())
	must(t, os.WriteFile(secret, []byte(word+"\n"), 0o644))
	for _, k := range sandboxKinds(t, base) {
		t.Run(k.name, func(t *testing.T) {
			if !k.boundary {
				t.Skip("SKIP (real root): a session of real root runs as the host's root with no user namespace; there is no boundary to cross")
			}
			r := runKind(t, k, runOpts{}, "escape", secret, word)
			noHarm(t, "reading a host file from inside", r)
		})
	}
}

// TestNookBinaryNotWritable: CVE-2019-5736. The command cannot open the
// executable of any process it sees — nook's pid 1 is a fork of nook — for
// writing, directly or by reopening an O_PATH handle, also when the caller
// owns the nook binary (go install); the binary's bytes are unchanged.
func TestNookBinaryNotWritable(t *testing.T) {
	base := tempDir(t)
	own := filepath.Join(base, "bin", "nook")
	i := 0
	must(t, os.MkdirAll(filepath.Dir(own), 0o755))
	copyFile(t, nookBin, own, 0o755)
	for _, bin := range []string{nookBin, own} {
		name := "installed"
		if bin == own {
			name = "caller-owned"
		}
		before := fileSum(t, bin)
		i++
		kb := filepath.Join(base, strconv.Itoa(i))
		must(t, os.MkdirAll(kb, 0o755))
		for _, k := range sandboxKinds(t, kb) {
			t.Run(name+"/"+k.name, func(t *testing.T) {
				if !k.boundary {
					t.Skip("SKIP (real root): a session of real root runs as the host's root with no user namespace; there is no boundary to cross")
				}
				r := runKind(t, k, runOpts{bin: bin}, "exe")
				noHarm(t, "writing nook's binary", r)
				if fileSum(t, bin) != before {
					t.Fatalf("nook's binary %s changed", bin)
				}
			})
		}
	}
}

// TestNookProcessesUnreachable: the command cannot ptrace, read the
// memory or environment of, stop or kill nook's pid 1, nor signal a host
// process of the caller's by its host pid; nook then ends normally.
func TestNookProcessesUnreachable(t *testing.T) {
	base := tempDir(t)
	victim := exec.Command("sleep", "120")
	must(t, victim.Start())
	defer victim.Process.Kill()
	for _, k := range sandboxKinds(t, base) {
		t.Run(k.name, func(t *testing.T) {
			if !k.boundary {
				t.Skip("SKIP (real root): a session of real root runs as the host's root with no user namespace; there is no boundary to cross")
			}
			r := runKind(t, k, runOpts{}, "reach", strconv.Itoa(victim.Process.Pid))
			// Tracing pid 1 gains nothing when it holds no capability the
			// command lacks (the Go init's pid 1 drops them all:
			// TestPID1Unreachable); then only the rest counts.
			var caps1, capsSelf uint64
			for _, l := range strings.Split(r.out, "\n") {
				if v, ok := strings.CutPrefix(l, "caps1 "); ok {
					caps1, _ = strconv.ParseUint(v, 16, 64)
				}
				if v, ok := strings.CutPrefix(l, "capsself "); ok {
					capsSelf, _ = strconv.ParseUint(v, 16, 64)
				}
			}
			if caps1&^capsSelf == 0 {
				var kept []string
				for _, l := range strings.Split(r.out, "\n") {
					if strings.HasPrefix(l, "HARM ") && (strings.HasSuffix(l, " 1") || strings.Contains(l, "/proc/1/")) {
						t.Logf("pid 1 holds no capability the command lacks (%x vs %x): %s gains nothing", caps1, capsSelf, l)
						continue
					}
					kept = append(kept, l)
				}
				r.out = strings.Join(kept, "\n")
			}
			noHarm(t, "reaching nook's processes", r)
			if r.code != 0 {
				t.Errorf("nook did not end normally: %s", r)
			}
			b, err := os.ReadFile("/proc/" + strconv.Itoa(victim.Process.Pid) + "/stat")
			if err != nil || strings.Fields(string(b))[2] == "T" || strings.Fields(string(b))[2] == "Z" {
				t.Errorf("the host process %d was signalled from inside: %q %v", victim.Process.Pid, b, err)
			}
		})
	}
}

// TestTerminalInjection: CVE-2017-5226 (TIOCSTI) and TIOCLINUX: through
// every terminal fd the command holds or can open, nothing is pushed into
// the input of the caller's terminal (read from outside after nook ends).
func TestTerminalInjection(t *testing.T) {
	base := tempDir(t)
	for _, k := range sandboxKinds(t, base) {
		for _, newSession := range []bool{false, true} {
			name := k.name
			if newSession {
				if k.name == "session" {
					continue
				}
				name += "/new-session"
			}
			t.Run(name, func(t *testing.T) {
				ptm, pts, err := pty.Open()
				must(t, err)
				defer ptm.Close()
				defer pts.Close()
				go drain(ptm)
				args, env := k.cmd("tty")
				if newSession {
					args = append([]string{args[0], "--new-session"}, args[1:]...)
				}
				cmd := exec.Command(nookBin, args...)
				cmd.Env = append(os.Environ(), env...)
				var out strings.Builder
				cmd.Stdin, cmd.Stdout, cmd.Stderr = pts, &out, pts
				cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
				cmd.Run()
				r := result{out: out.String()}
				noHarm(t, "pushing input into the terminal", r)
				if !newSession && !strings.Contains(r.out, "terminal fd 0") {
					t.Errorf("the command held no terminal; the attack tested nothing: %q", r.out)
				}
				// Whatever was pushed would be read by the caller's shell
				// now: read the terminal's input queue.
				fd := int(pts.Fd()) // (each Fd call makes the file blocking again)
				must(t, unix.SetNonblock(fd, true))
				b := make([]byte, 256)
				if n, _ := unix.Read(fd, b); n > 0 {
					t.Errorf("the command typed %q into the caller's terminal", b[:n])
				}
			})
		}
	}
}

// TestMountPropagationOut: a mount the command makes on a bind of a host
// directory never appears on the host (neither while it runs nor after),
// and the file it writes on it stays in the sandbox.
func TestMountPropagationOut(t *testing.T) {
	base := tempDir(t)
	hostDir := filepath.Join(base, "shared")
	must(t, os.MkdirAll(hostDir, 0o777))
	os.Chmod(hostDir, 0o777)
	kinds := sandboxKinds(t, base)
	// With shared propagation too (issue 19): the sandbox's peer group is
	// its own.
	for _, k := range kinds[:2] {
		k := k
		cmd := k.cmd
		k.name += "-shared"
		k.cmd = func(a ...string) ([]string, []string) {
			args, env := cmd(a...)
			return append([]string{args[0], "--propagation", "shared"}, args[1:]...), env
		}
		kinds = append(kinds, k)
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			args, env := k.cmd("mount", "/shared")
			switch k.name {
			case "session":
				args = append([]string{args[0], args[1], args[2], "--bind", hostDir + ":/shared"}, args[3:]...)
			default:
				args = append([]string{args[0], "--bind", hostDir, "/shared", "--cap-add", "CAP_SYS_ADMIN"}, args[1:]...)
			}
			cmd := exec.Command(nookBin, args...)
			cmd.Dir = "/"
			cmd.Env = append(os.Environ(), env...)
			in, err := cmd.StdinPipe()
			must(t, err)
			outp, err := cmd.StdoutPipe()
			must(t, err)
			must(t, cmd.Start())
			line, _ := bufio.NewReader(outp).ReadString('\n')
			if line != "mounted\n" {
				in.Close()
				cmd.Wait()
				t.Fatalf("the command could not mount on its bind (%q): the attack tests nothing", line)
			}
			mi, _ := os.ReadFile("/proc/self/mountinfo")
			if strings.Contains(string(mi), hostDir) {
				t.Errorf("a mount made inside appeared on the host while the sandbox runs")
			}
			if _, err := os.Stat(filepath.Join(hostDir, "planted")); err == nil {
				t.Errorf("a file written on the command's own mount reached the host")
			}
			in.Close()
			cmd.Wait()
			mi, _ = os.ReadFile("/proc/self/mountinfo")
			if strings.Contains(string(mi), hostDir) {
				t.Errorf("a mount made inside stayed on the host")
			}
		})
	}
}

// TestMountPropagationIn: a mount the host makes after the sandbox
// started never appears inside — not below a directory the sandbox binds
// (nook's binds are copies of the mount tree taken at set-up, not members
// of the host's peer groups), not anywhere else — so a secret mounted on
// the host later does not leak in, and nothing inside can write to it.
// Only real root can mount on the host.
func TestMountPropagationIn(t *testing.T) {
	if !isRoot() {
		t.Skip("SKIP (not root): only real root can make a mount on the host; the other direction is TestMountPropagationOut")
	}
	base := tempDir(t)
	root := attackerRoot(t, base)
	shared := filepath.Join(base, "shared")
	elsewhere := filepath.Join(root, "elsewhere")
	for _, d := range []string{shared + "/m", elsewhere} {
		must(t, os.MkdirAll(d, 0o755))
	}
	cases := []struct {
		name, hostMount, inside string
		visible                 bool
	}{
		{"below-a-read-only-bind", shared + "/m", "/ro/m", false},
		{"outside-every-bind", elsewhere, "/elsewhere", false},
	}
	for _, c := range cases {
		for _, prop := range []string{"private", "shared"} {
			t.Run(c.name+"/"+prop, func(t *testing.T) {
				cmd := exec.Command(nookBin, "run", "--userns", "always", "--propagation", prop, "--ro-bind", root, "/", "--ro-bind", shared, "/ro",
					"--proc", "/proc", "--", "/attack", "-attack-helper", "watch", c.inside)
				in, _ := cmd.StdinPipe()
				outp, _ := cmd.StdoutPipe()
				must(t, cmd.Start())
				br := bufio.NewReader(outp)
				if l, _ := br.ReadString('\n'); l != "ready\n" {
					in.Close()
					cmd.Wait()
					t.Fatalf("helper said %q", l)
				}
				must(t, unix.Mount("host", c.hostMount, "tmpfs", 0, ""))
				defer unix.Unmount(c.hostMount, unix.MNT_DETACH)
				must(t, os.WriteFile(c.hostMount+"/secret", []byte("host-secret"), 0o644))
				in.Write([]byte("go\n"))
				in.Close()
				rest := make([]byte, 4096)
				n, _ := readAll(br, rest)
				cmd.Wait()
				out := string(rest[:n])
				sawSecret := strings.Contains(out, `read "host-secret"`)
				if sawSecret != c.visible {
					t.Errorf("host mount at %s seen inside: %v, want %v (%s)", c.hostMount, sawSecret, c.visible, out)
				}
				if !strings.Contains(out, "write ") || strings.Contains(out, "write <nil>") {
					t.Errorf("the command wrote into a host mount through a read-only bind: %s", out)
				}
				if _, err := os.Stat(c.hostMount + "/from-inside"); err == nil {
					t.Errorf("a file written inside reached the host mount")
				}
			})
		}
	}
}

func readAll(r *bufio.Reader, b []byte) (int, error) {
	n := 0
	deadline := time.Now().Add(30 * time.Second)
	for n < len(b) && time.Now().Before(deadline) {
		m, err := r.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
