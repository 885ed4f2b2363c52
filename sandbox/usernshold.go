package sandbox

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nook-project/nook/internal/procpid"
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
// ids onto themselves (the outer namespace of lock.go). And it must be the
// holder this very record started: every holder is started with its
// record's path and a random token in its argv, the record holds the token,
// and the holder must sit in the caller's pid and mount namespaces. Without
// that, a record naming another session's holder (same user, same maps)
// passed every other check, and the session's commands ran in the other
// session's namespace, with whatever a command of that session had left in
// it (its user.max_* limits, its per-namespace user keyrings and
// binfmt_misc instance). No process of a sandbox can pass: a sandbox always
// has a mount namespace of its own. The holder itself sits in the caller's
// pid namespace, in its own session, with no fds but /dev/null: no process
// of a sandbox can see it, signal it or ptrace it, and it holds nothing of
// nook's (see compileRaw for the process that enters).
//
// A held namespace is shared by every command of a session, so nothing a
// command does to it may outlive the command. The commands run in a
// namespace nested in it (lock.go), so their sysctl writes land there; but
// should a user.max_* limit of the held namespace itself be lowered (they
// belong to the user namespace the writer is in) every later sandbox in it
// would fail with ENOSPC. When the held namespace refuses so
// (ErrHeldUserNSRefused), Start ends that holder and makes the sandbox in a
// fresh one (Spec.HeldUserNS); and only a sandbox that started marks the
// holder used, so failing tries never keep a holder alive.

// UserNSHolder names where a held user namespace is recorded.
type UserNSHolder struct {
	// File records the holder as "PID STARTTIME TOKEN". Its directory
	// must be the caller's own; a record that does not name the holder
	// started for File with TOKEN is never entered.
	File string
	// Idle is how long the holder stays without a sandbox entering
	// (default 60 s).
	Idle time.Duration
}

// ErrHeldUserNSRefused: the held user namespace a sandbox was to start in
// refused one of the sandbox's new namespaces (the kernel's per-namespace
// ucounts limits, user.max_*_namespaces, answer ENOSPC; EUSERS on kernels
// before 4.9). A limit inside a held namespace can only have been lowered
// from inside it. Start replaces the holder when Spec.HeldUserNS names it.
var ErrHeldUserNSRefused = errors.New("the held user namespace refuses new namespaces")

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
	if len(os.Args) == 5 && os.Args[0] == holderArg0 && os.Args[1] == holderArg1 {
		os.Exit(runHolder(os.Args[2], os.Args[3], os.Args[4]))
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
		return fd, false, nil
	}
	fd, err = h.start(id)
	return fd, err == nil, err
}

// Used restarts the holder's idle clock: it exits Idle after the last
// call. Start calls it once a sandbox runs in the namespace
// (Spec.HeldUserNS); a caller that sets only Spec.EnterUserNS calls it
// itself. A sandbox that failed to start must not call it, or a namespace
// that refuses every sandbox would be kept alive by the tries.
func (h *UserNSHolder) Used() {
	now := []unix.Timespec{{Nsec: unix.UTIME_NOW}, {Nsec: unix.UTIME_NOW}}
	unix.UtimesNanoAt(unix.AT_FDCWD, h.File, now, 0)
}

// replace ends the recorded holder and starts a fresh one for ident.
func (h *UserNSHolder) replace(ident Identity) (int, error) {
	id, err := resolveIdentity(&Spec{Identity: ident})
	if err != nil {
		return -1, err
	}
	if err := h.Stop(); err != nil {
		return -1, err
	}
	return h.start(id)
}

// Stop ends the holder recorded in File, if it is alive, and removes File.
func (h *UserNSHolder) Stop() error {
	rec, err := readHolderFile(h.File)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err == nil {
		stopHolder(h.File, rec)
	}
	if err := os.Remove(h.File); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove the user namespace record %s: %w", h.File, err)
	}
	return nil
}

// stopHolder kills the holder that rec names, if it is the one started for
// file, and waits (up to a second) until it has exited. Through a pidfd, so
// a recycled pid is never signalled; and only a holder of file's, so a
// record rewritten to name another of the caller's processes never has
// that one killed.
func stopHolder(file string, rec holderRecord) {
	pfd, err := unix.PidfdOpen(rec.pid, 0)
	if err != nil {
		return
	}
	defer unix.Close(pfd)
	if isHolderOf(rec, file) != nil {
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
	rec, err := readHolderFile(h.File)
	if err != nil {
		return -1, err
	}
	dir, err := procpid.Dir(rec.pid)
	if err != nil {
		return -1, fmt.Errorf("open the held user namespace: %w", err)
	}
	fd, err := unix.Open(dir+"/ns/user", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open the held user namespace: %w", err)
	}
	if err := checkHeld(fd, h.File, rec, id); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// checkHeld: the namespace behind fd, opened through /proc/PID, is the one
// made by the holder that rec names and that was started for file, a child
// of the caller's own, owned by the caller, with exactly id's maps. The
// start time is read last (isHolderOf): if it still matches, the process
// whose files were read is the holder.
func checkHeld(fd int, file string, rec holderRecord, id *identity) error {
	dir, err := procpid.Dir(rec.pid)
	if err != nil {
		return fmt.Errorf("read the held namespace's maps: %w", err)
	}
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
	return isHolderOf(rec, file)
}

// isHolderOf: the process rec names is the holder started for file with
// rec's token, in this process's pid and mount namespaces, and alive. Its
// argv says what it was started for: only the process itself can change
// it (or one that may trace it: the caller's own, outside every sandbox).
// The namespaces keep out every process of a sandbox, whatever its argv
// and user namespace: nook makes every sandbox a mount namespace of its
// own (and a session command a pid namespace too), and none can enter the
// caller's. (A nook started in another mount namespace of the caller's
// starts a holder of its own: a cost, no failure.) The start time is read
// last.
func isHolderOf(rec holderRecord, file string) error {
	dir, err := procpid.Dir(rec.pid)
	if err != nil {
		return fmt.Errorf("look at the recorded holder: %w", err)
	}
	for _, ns := range []string{"pid", "mnt"} {
		var theirs, own unix.Stat_t
		if err := unix.Stat(dir+"/ns/"+ns, &theirs); err != nil {
			return fmt.Errorf("read the recorded holder's %s namespace: %w", ns, err)
		}
		if err := unix.Stat("/proc/self/ns/"+ns, &own); err != nil {
			return fmt.Errorf("read this process's %s namespace: %w", ns, err)
		}
		if theirs.Dev != own.Dev || theirs.Ino != own.Ino {
			return fmt.Errorf("the recorded holder is in another %s namespace", ns)
		}
	}
	b, err := os.ReadFile(dir + "/cmdline")
	if err != nil {
		return fmt.Errorf("read the recorded holder's arguments: %w", err)
	}
	argv := strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
	if len(argv) != 5 || argv[0] != holderArg0 || argv[1] != holderArg1 || argv[2] != file || argv[4] != rec.token {
		return fmt.Errorf("the recorded process %d is not the holder started for %s", rec.pid, file)
	}
	// A holder that has exited but is not reaped yet (its parent is a
	// long-lived embedder, or a slow subreaper) still shows its namespace
	// and maps; it is gone all the same.
	if got, state, err := procStat(rec.pid); err != nil || got != rec.start || state == 'Z' || state == 'X' {
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
	token, err := holderToken()
	if err != nil {
		return -1, err
	}
	n := null.Fd()
	pid, err := syscall.ForkExec("/proc/self/exe", []string{holderArg0, holderArg1, h.File, idle.String(), token},
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
	dir, err := procpid.Dir(pid)
	if err != nil {
		return fail(fmt.Errorf("open the user namespace holder's namespace: %w", err))
	}
	fd, err := unix.Open(dir+"/ns/user", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fail(fmt.Errorf("open the user namespace holder's namespace: %w", err))
	}
	start, err := procStartTime(pid)
	if err == nil {
		err = writeHolderFile(h.File, holderRecord{pid: pid, start: start, token: token})
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
// gone or names another holder, or no sandbox used it for idle. It uses
// plain system calls only: os and time would open the runtime's poller (an
// epoll fd and an eventfd), and the holder keeps no fd but /dev/null.
func runHolder(file, idleArg, token string) int {
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
		mine := false
		if fd, err := unix.Open(file, unix.O_RDONLY|unix.O_CLOEXEC, 0); err == nil {
			n, _ := unix.Read(fd, buf)
			unix.Close(fd)
			if n > 0 {
				rec, ok := parseHolderRecord(string(buf[:n]))
				mine = ok && rec.pid == me && rec.token == token
			}
		}
		// The record is written just after the maps: give it time.
		if (statErr != nil || !mine) && age.Sec-born.Sec > 10 {
			return 0
		}
		if statErr == nil && mine && time.Duration(now.Nano()-st.Mtim.Nano()) > idle {
			return 0
		}
	}
}

// holderRecord is what a record file says: the holder's pid, its start
// time, and the token it was started with.
type holderRecord struct {
	pid   int
	start uint64
	token string
}

func readHolderFile(file string) (holderRecord, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return holderRecord{}, err
	}
	rec, ok := parseHolderRecord(string(b))
	if !ok {
		return holderRecord{}, fmt.Errorf("%s: not a user namespace record", file)
	}
	return rec, nil
}

// parseHolderRecord reads "PID STARTTIME TOKEN". (A record of an older
// nook, without a token, is no record: a new holder replaces it, and the
// old one exits since the record no longer names it.)
func parseHolderRecord(s string) (holderRecord, bool) {
	f := strings.Fields(s)
	if len(f) != 3 || !validToken(f[2]) {
		return holderRecord{}, false
	}
	pid, err1 := strconv.Atoi(f[0])
	start, err2 := strconv.ParseUint(f[1], 10, 64)
	if err1 != nil || err2 != nil || pid <= 0 {
		return holderRecord{}, false
	}
	return holderRecord{pid: pid, start: start, token: f[2]}, true
}

// holderToken is 128 random bits in hex. It is no secret (any process may
// read a holder's argv): it makes each holder, and so each record, one of
// a kind, so that a record names the holder started with it and no other,
// not even an earlier holder of the same file. From getrandom(2) itself,
// as session ids are (crypto/rand would link a FIPS module whose start-up
// every nook start would pay for); /dev/urandom where getrandom is
// missing or filtered.
func holderToken() (string, error) {
	var b [16]byte
	n := 0
	for n < len(b) {
		m, err := unix.Getrandom(b[n:], 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			break
		}
		n += m
	}
	if n < len(b) {
		f, err := os.Open("/dev/urandom")
		if err == nil {
			_, err = io.ReadFull(f, b[:])
			f.Close()
		}
		if err != nil {
			return "", fmt.Errorf("make a token for the user namespace holder: %w", err)
		}
	}
	return hex.EncodeToString(b[:]), nil
}

func validToken(s string) bool {
	if len(s) != 32 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// writeHolderFile replaces file atomically (a reader sees the old record
// or the new one).
func writeHolderFile(file string, rec holderRecord) error {
	tmp := file + ".new-" + strconv.Itoa(os.Getpid())
	err := os.WriteFile(tmp, fmt.Appendf(nil, "%d %d %s\n", rec.pid, rec.start, rec.token), 0o600)
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
	dir, err := procpid.Dir(pid)
	if err != nil {
		return 0, 0, err
	}
	b, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return 0, 0, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("%s/stat: no command name", dir)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0, 0, fmt.Errorf("%s/stat: too few fields", dir)
	}
	if len(f[0]) != 1 {
		return 0, 0, fmt.Errorf("%s/stat: state %q is not one letter", dir, f[0])
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
