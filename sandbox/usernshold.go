package sandbox

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nook-project/nook/sandbox/idmap"
	"golang.org/x/sys/unix"
)

// A user namespace with subordinate-id maps costs two setuid helpers
// (newuidmap, newgidmap: about 12 ms together on the project VM) every time
// one is made. A UserNSHolder makes it once and keeps it alive with a small
// process that does nothing else, so that a series of sandboxes with the
// same identity (the commands of a build session) enter it (Spec.EnterUserNS)
// instead; every other namespace stays new for every sandbox. The holder
// exits by itself once no sandbox has entered for Idle, and the next one
// starts a new holder: nothing a caller needs lives only in the holder, so a
// reboot or a killed holder costs one start, never a session.
//
// Entering is checked, since the record is only a file: the pid must still
// be the process that was started (its start time), the namespace's parent
// must be the caller's own user namespace and its owner the caller's uid,
// and its maps, read from the kernel, must be exactly the identity's host
// ids onto themselves (the outer namespace of lock.go). The
// holder itself sits in the caller's pid namespace, in its own session, with
// no fds but /dev/null: no process of a sandbox can see it, signal it or
// ptrace it, and it holds nothing of nook's (see compileRaw for the process
// that enters).

// UserNSHolder names where a held user namespace is recorded.
type UserNSHolder struct {
	// File records the holder as "PID STARTTIME". Its directory must be
	// the caller's own: whoever can replace the file chooses which
	// (checked) namespace the caller's sandboxes enter.
	File string
	// Idle is how long the holder stays without a sandbox entering
	// (default 60 s).
	Idle time.Duration
}

const (
	holderArg0 = "nook-userns-holder"
	holderArg1 = "--nook-hold-userns"
	// nsGetParent and nsGetOwnerUID are the ioctls of <linux/nsfs.h>.
	nsGetParent   = 0xb702
	nsGetOwnerUID = 0xb704
)

// holderEnv: one P is plenty, and the runtime need not wake up to watch
// the cgroup's CPU limit (it still opens those files at start-up, read
// only, and keeps them).
var holderEnv = []string{"GOMAXPROCS=1", "GODEBUG=updatemaxprocs=0"}

func init() {
	if len(os.Args) == 4 && os.Args[0] == holderArg0 && os.Args[1] == holderArg1 {
		os.Exit(runHolder(os.Args[2], os.Args[3]))
	}
}

// Enter returns a new fd (close-on-exec; the caller closes it) on the user
// namespace held for ident, starting a holder when none is alive. started
// says whether it did.
func (h *UserNSHolder) Enter(ident Identity) (fd int, started bool, err error) {
	id, err := resolveIdentity(&Spec{Identity: ident})
	if err != nil {
		return -1, false, err
	}
	if !id.userns {
		return -1, false, errors.New("hold a user namespace: the identity asks for none")
	}
	if fd, err := h.open(id); err == nil {
		// The holder's clock: it exits Idle after the last touch.
		now := []unix.Timespec{{Nsec: unix.UTIME_NOW}, {Nsec: unix.UTIME_NOW}}
		unix.UtimesNanoAt(unix.AT_FDCWD, h.File, now, 0)
		return fd, false, nil
	}
	fd, err = h.start(id)
	return fd, err == nil, err
}

// Stop ends the holder recorded in File, if it is alive, and removes File.
func (h *UserNSHolder) Stop() error {
	pid, start, err := readHolderFile(h.File)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err == nil {
		stopHolder(pid, start)
	}
	if err := os.Remove(h.File); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove the user namespace record %s: %w", h.File, err)
	}
	return nil
}

// stopHolder kills the holder pid started at start and waits (up to a
// second) until it has exited. Through a pidfd, so a recycled pid is never
// signalled.
func stopHolder(pid int, start uint64) {
	pfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return
	}
	defer unix.Close(pfd)
	if got, err := procStartTime(pid); err != nil || got != start {
		return
	}
	if unix.PidfdSendSignal(pfd, unix.SIGKILL, nil, 0) != nil {
		return
	}
	// A pidfd polls readable once its process has exited.
	fds := []unix.PollFd{{Fd: int32(pfd), Events: unix.POLLIN}}
	for range 10 {
		if n, err := unix.Poll(fds, 100); n > 0 || (err != nil && err != unix.EINTR) {
			return
		}
	}
}

// open returns an fd on the recorded holder's namespace if it is alive and
// has the maps id asks for.
func (h *UserNSHolder) open(id *identity) (int, error) {
	pid, start, err := readHolderFile(h.File)
	if err != nil {
		return -1, err
	}
	dir := "/proc/" + strconv.Itoa(pid)
	fd, err := unix.Open(dir+"/ns/user", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open the held user namespace: %w", err)
	}
	if err := checkHeld(fd, pid, start, id); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// checkHeld: the namespace behind fd, opened through /proc/PID, is the one the
// holder started at start made, a child of the caller's own, owned by the
// caller, with exactly id's maps. The start time is read last: if it still
// matches, the process whose files were read is the holder.
func checkHeld(fd, pid int, start uint64, id *identity) error {
	dir := "/proc/" + strconv.Itoa(pid)
	for _, m := range []struct {
		file string
		want []syscall.SysProcIDMap
	}{{"uid_map", identityMaps(id.uidMap)}, {"gid_map", identityMaps(id.gidMap)}} {
		b, err := os.ReadFile(dir + "/" + m.file)
		if err != nil {
			return fmt.Errorf("read the held namespace's %s: %w", m.file, err)
		}
		if !sameMaps(string(b), m.want) {
			return fmt.Errorf("the held namespace's %s is %q, not %q", m.file, b, idmap.Format(m.want))
		}
	}
	owner, err := unix.IoctlGetUint32(fd, nsGetOwnerUID)
	if err != nil {
		return fmt.Errorf("read the held namespace's owner: %w", err)
	}
	if int(owner) != os.Geteuid() {
		return fmt.Errorf("the held namespace belongs to uid %d", owner)
	}
	parent, err := unix.IoctlRetInt(fd, nsGetParent)
	if err != nil {
		return fmt.Errorf("read the held namespace's parent: %w", err)
	}
	var ps, own unix.Stat_t
	err = unix.Fstat(parent, &ps)
	unix.Close(parent)
	if err == nil {
		err = unix.Stat("/proc/self/ns/user", &own)
	}
	if err != nil {
		return fmt.Errorf("compare the held namespace's parent: %w", err)
	}
	if ps.Dev != own.Dev || ps.Ino != own.Ino {
		return errors.New("the held namespace is not a child of this process's")
	}
	// A holder that has exited but is not reaped yet (its parent is a
	// long-lived embedder, or a slow subreaper) still shows its namespace
	// and maps; it is gone all the same.
	if got, state, err := procStat(pid); err != nil || got != start || state == 'Z' || state == 'X' {
		return errors.New("the recorded holder is gone")
	}
	return nil
}

// start makes a holder in a new user namespace, writes id's maps into it
// and records it.
func (h *UserNSHolder) start(id *identity) (int, error) {
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return -1, fmt.Errorf("start a user namespace holder: %w", err)
	}
	defer null.Close()
	idle := h.Idle
	if idle <= 0 {
		idle = 60 * time.Second
	}
	n := null.Fd()
	pid, err := syscall.ForkExec("/proc/self/exe", []string{holderArg0, holderArg1, h.File, idle.String()},
		&syscall.ProcAttr{Dir: "/", Env: holderEnv, Files: []uintptr{n, n, n},
			Sys: &syscall.SysProcAttr{Setsid: true, Cloneflags: unix.CLONE_NEWUSER}})
	if err != nil {
		return -1, userNSError(fmt.Errorf("start a user namespace holder: %w", err), true)
	}
	fail := func(err error) (int, error) {
		unix.Kill(pid, unix.SIGKILL)
		unix.Wait4(pid, nil, 0, nil)
		return -1, err
	}
	// The sandboxes made in it nest the identity's own maps (lock.go).
	if err := idmap.Write(pid, identityMaps(id.uidMap), identityMaps(id.gidMap), id.helper); err != nil {
		return fail(fmt.Errorf("write the id maps of the user namespace holder: %w", err))
	}
	dir := "/proc/" + strconv.Itoa(pid)
	fd, err := unix.Open(dir+"/ns/user", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fail(fmt.Errorf("open the user namespace holder's namespace: %w", err))
	}
	start, err := procStartTime(pid)
	if err == nil {
		err = writeHolderFile(h.File, pid, start)
	}
	if err != nil {
		unix.Close(fd)
		return fail(err)
	}
	// The holder outlives this call (and, in nook, this process): reap it
	// if it ends while this process lives, so no zombie stays.
	go unix.Wait4(pid, nil, 0, nil)
	return fd, nil
}

// runHolder is the holder's main: it waits, and exits once its record is
// gone or names another process, or no sandbox entered for idle. It uses
// plain system calls only: os and time would open the runtime's poller (an
// epoll fd and an eventfd), and the holder keeps no fd but /dev/null.
func runHolder(file, idleArg string) int {
	idle, err := time.ParseDuration(idleArg)
	if err != nil || idle <= 0 {
		return 2
	}
	signal.Ignore(unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGPIPE, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU)
	step := unix.NsecToTimespec(int64(min(max(idle/4, 250*time.Millisecond), 5*time.Second)))
	var born unix.Timespec
	unix.ClockGettime(unix.CLOCK_BOOTTIME, &born)
	buf := make([]byte, 64)
	me := os.Getpid()
	for {
		for unix.Nanosleep(&step, nil) == unix.EINTR {
		}
		var st unix.Stat_t
		var now, age unix.Timespec
		unix.ClockGettime(unix.CLOCK_BOOTTIME, &age)
		unix.ClockGettime(unix.CLOCK_REALTIME, &now)
		statErr := unix.Stat(file, &st)
		pid := 0
		if fd, err := unix.Open(file, unix.O_RDONLY|unix.O_CLOEXEC, 0); err == nil {
			n, _ := unix.Read(fd, buf)
			unix.Close(fd)
			if n > 0 {
				pid, _, _ = parseHolderRecord(string(buf[:n]))
			}
		}
		// The record is written just after the maps: give it time.
		if (statErr != nil || pid != me) && age.Sec-born.Sec > 10 {
			return 0
		}
		if statErr == nil && pid == me && time.Duration(now.Nano()-st.Mtim.Nano()) > idle {
			return 0
		}
	}
}

func readHolderFile(file string) (pid int, start uint64, err error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, 0, err
	}
	pid, start, ok := parseHolderRecord(string(b))
	if !ok {
		return 0, 0, fmt.Errorf("%s: not a user namespace record", file)
	}
	return pid, start, nil
}

// parseHolderRecord reads "PID STARTTIME".
func parseHolderRecord(s string) (pid int, start uint64, ok bool) {
	f := strings.Fields(s)
	if len(f) != 2 {
		return 0, 0, false
	}
	pid, err1 := strconv.Atoi(f[0])
	start, err2 := strconv.ParseUint(f[1], 10, 64)
	if err1 != nil || err2 != nil || pid <= 0 {
		return 0, 0, false
	}
	return pid, start, true
}

// writeHolderFile replaces file atomically (a reader sees the old record
// or the new one).
func writeHolderFile(file string, pid int, start uint64) error {
	tmp := file + ".new-" + strconv.Itoa(os.Getpid())
	err := os.WriteFile(tmp, fmt.Appendf(nil, "%d %d\n", pid, start), 0o600)
	if err == nil {
		err = os.Rename(tmp, file)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("record the user namespace holder in %s: %w", file, err)
	}
	return nil
}

// procStartTime is field 22 of /proc/PID/stat: when the process started,
// in clock ticks since boot; with the pid it names one process for good.
func procStartTime(pid int) (uint64, error) {
	start, _, err := procStat(pid)
	return start, err
}

// procStat returns the start time and the state letter (field 3: R, S, Z…)
// of /proc/PID/stat.
func procStat(pid int) (start uint64, state byte, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	if len(f[0]) != 1 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: state %q is not one letter", pid, f[0])
	}
	start, err = strconv.ParseUint(f[19], 10, 64)
	return start, f[0][0], err
}

// sameMaps: the kernel's text of a map (as /proc/PID/uid_map shows it to
// this process) holds exactly the extents of want, in any order.
func sameMaps(text string, want []syscall.SysProcIDMap) bool {
	var got []syscall.SysProcIDMap
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			return false
		}
		var v [3]int
		for i := range v {
			n, err := strconv.Atoi(f[i])
			if err != nil {
				return false
			}
			v[i] = n
		}
		got = append(got, syscall.SysProcIDMap{ContainerID: v[0], HostID: v[1], Size: v[2]})
	}
	less := func(a, b syscall.SysProcIDMap) int { return a.ContainerID - b.ContainerID }
	w := slices.Clone(want)
	slices.SortFunc(got, less)
	slices.SortFunc(w, less)
	return slices.Equal(got, w)
}
