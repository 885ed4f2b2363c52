package session

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// The stdio of a command run into a booted container is relayed, never
// handed over: the container is in the hands of its own root, and a
// process the command leaves behind (or root inside, through /proc/PID/fd)
// would keep whatever it was given for as long as the session lives,
// reading the caller's terminal and writing the caller's files, and
// holding a `run … | cat` open. The agent gets pipes of nook's instead;
// nook copies between them and the caller's files while the command runs
// and stops once it has ended (docs/known-issues.md used to list this as
// 11). The agent does the same between those pipes and a pseudo-terminal
// of the container's own when the caller has a terminal.

// relayStop, once closed, tells a copier that the command has ended.
type relayStop struct {
	r, w *os.File
	once sync.Once
}

func newRelayStop() (*relayStop, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("make a pipe to stop the stdio relays: %w", err)
	}
	return &relayStop{r: r, w: w}, nil
}

// stop tells the copiers; it may be called more than once.
func (s *relayStop) stop() { s.once.Do(func() { s.w.Close() }) }

// close releases both ends once the copiers are done.
func (s *relayStop) close() {
	s.stop()
	s.r.Close()
}

// relayPipe is a pipe for a command's stdio. Its inode is made openable
// by anyone: the command may run as any user inside, and reopening
// /proc/self/fd/N or /dev/stdout goes through a permission check on it
// (the pipe is reachable only through a process that holds it).
// nonblockingEnd (0 read, 1 write) is nook's end: the copier must never
// block on it past the command's end.
func relayPipe(nonblockingEnd int) (r, w *os.File, err error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return nil, nil, os.NewSyscallError("pipe2 for a stdio relay", err)
	}
	if err := unix.Fchmod(p[0], 0o666); err != nil {
		unix.Close(p[0])
		unix.Close(p[1])
		return nil, nil, os.NewSyscallError("fchmod a stdio relay pipe", err)
	}
	if err := unix.SetNonblock(p[nonblockingEnd], true); err != nil {
		unix.Close(p[0])
		unix.Close(p[1])
		return nil, nil, os.NewSyscallError("set a stdio relay pipe nonblocking", err)
	}
	return os.NewFile(uintptr(p[0]), "stdio relay"), os.NewFile(uintptr(p[1]), "stdio relay"), nil
}

// copyFds copies from src to dst until src ends (end of file, or EIO: a
// pty master whose last slave closed), either fails, or stop becomes
// readable. After stop, with drain, what src holds at that moment is
// still copied, and no more (src must then be nonblocking);
// without drain, copying ends at once. It returns how many bytes it read
// and how many of those it could not write.
//
// Reads wait in poll, never in read: src may be the caller's own file,
// which must not be made nonblocking (its file description is shared
// with the caller's shell), and a blocked read could not see stop. A dst
// that is nonblocking is waited for in poll too, with stop.
func copyFds(src, dst int, stop *os.File, drain bool) (read int64, unwritten int) {
	buf := make([]byte, 32<<10)
	stopped := false
	var limit int64
	stopFd := int(stop.Fd())
	for {
		if stopped && limit <= 0 {
			return read, 0
		}
		b := buf
		if stopped && int64(len(b)) > limit {
			b = b[:limit]
		}
		if !stopped {
			fds := []unix.PollFd{{Fd: int32(src), Events: unix.POLLIN}, {Fd: int32(stopFd), Events: unix.POLLIN}}
			if _, err := unix.Poll(fds, -1); err != nil {
				if errors.Is(err, unix.EINTR) {
					continue
				}
				return read, 0
			}
			if fds[1].Revents != 0 {
				if !drain {
					return read, 0
				}
				stopped = true
				limit = drainLimit(src)
			} else if fds[0].Revents&(unix.POLLNVAL) != 0 {
				return read, 0
			}
		}
		n, err := unix.Read(src, b)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EAGAIN):
			if stopped {
				return read, 0
			}
			continue
		case err != nil || n == 0:
			return read, 0
		}
		read += int64(n)
		if stopped {
			limit -= int64(n)
		}
		if left := writeFd(dst, b[:n], stopFd, stopped); left > 0 {
			return read, left
		}
	}
}

// drainLimit is how much a copier takes from src after the command ended:
// what a pipe holds at that moment, and no more (a process the command
// left behind may go on writing). A pty master's count (TIOCINQ) leaves
// out what the slave's writes still have in flight to it, which a read
// flushes first (n_tty_read), so there copying goes on until EAGAIN, up to
// a bound of its own.
func drainLimit(src int) int64 {
	var st unix.Stat_t
	if unix.Fstat(src, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFIFO {
		if n, err := unix.IoctlGetInt(src, unix.TIOCINQ); err == nil {
			return int64(n)
		}
	}
	return 1 << 20
}

// writeFd writes all of b to dst; on a nonblocking dst that is full it
// waits for room, or (unless stopped already, when the copier drains)
// for stop. It returns how much of b it did not write.
func writeFd(dst int, b []byte, stop int, stopped bool) int {
	for len(b) > 0 {
		n, err := unix.Write(dst, b)
		if n > 0 {
			b = b[n:]
		}
		switch {
		case errors.Is(err, unix.EINTR):
		case errors.Is(err, unix.EAGAIN):
			fds := []unix.PollFd{{Fd: int32(dst), Events: unix.POLLOUT}}
			if !stopped {
				fds = append(fds, unix.PollFd{Fd: int32(stop), Events: unix.POLLIN})
			}
			if _, err := unix.Poll(fds, -1); err != nil && !errors.Is(err, unix.EINTR) {
				return len(b)
			}
			if len(fds) > 1 && fds[1].Revents != 0 {
				return len(b)
			}
		case err != nil:
			return len(b)
		}
	}
	return 0
}

// sameFile reports whether a and b are one open file (2>&1), so that
// one relay keeps their order.
func sameFile(a, b *os.File) bool {
	var sa, sb unix.Stat_t
	if unix.Fstat(int(a.Fd()), &sa) != nil || unix.Fstat(int(b.Fd()), &sb) != nil {
		return false
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino
}

func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// makeRaw puts the caller's terminal in raw mode (as cfmakeraw does) while
// the command has a terminal of its own inside: keys, ^C included, go to
// that terminal, whose line discipline acts on them. It returns what
// restores the terminal.
func makeRaw(f *os.File) (restore func(), err error) {
	fd := int(f.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, os.NewSyscallError("ioctl TCGETS on the caller's terminal", err)
	}
	raw := *old
	raw.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	raw.Oflag &^= unix.OPOST
	raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	raw.Cflag &^= unix.CSIZE | unix.PARENB
	raw.Cflag |= unix.CS8
	raw.Cc[unix.VMIN] = 1
	raw.Cc[unix.VTIME] = 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETSW, &raw); err != nil {
		return nil, os.NewSyscallError("ioctl TCSETSW on the caller's terminal", err)
	}
	return func() { unix.IoctlSetTermios(fd, unix.TCSETSW, old) }, nil
}

// windowSize is the caller's terminal's size, 0 0 when it has none.
func windowSize(f *os.File) (rows, cols uint16) {
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return 0, 0
	}
	return ws.Row, ws.Col
}

// giveBack returns to a seekable stdin what was read from it but not
// consumed by the command: what the relay could not write, and what is
// still in the relay pipe (counted on a read end nook kept). A command of
// an ordinary session leaves the rest of its stdin for the caller's next
// command; so does one run into a booted container.
func giveBack(stdin *os.File, unwritten int, pipeRead *os.File) {
	left := unwritten
	if pipeRead != nil {
		if n, err := unix.IoctlGetInt(int(pipeRead.Fd()), unix.TIOCINQ); err == nil {
			left += n
		}
	}
	if left <= 0 {
		return
	}
	var st unix.Stat_t
	if unix.Fstat(int(stdin.Fd()), &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return
	}
	unix.Seek(int(stdin.Fd()), -int64(left), io.SeekCurrent)
}
