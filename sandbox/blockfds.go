package sandbox

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Block fds (Spec.BlockFD, Spec.UserNSBlockFD): the init waits for the
// caller before going on.

// waitFds are the caller's fds the init blocks on.
func (s *Spec) waitFds() []int {
	var out []int
	for _, fd := range []*int{s.UserNSBlockFD, s.BlockFD, s.UserNS2} {
		if fd != nil {
			out = append(out, *fd)
		}
	}
	return out
}

// waitOn blocks until the caller's fd (received in files) has data or is at
// end of file. It reads at most one byte, as bwrap does: what follows is
// left for whoever else reads the fd.
func waitOn(fd *int, files map[int]*os.File) error {
	if fd == nil {
		return nil
	}
	f := files[*fd]
	if f == nil {
		return fmt.Errorf("file descriptor %d to block on was not passed", *fd)
	}
	var b [1]byte
	for {
		_, err := unix.Read(int(f.Fd()), b[:])
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read block fd %d: %w", *fd, err)
		}
		return nil
	}
}
