package sandbox

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nook-project/nook/internal/phase"
)

// The reporter: the test binary, started as the command inside a real
// sandbox with NOOK_REPORTER=1, does the actions listed in NOOK_REPORT_DO
// and prints what it sees as JSON. Tests compare that with what the spec
// asked for. Nothing about namespaces is mocked.

type fileFact struct {
	Type    string `json:"type"` // file, dir, symlink, char, other
	Mode    uint32 `json:"mode"` // permission bits incl. setuid/setgid/sticky
	UID     int    `json:"uid"`
	GID     int    `json:"gid"`
	Target  string `json:"target,omitempty"`
	Content string `json:"content,omitempty"`
}

type report struct {
	UID, GID, EUID, EGID int
	Groups               []int
	UIDMap, GIDMap       string
	Setgroups            string
	Status               map[string]string
	Pid, PPid, Pgid, Sid int
	Cwd                  string
	Env                  []string
	Hostname             string
	NS                   map[string]string
	Mounts               []mountFact
	Fds                  map[int]string
	Ifaces               map[string]string // name -> flags
	Umask                int
	Files                map[string]*fileFact
	Do                   map[string]string // action -> "ok" or the error
}

type mountFact struct {
	Point, FSType, Opts, Root string
	// SuperOpts are the filesystem's own options (mountinfo's last field).
	SuperOpts string
	// Tags are mountinfo's optional fields (shared:N, master:N), space
	// separated.
	Tags string
}

func (r *report) mount(point string) *mountFact {
	var found *mountFact
	for i := range r.Mounts {
		if r.Mounts[i].Point == point {
			found = &r.Mounts[i]
		}
	}
	return found
}

func (r *report) env(key string) (string, bool) {
	for _, kv := range r.Env {
		if v, ok := strings.CutPrefix(kv, key+"="); ok {
			return v, true
		}
	}
	return "", false
}

func TestMain(m *testing.M) {
	if os.Getenv("NOOK_RAW_NO_VM") == "1" && !phase.TestHooks {
		// Else the suite would run the CLONE_VM path again, silently.
		fmt.Fprintln(os.Stderr, "NOOK_RAW_NO_VM=1 asked for, but this build ignores it: build with -tags nooktest (test/all.sh does)")
		os.Exit(1)
	}
	if os.Getenv("NOOK_REPORTER") == "1" {
		reporterMain()
		return
	}
	if m := os.Getenv("NOOK_TEST_ASPID1_NOOK"); m != "" {
		asPID1NookMain(m)
		return
	}
	os.Exit(m.Run())
}

func reporterMain() {
	r := report{Status: map[string]string{}, NS: map[string]string{}, Fds: map[int]string{},
		Ifaces: map[string]string{}, Files: map[string]*fileFact{}, Do: map[string]string{}}
	// Fds first, before this process opens any of its own.
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		for _, e := range ents {
			fd, _ := strconv.Atoi(e.Name())
			l, err := os.Readlink("/proc/self/fd/" + e.Name())
			// Skip the directory being read and the Go runtime's own
			// cgroup files (opened before main, close-on-exec).
			if err != nil || strings.HasPrefix(l, "/sys/fs/cgroup/") {
				continue
			}
			r.Fds[fd] = l
		}
	}
	r.Umask = unix.Umask(0)
	unix.Umask(r.Umask)
	for _, a := range strings.Split(os.Getenv("NOOK_REPORT_DO"), ";") {
		if a != "" {
			r.Do[a] = errString(doAction(a))
		}
	}
	r.UID, r.GID, r.EUID, r.EGID = os.Getuid(), os.Getgid(), os.Geteuid(), os.Getegid()
	r.Groups, _ = os.Getgroups()
	r.UIDMap = readTrim("/proc/self/uid_map")
	r.GIDMap = readTrim("/proc/self/gid_map")
	r.Setgroups = readTrim("/proc/self/setgroups")
	for _, l := range strings.Split(readTrim("/proc/self/status"), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok {
			r.Status[k] = strings.TrimSpace(v)
		}
	}
	r.Pid, r.PPid = os.Getpid(), os.Getppid()
	r.Pgid, _ = unix.Getpgid(0)
	r.Sid, _ = unix.Getsid(0)
	r.Cwd, _ = os.Getwd()
	r.Env = os.Environ()
	r.Hostname, _ = os.Hostname()
	for _, n := range []string{"user", "mnt", "pid", "net", "ipc", "uts", "cgroup"} {
		r.NS[n], _ = os.Readlink("/proc/self/ns/" + n)
	}
	for _, l := range strings.Split(readTrim("/proc/self/mountinfo"), "\n") {
		f := strings.Fields(l)
		if len(f) < 10 {
			continue
		}
		i := 6
		for i < len(f) && f[i] != "-" {
			i++
		}
		if i+1 >= len(f) {
			continue
		}
		m := mountFact{Point: unescape(f[4]), Root: unescape(f[3]), Opts: f[5], FSType: f[i+1], Tags: strings.Join(f[6:i], " ")}
		if i+3 < len(f) {
			m.SuperOpts = f[i+3]
		}
		r.Mounts = append(r.Mounts, m)
	}
	if ifs, err := net.Interfaces(); err == nil {
		for _, i := range ifs {
			r.Ifaces[i.Name] = i.Flags.String()
		}
	}
	for _, p := range strings.Split(os.Getenv("NOOK_REPORT_STAT"), ":") {
		if p != "" {
			r.Files[p] = statFact(p)
		}
	}
	json.NewEncoder(os.Stdout).Encode(&r)
	if code := os.Getenv("NOOK_REPORT_EXIT"); code != "" {
		n, _ := strconv.Atoi(code)
		os.Exit(n)
	}
	os.Exit(0)
}

func unescape(s string) string {
	r := strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`)
	return r.Replace(s)
}

func errString(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

func readTrim(p string) string {
	b, _ := os.ReadFile(p)
	return strings.TrimSpace(string(b))
}

func statFact(p string) *fileFact {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return nil
	}
	f := &fileFact{Mode: st.Mode & 0o7777, UID: int(st.Uid), GID: int(st.Gid)}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		f.Type = "file"
		if b, err := os.ReadFile(p); err == nil && len(b) < 4096 {
			f.Content = string(b)
		}
	case unix.S_IFDIR:
		f.Type = "dir"
	case unix.S_IFLNK:
		f.Type = "symlink"
		f.Target, _ = os.Readlink(p)
	case unix.S_IFCHR:
		f.Type = "char"
	default:
		f.Type = "other"
	}
	return f
}

// doAction runs one "verb:arg" action inside the sandbox.
func doAction(a string) error {
	verb, arg, _ := strings.Cut(a, ":")
	switch verb {
	case "write":
		return os.WriteFile(arg, []byte("written inside\n"), 0o644)
	case "mkdir":
		return os.Mkdir(arg, 0o755)
	case "chown":
		return os.Lchown(arg, 12345, 12345)
	case "fsync":
		f, err := os.Open(arg)
		if err != nil {
			return err
		}
		defer f.Close()
		return f.Sync()
	case "mount-tmpfs":
		if err := os.MkdirAll(arg, 0o755); err != nil {
			return err
		}
		return unix.Mount("tmpfs", arg, "tmpfs", 0, "")
	case "read":
		f, err := os.Open(arg)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = f.Read(make([]byte, 4096))
		if err == io.EOF {
			err = nil
		}
		return err
	case "userns":
		// A nested user namespace: fork a child into one.
		pid, err := syscall.ForkExec("/bin/true", []string{"true"}, &syscall.ProcAttr{Sys: &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWUSER}})
		if err != nil {
			return err
		}
		var ws unix.WaitStatus
		_, err = unix.Wait4(pid, &ws, 0, nil)
		return err
	case "umount":
		return unix.Unmount(arg, unix.MNT_DETACH)
	case "overlay-try":
		// Mount an overlay "lower|upper|work|options" on a new directory
		// and unmount it again (with user xattrs in a user namespace).
		f := strings.Split(arg, "|")
		if len(f) != 4 {
			return fmt.Errorf("overlay-try wants lower|upper|work|options")
		}
		dir, err := os.MkdirTemp("", "ovl")
		if err != nil {
			return err
		}
		defer os.Remove(dir)
		opts := "lowerdir=" + f[0] + ",upperdir=" + f[1] + ",workdir=" + f[2] + "," + f[3]
		if strings.Fields(readTrim("/proc/self/uid_map"))[2] != "4294967295" {
			opts += ",userxattr"
		}
		if err := unix.Mount("overlay", dir, "overlay", 0, opts); err != nil {
			return err
		}
		return unix.Unmount(dir, unix.MNT_DETACH)
	case "remount-rw":
		// Remount arg read-write (a bind remount without MS_RDONLY).
		return unix.Mount("", arg, "", unix.MS_REMOUNT|unix.MS_BIND, "")
	case "hold-orphan":
		// Clear the parent-death signal, start a child named arg that
		// outlives this process's parent, say so, and wait.
		if err := unix.Prctl(unix.PR_SET_PDEATHSIG, 0, 0, 0, 0); err != nil {
			return err
		}
		c := exec.Command("/bin/sleep", "600")
		c.Args[0] = arg
		if err := c.Start(); err != nil {
			return err
		}
		os.Stdout.WriteString("ready\n")
		time.Sleep(10 * time.Minute)
		return nil
	case "kill-parent":
		return unix.Kill(os.Getppid(), unix.SIGKILL)
	case "kill":
		pid, err := strconv.Atoi(arg)
		if err != nil {
			return err
		}
		return unix.Kill(pid, unix.SIGKILL)
	case "ptrace":
		// PTRACE_ATTACH (then detach again when it worked).
		pid, err := strconv.Atoi(arg)
		if err != nil {
			return err
		}
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := unix.PtraceAttach(pid); err != nil {
			return err
		}
		var ws unix.WaitStatus
		unix.Wait4(pid, &ws, unix.WALL, nil)
		unix.PtraceDetach(pid)
		return nil
	case "pid1threads":
		// Fails unless, within two seconds, no thread of process arg
		// holds a capability the command lacks: none at all, and
		// no_new_privs set, where pid 1 can reach its every thread (a
		// build without cgo) and on the thread that started the command;
		// else none outside the command's bounding set. Every thread,
		// every set: capabilities are per thread, and an exec from any
		// thread gives uid 0 its bounding set.
		var last error
		for i := 0; i < 100; i++ {
			if last = pid1ThreadsHoldNothing(arg); last == nil {
				return nil
			}
			time.Sleep(20 * time.Millisecond)
		}
		return last
	case "nocaps":
		// Fails unless process arg holds no effective capability within
		// two seconds (the Go init's pid 1 drops them just after starting
		// the command).
		var last string
		for i := 0; i < 100; i++ {
			for _, l := range strings.Split(readTrim("/proc/"+arg+"/status"), "\n") {
				if v, ok := strings.CutPrefix(l, "CapEff:"); ok {
					last = strings.TrimSpace(v)
				}
			}
			if last != "" && strings.Trim(last, "0") == "" {
				return nil
			}
			time.Sleep(20 * time.Millisecond)
		}
		return fmt.Errorf("CapEff %q", last)
	}
	return fmt.Errorf("unknown action %q", verb)
}

func pid1ThreadsHoldNothing(pid string) error {
	own, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return err
	}
	v, _ := statusField(string(own), "CapBnd:")
	cmd, err := strconv.ParseUint(v, 16, 64)
	if err != nil {
		return fmt.Errorf("own CapBnd %q: %w", v, err)
	}
	ents, err := os.ReadDir("/proc/" + pid + "/task")
	if err != nil {
		return err
	}
	for _, e := range ents {
		b, err := os.ReadFile("/proc/" + pid + "/task/" + e.Name() + "/status")
		if err != nil {
			continue // gone
		}
		st := string(b)
		emptied := allThreadsSyscall() || e.Name() == pid
		for _, k := range []string{"CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:"} {
			v, ok := statusField(st, k)
			n, err := strconv.ParseUint(v, 16, 64)
			if !ok || err != nil {
				return fmt.Errorf("thread %s: %s %q", e.Name(), k, v)
			}
			switch {
			case emptied && k == "CapBnd:":
				// Left as it is; no_new_privs makes it void.
			case emptied && n != 0:
				return fmt.Errorf("thread %s of pid %s holds %s %016x", e.Name(), pid, k, n)
			case !emptied && n&^cmd != 0:
				return fmt.Errorf("thread %s of pid %s holds %s %016x, beyond the command's bounding set %016x (cgo build)", e.Name(), pid, k, n, cmd)
			}
		}
		// An exec from the thread must not give it back whatever its
		// bounding set holds (uid 0, set-user-ID, file capabilities).
		if nnp, _ := statusField(st, "NoNewPrivs:"); emptied && nnp != "1" {
			return fmt.Errorf("thread %s of pid %s has no_new_privs %q: an exec from it may gain capabilities", e.Name(), pid, nnp)
		}
	}
	return nil
}

func statusField(status, key string) (string, bool) {
	for _, l := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(l, key); ok {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}

// reporterPath is the test binary; tests bind it into sandboxes at the same
// path.
func reporterPath(t testing.TB) string {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	exe, err = filepath.EvalSymlinks(exe)
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

// baseSpec is a small useful sandbox: host root read-only, fresh /dev,
// /proc and /tmp, own pid namespace.
func baseSpec() *Spec {
	return &Spec{
		Namespaces: Namespaces{PID: true},
		SortMounts: true,
		Mounts: []Mount{
			{Op: OpBind, Source: "/", Dest: "/", ReadOnly: true},
			{Op: OpDev, Dest: "/dev"},
			{Op: OpProc, Dest: "/proc"},
			{Op: OpTmpfs, Dest: "/tmp"},
		},
	}
}

// reportOpts tunes one reporter run.
type reportOpts struct {
	do   []string
	stat []string
	exit int
}

// runReport runs the reporter in s and returns its report and status.
func runReport(t testing.TB, s *Spec, o reportOpts) (*report, Status) {
	t.Helper()
	r, st, err := tryReport(t, s, o)
	if err != nil {
		t.Fatalf("run reporter: %v", err)
	}
	return r, st
}

func tryReport(t testing.TB, s *Spec, o reportOpts) (*report, Status, error) {
	t.Helper()
	exe := reporterPath(t)
	s.Args = []string{exe}
	s.Mounts = append(s.Mounts, Mount{Op: OpBind, Source: exe, Dest: exe, ReadOnly: true})
	s.Env = append(s.Env, "NOOK_REPORTER=1", "NOOK_REPORT_DO="+strings.Join(o.do, ";"),
		"NOOK_REPORT_STAT="+strings.Join(o.stat, ":"), "PATH=/usr/bin:/bin")
	if o.exit != 0 {
		s.Env = append(s.Env, fmt.Sprintf("NOOK_REPORT_EXIT=%d", o.exit))
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	s.Stdout = pw
	p, err := Start(s)
	pw.Close()
	if err != nil {
		return nil, Status{}, err
	}
	out, _ := io.ReadAll(pr)
	st, err := p.Wait()
	if err != nil {
		return nil, st, err
	}
	var r report
	if err := json.Unmarshal(out, &r); err != nil {
		return nil, st, fmt.Errorf("decode report (%v, status %+v): %q", err, st, out)
	}
	return &r, st, nil
}

// hostNS is a namespace link of the test process itself.
func hostNS(t testing.TB, n string) string {
	l, err := os.Readlink("/proc/self/ns/" + n)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func isRoot() bool { return os.Geteuid() == 0 }
