package seccomp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The install test re-executes the test binary: a seccomp filter cannot be
// removed, so it must not land in the process running the other tests.
const (
	childEnv    = "NOOK_SECCOMP_TEST_CHILD" // "filter" or "baseline"
	childDirEnv = "NOOK_SECCOMP_TEST_DIR"
	foreignID   = 12345
)

// Argument values for rawProbes. Variables, so negative values convert.
var (
	badFD   = uintptr(^uint(0)) // -1
	atFDCWD = func() uintptr { v := unix.AT_FDCWD; return uintptr(v) }()
)

type rawProbe struct {
	name      string
	nr        uintptr
	args      [6]uintptr
	wantErrno syscall.Errno // without the filter
}

type probe struct {
	Errno int    // 0 on success
	Msg   string `json:",omitempty"`
	Owner []int  `json:",omitempty"` // uid, gid after a chown probe
}

type report struct {
	Install  string // error from setting up the filter
	UID, GID int
	Probes   map[string]probe
}

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(childMain(mode, os.Getenv(childDirEnv)))
	}
	os.Exit(m.Run())
}

func errnoOf(err error) probe {
	if err == nil {
		return probe{}
	}
	var e syscall.Errno
	if errors.As(err, &e) {
		return probe{Errno: int(e), Msg: e.Error()}
	}
	return probe{Errno: -1, Msg: err.Error()}
}

// childMain runs in the re-executed binary. It reports on stdout as JSON and
// leaves all judging to the parent.
func childMain(mode, dir string) int {
	// Closing the pty master hangs up our controlling terminal, which
	// would SIGHUP us as the session leader.
	signal.Ignore(syscall.SIGHUP)
	rep := report{UID: os.Geteuid(), GID: os.Getegid(), Probes: map[string]probe{}}
	rec := func(name string, err error) { rep.Probes[name] = errnoOf(err) }
	emit := func() int {
		if err := json.NewEncoder(os.Stdout).Encode(rep); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		return 0
	}

	// The probes run on this thread. Another thread is started and parked
	// before the filter goes in, to check that TSYNC reached it.
	runtime.LockOSThread()
	type threadResult struct {
		tid int
		err error
	}
	ready, goProbe := make(chan int), make(chan struct{})
	result := make(chan threadResult)
	go func() {
		runtime.LockOSThread()
		ready <- unix.Gettid()
		<-goProbe
		result <- threadResult{unix.Gettid(), unix.Fsync(int(badFD))}
	}()
	otherTID := <-ready

	if mode == "filter" {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			rep.Install = "PR_SET_NO_NEW_PRIVS: " + err.Error()
			return emit()
		}
		prog, err := Program(runtime.GOARCH, Options{SuppressChown: true, SuppressSync: true})
		if err == nil {
			err = Install(prog)
		}
		if err != nil {
			rep.Install = err.Error()
			return emit()
		}
	}

	// Raw syscall numbers with arguments the kernel would reject.
	for _, p := range rawProbes() {
		_, _, e := unix.Syscall6(p.nr, p.args[0], p.args[1], p.args[2], p.args[3], p.args[4], p.args[5])
		var err error
		if e != 0 {
			err = e
		}
		rec("raw "+p.name, err)
	}

	// Real files owned by us.
	file, link := filepath.Join(dir, "file"), filepath.Join(dir, "link")
	f, err := os.Create(file)
	if err != nil {
		rec("setup", err)
		return emit()
	}
	defer f.Close()
	if _, err := f.WriteString("some data\n"); err != nil {
		rec("setup", err)
		return emit()
	}
	if err := os.Symlink("file", link); err != nil {
		rec("setup", err)
		return emit()
	}
	owner := func(name, path string, follow bool, err error) {
		p := errnoOf(err)
		var st unix.Stat_t
		statErr := unix.Lstat(path, &st)
		if follow {
			statErr = unix.Stat(path, &st)
		}
		if statErr != nil {
			p.Msg += " stat: " + statErr.Error()
			p.Errno = -1
		} else {
			p.Owner = []int{int(st.Uid), int(st.Gid)}
		}
		rep.Probes[name] = p
	}
	owner("chown", file, true, unix.Chown(file, foreignID, foreignID))
	owner("fchown", file, true, unix.Fchown(int(f.Fd()), foreignID, foreignID))
	owner("lchown", link, false, unix.Lchown(link, foreignID, foreignID))
	owner("fchownat", file, true, unix.Fchownat(unix.AT_FDCWD, file, foreignID, foreignID, 0))
	owner("fchownat nofollow", link, false, unix.Fchownat(unix.AT_FDCWD, link, foreignID, foreignID, unix.AT_SYMLINK_NOFOLLOW))
	rec("chown missing file", unix.Chown(filepath.Join(dir, "missing"), foreignID, foreignID))

	fd := int(f.Fd())
	rec("fsync", unix.Fsync(fd))
	rec("fdatasync", unix.Fdatasync(fd))
	rec("syncfs", unix.Syncfs(fd))
	rec("sync_file_range", unix.SyncFileRange(fd, 0, 0, unix.SYNC_FILE_RANGE_WRITE))
	if mode == "filter" {
		unix.Sync() // cannot fail; only proves the filter lets the process live
		rec("sync", nil)
	}
	if mem, err := unix.Mmap(fd, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err != nil {
		rec("msync", err)
	} else {
		rec("msync", unix.Msync(mem, unix.MS_SYNC))
		_ = unix.Munmap(mem)
	}

	ptyProbes(rec)

	close(goProbe)
	r := <-result
	p := errnoOf(r.err)
	if r.tid == unix.Gettid() || r.tid != otherTID {
		p = probe{Errno: -1, Msg: fmt.Sprintf("probe thread %d is not the pre-existing thread %d or is the main thread", r.tid, otherTID)}
	}
	rep.Probes["other thread fsync(-1)"] = p
	return emit()
}

// ptyProbes sets up a pty pair with the slave as our controlling terminal
// (the parent made us a session leader), so that without the filter TIOCSTI
// on the slave would work even unprivileged.
func ptyProbes(rec func(string, error)) {
	m, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	rec("ptmx open", err)
	if err != nil {
		return
	}
	defer unix.Close(m)
	rec("unlockpt", unix.IoctlSetPointerInt(m, unix.TIOCSPTLCK, 0))
	s, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(m), unix.TIOCGPTPEER, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC)
	if e != 0 {
		// Kernels before 4.13: open the slave by name.
		n, err := unix.IoctlGetInt(m, unix.TIOCGPTN)
		if err != nil {
			rec("pty slave", err)
			return
		}
		fd, err := unix.Open("/dev/pts/"+strconv.Itoa(n), unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
		rec("pty slave", err)
		if err != nil {
			return
		}
		s = uintptr(fd)
	} else {
		rec("pty slave", nil)
	}
	slave := int(s)
	defer unix.Close(slave)
	rec("TIOCSCTTY", unix.IoctlSetInt(slave, unix.TIOCSCTTY, 0))
	_, err = unix.IoctlGetWinsize(slave, unix.TIOCGWINSZ)
	rec("TIOCGWINSZ slave", err)
	_, err = unix.IoctlGetWinsize(m, unix.TIOCGWINSZ)
	rec("TIOCGWINSZ master", err)
	_, err = unix.IoctlGetInt(m, unix.TIOCGPTN)
	rec("TIOCGPTN", err)

	rec("TIOCSTI slave", unix.IoctlSetPointerInt(slave, unix.TIOCSTI, 'x'))
	rec("TIOCSTI master", unix.IoctlSetPointerInt(m, unix.TIOCSTI, 'x'))
	ioctl := func(fd int, req uint64) error {
		// The argument pointer is NULL: the filter never looks at it, and
		// without the filter the kernel reaching TIOCSTI shows as EFAULT.
		if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), 0); e != 0 {
			return e
		}
		return nil
	}
	rec("TIOCLINUX slave", ioctl(slave, unix.TIOCLINUX))
	if ^uintptr(0)>>32 != 0 { // the high word exists only on 64-bit
		rec("TIOCSTI slave high bits", ioctl(slave, 0xdeadbeef_00000000|uint64(unix.TIOCSTI)))
		rec("TIOCLINUX slave high bits", ioctl(slave, 0xffffffff_00000000|uint64(unix.TIOCLINUX)))
	}
}

func runChild(t *testing.T, mode string) report {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), childEnv+"="+mode, childDirEnv+"="+t.TempDir())
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	var stderr []byte
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); ok {
		stderr = ee.Stderr
	}
	if err != nil {
		t.Fatalf("child %s: %v\nstdout: %s\nstderr: %s", mode, err, out, stderr)
	}
	var rep report
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("child %s: bad report %q: %v", mode, out, err)
	}
	if rep.Install != "" {
		t.Fatalf("child %s: install: %s", mode, rep.Install)
	}
	names := make([]string, 0, len(rep.Probes))
	for name := range rep.Probes {
		names = append(names, name)
	}
	sort.Strings(names)
	var sum strings.Builder
	for _, name := range names {
		p := rep.Probes[name]
		fmt.Fprintf(&sum, "\n  %-26s errno=%d %s", name, p.Errno, p.Msg)
		if p.Owner != nil {
			fmt.Fprintf(&sum, " owner=%v", p.Owner)
		}
	}
	t.Logf("child %s as uid %d:%s", mode, rep.UID, sum.String())
	return rep
}

func (r report) get(t *testing.T, name string) (probe, bool) {
	t.Helper()
	p, ok := r.Probes[name]
	if !ok {
		t.Errorf("probe %q missing", name)
	}
	return p, ok
}

func (r report) wantErrno(t *testing.T, name string, want syscall.Errno) {
	t.Helper()
	if p, ok := r.get(t, name); ok && p.Errno != int(want) {
		t.Errorf("%s: errno %d (%s), want %d (%v)", name, p.Errno, p.Msg, int(want), want)
	}
}

func (r report) wantNotErrno(t *testing.T, name string, not syscall.Errno) {
	t.Helper()
	if p, ok := r.get(t, name); ok && p.Errno == int(not) {
		t.Errorf("%s: errno %v, want anything else", name, not)
	}
}

var chownProbes = []string{"chown", "fchown", "lchown", "fchownat", "fchownat nofollow"}

func ptyAvailable(t *testing.T, r report) bool {
	t.Helper()
	if p := r.Probes["ptmx open"]; p.Errno != 0 {
		t.Logf("no pty (/dev/ptmx: %s); terminal ioctls not exercised", p.Msg)
		return false
	}
	return true
}

func TestInstallFiltered(t *testing.T) {
	r := runChild(t, "filter")
	for _, p := range rawProbes() {
		r.wantErrno(t, "raw "+p.name, 0)
	}
	for _, name := range chownProbes {
		r.wantErrno(t, name, 0)
		if p, ok := r.get(t, name); ok && (len(p.Owner) != 2 || p.Owner[0] != r.UID || p.Owner[1] != r.GID) {
			t.Errorf("%s: owner after chown is %v, want unchanged [%d %d]", name, p.Owner, r.UID, r.GID)
		}
	}
	for _, name := range []string{"chown missing file", "fsync", "fdatasync", "syncfs",
		"sync_file_range", "sync", "msync", "other thread fsync(-1)"} {
		r.wantErrno(t, name, 0)
	}
	if !ptyAvailable(t, r) {
		return
	}
	for _, name := range []string{"unlockpt", "pty slave", "TIOCSCTTY", "TIOCGWINSZ slave",
		"TIOCGWINSZ master", "TIOCGPTN"} {
		r.wantErrno(t, name, 0)
	}
	for _, name := range []string{"TIOCSTI slave", "TIOCSTI master", "TIOCLINUX slave"} {
		r.wantErrno(t, name, unix.EPERM)
	}
	if ^uintptr(0)>>32 != 0 {
		r.wantErrno(t, "TIOCSTI slave high bits", unix.EPERM)
		r.wantErrno(t, "TIOCLINUX slave high bits", unix.EPERM)
	}
}

// TestInstallBaseline runs the same probes without the filter, to show that
// each one would observe a difference if the filter did nothing.
func TestInstallBaseline(t *testing.T) {
	r := runChild(t, "baseline")
	for _, p := range rawProbes() {
		r.wantErrno(t, "raw "+p.name, p.wantErrno)
	}
	for _, name := range chownProbes {
		p, ok := r.get(t, name)
		if !ok {
			continue
		}
		if r.UID == 0 {
			if p.Errno != 0 || len(p.Owner) != 2 || p.Owner[0] != foreignID {
				t.Errorf("%s as root: errno %d owner %v, want the chown to happen", name, p.Errno, p.Owner)
			}
		} else if p.Errno != int(unix.EPERM) {
			t.Errorf("%s unprivileged: errno %d, want EPERM", name, p.Errno)
		}
	}
	r.wantErrno(t, "chown missing file", unix.ENOENT)
	r.wantErrno(t, "other thread fsync(-1)", unix.EBADF)
	if !ptyAvailable(t, r) {
		return
	}
	r.wantErrno(t, "TIOCSCTTY", 0)
	r.wantNotErrno(t, "TIOCSTI slave", unix.EPERM)
	r.wantNotErrno(t, "TIOCLINUX slave", unix.EPERM)
	if ^uintptr(0)>>32 != 0 {
		// The kernel truncates cmd to 32 bits, so this reaches TIOCSTI and
		// fails on the NULL argument (or EIO where legacy TIOCSTI is off).
		r.wantNotErrno(t, "TIOCSTI slave high bits", unix.EPERM)
		r.wantNotErrno(t, "TIOCSTI slave high bits", unix.ENOTTY)
	}
}
