package sandbox

import (
	"errors"
	"os"
	"sort"
	"strconv"

	"golang.org/x/sys/unix"
)

// closeOnExecExcept marks every fd above 2 close-on-exec except keep, so the
// command receives exactly stdio and the fds the spec passes: nothing the
// init inherited by accident (its parent's stray fds) or opened itself
// (CVE-2024-21626 was a runtime's own fd reaching the container). Marking,
// not closing: the Go runtime may hold fds of its own until exec.
func closeOnExecExcept(keep []int) error {
	ks := append([]int(nil), keep...)
	sort.Ints(ks)
	from := 3
	for _, k := range append(ks, -1) {
		to := k - 1
		if k < 0 {
			to = int(^uint(0) >> 1)
		}
		if k >= 0 && k < from {
			continue
		}
		if to >= from {
			if err := cloexecRange(from, to); err != nil {
				return err
			}
		}
		if k >= 0 {
			from = k + 1
		}
	}
	return nil
}

// CloseOnExecExcept marks every fd above 2 close-on-exec except keep, as
// the init does before the command: for a front end that starts helpers of
// its own (the boot supervisor), which must not hold the fds its caller
// left open.
func CloseOnExecExcept(keep ...int) error { return closeOnExecExcept(keep) }

func cloexecRange(from, to int) error {
	last := uint(to)
	if to == int(^uint(0)>>1) {
		last = ^uint(0)
	}
	err := unix.CloseRange(uint(from), last, unix.CLOSE_RANGE_CLOEXEC)
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EINVAL) {
		return os.NewSyscallError("close_range", err)
	}
	// Before Linux 5.11: walk up to the fd limit.
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return os.NewSyscallError("getrlimit", err)
	}
	for fd := from; fd <= to && uint64(fd) < lim.Cur; fd++ {
		unix.CloseOnExec(fd)
	}
	return nil
}

// closeStrayFds closes every fd above 2 that is neither in keep nor
// close-on-exec: fds the init inherited without anyone asking (the caller
// of an embedding program left them open). The Go runtime's own fds are all
// close-on-exec, so they are left alone here and vanish at exec.
func closeStrayFds(keep []int) {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	kept := map[int]bool{}
	for _, k := range keep {
		kept[k] = true
	}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd <= 2 || kept[fd] {
			continue
		}
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err == nil && flags&unix.FD_CLOEXEC == 0 {
			unix.Close(fd)
		}
	}
}

// DirFd reports whether fd is an open directory (read or O_PATH). Such an
// fd is a way out of any sandbox: it names a directory of the host's mount
// namespace, so openat(fd, "..") walks the host's tree whatever root the
// sandbox has (CVE-2024-21626 was a runtime's own directory fd). nook's
// faces pass an inherited directory fd only when asked for it by number.
func DirFd(fd int) bool {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return false
	}
	return st.Mode&unix.S_IFMT == unix.S_IFDIR
}

// CallerFds is the set of fds the caller passed: inherited (the fds above
// 2 open at start without close-on-exec) and those of 0, 1 and 2 that are
// open. A front end checks an fd argument against it: any other number may
// be one the Go runtime opened for itself before main.
func CallerFds(inherited []int) map[int]bool {
	set := map[int]bool{}
	for fd := 0; fd <= 2; fd++ {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil {
			set[fd] = true
		}
	}
	for _, fd := range inherited {
		set[fd] = true
	}
	return set
}
