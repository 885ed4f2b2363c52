package session

import (
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// agentTTY is the pseudo-terminal the agent makes inside the container for
// a caller who has a terminal: the command gets the slave as its
// controlling terminal, the agent relays between the master and the pipes
// nook sent (bootrelay.go), and nook relays those to the caller's terminal,
// which it puts in raw mode meanwhile. The pty is the container's own (its
// /dev/pts instance): nothing of the caller's terminal is inside.
type agentTTY struct {
	master, slave   *os.File
	stopIn, stopOut *relayStop
	wg              sync.WaitGroup
}

func newAgentTTY(rows, cols uint16) (_ *agentTTY, err error) {
	t := &agentTTY{}
	defer func() {
		if err != nil {
			t.close()
		}
	}()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, fmt.Errorf("agent: open a terminal: %w", err)
	}
	t.master = m
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		return nil, fmt.Errorf("agent: unlock a terminal: %w", os.NewSyscallError("ioctl TIOCSPTLCK", err))
	}
	// The slave through the master (TIOCGPTPEER, Linux 4.13), not by a
	// name in /dev/pts the container's root could swap.
	fd, _, errno := unix.Syscall(unix.SYS_IOCTL, m.Fd(), unix.TIOCGPTPEER, uintptr(unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC))
	if errno != 0 {
		return nil, fmt.Errorf("agent: open a terminal's slave: %w", os.NewSyscallError("ioctl TIOCGPTPEER", errno))
	}
	t.slave = os.NewFile(fd, "pty slave")
	if rows > 0 && cols > 0 {
		t.resize(rows, cols)
	}
	if err := unix.SetNonblock(int(m.Fd()), true); err != nil {
		return nil, fmt.Errorf("agent: %w", os.NewSyscallError("set a terminal's master nonblocking", err))
	}
	if t.stopIn, err = newRelayStop(); err != nil {
		return nil, err
	}
	if t.stopOut, err = newRelayStop(); err != nil {
		return nil, err
	}
	return t, nil
}

// chown gives the terminal to the command's user, as a login does, so
// that reopening it (/proc/self/fd/0) works for that user.
func (t *agentTTY) chown(uid, gid int) error {
	if err := t.slave.Chown(uid, -1); err != nil {
		return fmt.Errorf("agent: give the terminal to uid %d: %w", uid, err)
	}
	return t.slave.Chmod(0o620)
}

func (t *agentTTY) resize(rows, cols uint16) {
	unix.IoctlSetWinsize(int(t.master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols})
}

// started relays in to the master and the master to out, once the
// command holds the slave.
func (t *agentTTY) started(in, out *os.File) {
	t.slave.Close()
	t.slave = nil
	t.wg.Add(2)
	go func() {
		defer t.wg.Done()
		copyFds(int(in.Fd()), int(t.master.Fd()), t.stopIn.r, false)
	}()
	go func() {
		defer t.wg.Done()
		copyFds(int(t.master.Fd()), int(out.Fd()), t.stopOut.r, true)
	}()
}

// finish ends the relays once the command has ended: what it wrote is
// taken from the master, nothing a process it left behind writes later.
func (t *agentTTY) finish() {
	t.stopIn.stop()
	t.stopOut.stop()
	t.wg.Wait()
}

func (t *agentTTY) close() {
	for _, s := range []*relayStop{t.stopIn, t.stopOut} {
		if s != nil {
			s.stop()
		}
	}
	t.wg.Wait()
	for _, s := range []*relayStop{t.stopIn, t.stopOut} {
		if s != nil {
			s.close()
		}
	}
	for _, f := range []*os.File{t.master, t.slave} {
		if f != nil {
			f.Close()
		}
	}
}
