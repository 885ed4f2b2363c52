package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/nook-project/nook/sandbox/seccomp"
	"golang.org/x/sys/unix"
)

// The sandbox init is this same binary, re-executed through /proc/self/exe
// with these two words as argv[0] and argv[1]. Importing package sandbox is
// enough to make a program able to act as it: the package's init function
// takes over before main runs.
const (
	initArg0 = "nook-init"
	initArg1 = "--nook-sandbox-init"
	// listenArg1 marks the small exec helper that pid 1 starts the command
	// through when fds are packed: only the started process knows its own
	// pid for LISTEN_PID.
	listenArg1 = "--nook-listen-exec"
)

func init() {
	if len(os.Args) == 4 && os.Args[0] == initArg0 && os.Args[1] == initArg1 {
		runInit()
	}
	if len(os.Args) >= 4 && os.Args[0] == initArg0 && os.Args[1] == listenArg1 {
		env := withEnv(os.Environ(), "LISTEN_PID", strconv.Itoa(os.Getpid()))
		err := unix.Exec(os.Args[2], os.Args[3:], env)
		fmt.Fprintf(os.Stderr, "nook: execute %s: %v\n", os.Args[2], err)
		os.Exit(ExitCannotExecute)
	}
}

// initConfig is what the parent sends the init over the spec pipe.
type initConfig struct {
	Spec     Spec `json:"spec"`
	InUserNS bool `json:"in_userns"`
	// FileFds maps the caller's fd numbers used by OpFile to where the init
	// received them.
	FileFds map[int]int `json:"file_fds,omitempty"`
	// PassFds are the fd numbers the command gets (already in place in the
	// init, renumbered when packing).
	PassFds []int `json:"pass_fds,omitempty"`
	// UID and GID, when not -1, are what the command switches to.
	UID int `json:"uid"`
	GID int `json:"gid"`
	// HoldFd, when not 0, is where the init received the read end of a
	// pipe it waits on (a byte or its end) before starting the command,
	// once it has said so on the status pipe (Ready): Spec.BeforeExec.
	HoldFd int `json:"hold_fd,omitempty"`
	// Umask is the caller's, restored before exec.
	Umask int `json:"umask"`
	// UIDMap and GIDMap, when set, are the init's own one-id maps, which
	// it writes itself before anything else.
	UIDMap string `json:"uid_map,omitempty"`
	GIDMap string `json:"gid_map,omitempty"`
	// Lock, when set, starts the command in a nested user and mount
	// namespace with these maps (lock.go); the init's own namespace maps
	// host ids onto themselves.
	Lock *lockConfig `json:"lock,omitempty"`
}

// statusMsg is one line from the init to the parent on the status pipe.
type statusMsg struct {
	Error   string `json:"error,omitempty"`
	Exit    int    `json:"exit,omitempty"`
	Started bool   `json:"started,omitempty"`
	// Ready: set up, waiting on HoldFd before starting the command.
	Ready bool `json:"ready,omitempty"`
	// Setup is the filesystem operation that failed, by its fields.
	Setup *SetupFailure `json:"setup,omitempty"`
	// WorkDir: the change to the command's working directory failed,
	// with Errno.
	WorkDir bool `json:"workdir,omitempty"`
	Errno   int  `json:"errno,omitempty"`
	// Stopped is the signal that stopped the command (pid-1 mode).
	Stopped int `json:"stopped,omitempty"`
	// Done carries the command's status from the pid-1 reaper.
	Done   bool `json:"done,omitempty"`
	Code   int  `json:"code,omitempty"`
	Signal int  `json:"signal,omitempty"`
}

func runInit() {
	// Every per-thread setting (capabilities, seccomp without TSYNC,
	// no_new_privs) must be made on the thread that execs.
	runtime.LockOSThread()
	Phase("init runs")
	specFd, err1 := strconv.Atoi(os.Args[2])
	statusFd, err2 := strconv.Atoi(os.Args[3])
	if err1 != nil || err2 != nil {
		fmt.Fprintln(os.Stderr, "nook: bad sandbox init arguments")
		os.Exit(ExitSetupFailed)
	}
	unix.CloseOnExec(specFd)
	unix.CloseOnExec(statusFd)
	status := os.NewFile(uintptr(statusFd), "status")
	fail := func(code int, err error) {
		msg := statusMsg{Error: err.Error(), Exit: code}
		var ae *applyError
		if errors.As(err, &ae) {
			msg.Setup = ae.setup
		}
		msg.WorkDir, msg.Errno = workDirFailure(err)
		b, _ := json.Marshal(msg)
		status.Write(append(b, '\n'))
		os.Exit(code)
	}
	var cfg initConfig
	specFile := os.NewFile(uintptr(specFd), "spec")
	if err := json.NewDecoder(specFile).Decode(&cfg); err != nil {
		fail(ExitSetupFailed, fmt.Errorf("read sandbox spec: %w", err))
	}
	specFile.Close()
	if cfg.UIDMap != "" {
		if err := writeOwnMaps(cfg.UIDMap, cfg.GIDMap); err != nil {
			fail(ExitSetupFailed, err)
		}
	}
	Phase("init has spec")
	keepFds := append([]int{statusFd}, cfg.PassFds...)
	if cfg.HoldFd != 0 {
		keepFds = append(keepFds, cfg.HoldFd)
	}
	for _, fd := range cfg.FileFds {
		keepFds = append(keepFds, fd)
	}
	closeStrayFds(keepFds)
	if err := applyFileLabel(cfg.Spec.FileLabel); err != nil {
		fail(ExitSetupFailed, err)
	}
	if err := setupSandbox(&cfg); err != nil {
		fail(ExitSetupFailed, err)
	}
	Phase("init set up")
	s := &cfg.Spec
	argv := append([]string(nil), s.Args...)
	if s.Argv0 != "" {
		argv[0] = s.Argv0
	}
	env := s.Env
	if s.PackFds && len(cfg.PassFds) > 0 {
		env = withEnv(env, "LISTEN_FDS", strconv.Itoa(len(cfg.PassFds)))
	}
	if cfg.HoldFd != 0 {
		if err := holdBeforeExec(status, cfg.HoldFd); err != nil {
			fail(ExitSetupFailed, err)
		}
	}
	if early != nil {
		// The command's process has its fds, its exec label and its
		// /proc (that of its own pid namespace, where this process has no
		// /proc/self): it only waits to be let go. This process leaves the
		// caller's directory on the host tree, which would stay busy (and
		// reachable) the whole run.
		if err := unix.Chdir("/"); err != nil {
			fail(ExitSetupFailed, fmt.Errorf("change pid 1's directory to /: %w", os.NewSyscallError("chdir", err)))
		}
		runPID1(status, early.release)
		return
	}
	if err := closeOnExecExcept(cfg.PassFds); err != nil {
		fail(ExitSetupFailed, err)
	}
	if s.SetPWD {
		if wd, err := os.Getwd(); err == nil {
			env = withEnv(env, "PWD", wd)
		}
	}
	// The exec label is the thread's, and a fork copies it: set here, it
	// holds for this thread's exec and for pid 1's fork and exec alike.
	if err := writeAttr("exec", s.ExecLabel); err != nil {
		fail(ExitSetupFailed, err)
	}
	if cfg.Lock != nil {
		// The command goes into a nested user and mount namespace
		// (lock.go): this process stays as its parent, pid 1 or not.
		runPID1(status, func() (int, error) { return startLocked(&cfg) })
		return
	}
	if s.underInit() {
		runPID1(status, func() (int, error) {
			return startPlain(s.Args[0], argv, env, cfg.PassFds, s.setsListenPID(env, len(cfg.PassFds)))
		})
		return
	}
	if s.setsListenPID(env, len(cfg.PassFds)) {
		env = withEnv(env, "LISTEN_PID", strconv.Itoa(os.Getpid()))
	}
	err := execWithFallback(s, argv, env)
	var ee *execError
	if errors.As(err, &ee) {
		fail(ee.code, err)
	}
	fail(ExitCannotExecute, err)
}

// setsListenPID reports whether the command's environment env (LISTEN_FDS
// already added for packed fds) gets LISTEN_PID, npass fds passed.
func (s *Spec) setsListenPID(env []string, npass int) bool {
	if s.PackFds && npass > 0 {
		return true
	}
	if s.ListenPID {
		for _, kv := range env {
			if strings.HasPrefix(kv, "LISTEN_FDS=") {
				return true
			}
		}
	}
	return false
}

func withEnv(env []string, key, value string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	return append(out, key+"="+value)
}

// setupSandbox does everything between the namespaces being made and the
// command being started, in the order that keeps each step possible: mounts
// while all capabilities are held, then the process's own identity, then
// dropping what the command must not keep, seccomp last.
func setupSandbox(cfg *initConfig) error {
	s := &cfg.Spec
	unix.Umask(0)
	files := map[int]*os.File{}
	for callerFd, fd := range cfg.FileFds {
		unix.CloseOnExec(fd)
		files[callerFd] = os.NewFile(uintptr(fd), fmt.Sprintf("fd%d", callerFd))
	}
	// bwrap's --userns-block-fd: nothing that needs the id maps before it.
	if err := waitOn(s.UserNSBlockFD, files); err != nil {
		return err
	}
	var procs []int
	if asPID1Below(cfg) {
		// The command's process first: its /proc (aspid1init.go).
		var err error
		if procs, err = forkAsPID1(cfg); err != nil {
			return err
		}
	}
	t, err := newTree(cfg.InUserNS)
	if err != nil {
		return fmt.Errorf("prepare the new root: %w", err)
	}
	t.procs = procs
	t.ttyGID = 5
	if cfg.Lock != nil {
		t.ttyGID = outerID(cfg.Lock.GIDMap, 5)
	}
	t.bwrapModes = s.BwrapModes
	t.bwrapMountFlags = s.BwrapMountFlags
	Phase("init staged")
	for _, m := range Plan(s.Mounts, s.SortMounts) {
		if err := t.apply(m, files); err != nil {
			return &applyError{msg: fmt.Sprintf("%s %s: %v", m.Op, m.Dest, err), setup: setupFailureOf(m, err), err: err}
		}
	}
	if err := waitOn(s.BlockFD, files); err != nil {
		return err
	}
	// Before the root switch: /proc/sys is still the host's procfs.
	if err := limitUserNS(s, files, cfg.Lock != nil); err != nil {
		return err
	}
	for _, f := range files {
		f.Close()
	}
	if cfg.Lock != nil && lockProc < 0 {
		// Before the root switch, as the raw engine's (lock.go).
		if lockProc, err = unix.Open("/proc", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
			return &os.PathError{Op: "open", Path: "/proc", Err: err}
		}
	}
	moved, err := t.finish(s.NoPivotRoot)
	if err != nil {
		return err
	}
	if s.SharedPropagation && cfg.Lock == nil {
		// Locked, the command's process shares its own (lock.go).
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SHARED, ""); err != nil {
			return &os.PathError{Op: "make the sandbox's mounts shared", Path: "/", Err: err}
		}
	}
	if moved && early != nil && cfg.Lock == nil {
		// The command's process would keep what the chroot leaves open
		// (CAP_SYS_ADMIN, CAP_SYS_CHROOT); see below.
		return errors.New("the new root could not be switched to with pivot_root(2) (is / a mount point?), " +
			"and without it nook cannot start the command as pid 1 below its own")
	}
	if moved && cfg.Lock != nil {
		// A chrooted process may not make a user namespace (EPERM), so
		// nook's mounts could not be locked against the command.
		return errors.New("the new root could not be switched to with pivot_root(2) (is / a mount point?), " +
			"and without it nook cannot lock its mounts against the command")
	}
	if err := takeLocks(s.LockFiles); err != nil {
		return err
	}
	Phase("init pivoted")
	if s.Hostname != "" {
		if err := unix.Sethostname([]byte(s.Hostname)); err != nil {
			return os.NewSyscallError("sethostname", err)
		}
	}
	if s.Namespaces.Net {
		if err := loopbackUp(); err != nil {
			return err
		}
	}
	if p := personalities[s.Personality]; p >= 0 {
		if _, _, e := unix.Syscall(unix.SYS_PERSONALITY, uintptr(p), 0, 0); e != 0 {
			return fmt.Errorf("set the personality %s: %w", s.Personality, e)
		}
	}
	if err := enterDir(s); err != nil {
		return err
	}
	if cfg.Lock != nil {
		// Ids, keyring, seccomp and capabilities are the command's
		// process's, after it is nested (startLocked). A namespace the
		// init may make here, the nested one may make too.
		return assertUserNSDisabled(s)
	}
	if err := switchIDs(cfg.UID, cfg.GID, s.Identity.Groups); err != nil {
		return err
	}
	keep, err := keptCaps(s.Caps)
	if err != nil {
		return err
	}
	if moved {
		// After MS_MOVE + chroot the old tree still lies under the new
		// root, not detached: with CAP_SYS_ADMIN (umount, setns) or
		// CAP_SYS_CHROOT the command could climb back to it. Keep them
		// only when asked for by name.
		keep &^= 1<<capSysAdmin | 1<<capSysChroot
		for _, a := range s.Caps.Add {
			if c, err := ParseCap(a); err == nil && (c == capSysAdmin || c == capSysChroot) {
				keep |= 1 << uint(c)
			}
		}
	}
	// Real root switching to another uid without a user namespace gets no
	// capabilities unless asked: they would be the host's.
	if !cfg.InUserNS && cfg.UID > 0 {
		keep, err = addedCaps(s.Caps)
		if err != nil {
			return err
		}
	}
	filter, err := seccomp.Program(runtime.GOARCH, seccomp.Options{SuppressChown: s.SuppressChown, SuppressSync: s.SuppressSync})
	if err != nil {
		return fmt.Errorf("build seccomp filter: %w", err)
	}
	// Installing a filter needs CAP_SYS_ADMIN or no_new_privs; do it while
	// the capability is still held, whatever the command keeps.
	if err := seccomp.Install(filter); err != nil {
		return fmt.Errorf("install seccomp filter: %w", err)
	}
	if err := applyCapsAs(s, keep, os.Geteuid() != 0); err != nil {
		return err
	}
	if s.NoNewPrivs {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return os.NewSyscallError("prctl PR_SET_NO_NEW_PRIVS", err)
		}
	}
	if err := assertUserNSDisabled(s); err != nil {
		return err
	}
	// The caller's own filters come last: they may forbid what the steps
	// above need.
	if err := installPrograms(s.SeccompPrograms); err != nil {
		return err
	}
	unix.Umask(cfg.Umask)
	return nil
}

// enterDir changes to the command's working directory: the one asked for,
// or the caller's own when it exists inside, else /.
func enterDir(s *Spec) error {
	if s.Dir != "" {
		if err := unix.Chdir(s.Dir); err != nil {
			return &workDirError{&os.PathError{Op: "change to working directory", Path: s.Dir, Err: err}}
		}
		return nil
	}
	if s.CallerDir != "" && unix.Chdir(s.CallerDir) == nil {
		return nil
	}
	if home := envValue(s.Env, "HOME"); s.HomeFallback && home != "" && unix.Chdir(home) == nil {
		return nil
	}
	return chdirRoot()
}

// supplementaryGroups is the group list after a switch to gid: the gid
// first, then the asked-for groups without repeats.
func supplementaryGroups(groups []int, gid int) []int {
	out := []int{gid}
	for _, g := range groups {
		if g >= 0 && !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	return out
}

// switchIDs moves the process to the command's uid and gid, keeping its
// capabilities across the change so applyCaps can decide what stays.
func switchIDs(uid, gid int, groups []int) error {
	if uid < 0 && gid < 0 {
		return nil
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return os.NewSyscallError("prctl PR_SET_KEEPCAPS", err)
	}
	if gid >= 0 && gid != os.Getgid() {
		if err := unix.Setresgid(gid, gid, gid); err != nil {
			return fmt.Errorf("switch to gid %d: %w", gid, err)
		}
	}
	{
		// Supplementary groups go with the old identity. In a user
		// namespace with setgroups denied this fails harmlessly.
		g := gid
		if g < 0 {
			g = os.Getgid()
		}
		if err := unix.Setgroups(supplementaryGroups(groups, g)); err != nil && !errors.Is(err, unix.EPERM) {
			return fmt.Errorf("set supplementary groups: %w", err)
		}
	}
	if uid >= 0 && uid != os.Getuid() {
		if err := unix.Setresuid(uid, uid, uid); err != nil {
			return fmt.Errorf("switch to uid %d: %w", uid, err)
		}
	}
	// Changing ids clears the parent-death signal; set it again so the
	// sandbox still dies with nook.
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
		return os.NewSyscallError("prctl PR_SET_PDEATHSIG", err)
	}
	// A uid change from 0 clears the effective set; permitted survives
	// thanks to KEEPCAPS, so raise effective again for what follows.
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return os.NewSyscallError("capget", err)
	}
	data[0].Effective, data[1].Effective = data[0].Permitted, data[1].Permitted
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return os.NewSyscallError("capset", err)
	}
	return nil
}

// loopbackUp brings up lo in a new network namespace, as every program that
// talks to localhost expects.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return os.NewSyscallError("socket", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return fmt.Errorf("bring up lo: %w", err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("read flags of lo: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring up lo: %w", err)
	}
	return nil
}

// writeOwnMaps maps this process's own ids into its new user namespace:
// an unprivileged process may write one line mapping its own id, once
// setgroups is denied.
func writeOwnMaps(uidMap, gidMap string) error {
	for _, f := range []struct{ path, data string }{
		{"/proc/self/setgroups", "deny"}, {"/proc/self/uid_map", uidMap}, {"/proc/self/gid_map", gidMap},
	} {
		fd, err := unix.Open(f.path, unix.O_WRONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			if f.path == "/proc/self/setgroups" && errors.Is(err, unix.ENOENT) {
				continue // before Linux 3.19
			}
			return &os.PathError{Op: "open", Path: f.path, Err: err}
		}
		_, err = unix.Write(fd, []byte(f.data))
		unix.Close(fd)
		if err != nil {
			return &os.PathError{Op: "write", Path: f.path, Err: err}
		}
	}
	return nil
}

// workDirError is the Go init's failure to enter the command's working
// directory, told to the parent by the status message's fields
// (StartError.WorkDir).
type workDirError struct{ *os.PathError }

func (e *workDirError) Unwrap() error { return e.PathError }

// workDirFailure reports whether err is a failure to enter the command's
// working directory, in the Go init or in a raw program it ran (the
// command's process of a locked sandbox), and its errno.
func workDirFailure(err error) (bool, int) {
	var wd *workDirError
	var se *StartError
	var en unix.Errno
	switch {
	case errors.As(err, &wd):
		errors.As(err, &en)
		return true, int(en)
	case errors.As(err, &se) && se.workDir:
		return true, int(se.errno)
	}
	return false, 0
}
