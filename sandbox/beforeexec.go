package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Spec.BeforeExec: the init, set up, says so on the status pipe and waits
// on a pipe of the parent's until the parent's callback has returned.

// holdBeforeExec reports Ready on status and waits for a byte or the end
// of the hold pipe (fd), which it then closes.
func holdBeforeExec(status *os.File, fd int) error {
	b, _ := json.Marshal(statusMsg{Ready: true})
	if _, err := status.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("report the sandbox set up: %w", err)
	}
	var one [1]byte
	for {
		_, err := unix.Read(fd, one[:])
		if errors.Is(err, unix.EINTR) {
			continue
		}
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("wait to start the command (hold fd %d): %w", fd, err)
		}
		return nil
	}
}

// releaseHold runs the callback for a Ready message and lets the init go
// on by closing the write end of its hold pipe.
func releaseHold(s *Spec, hold *os.File) {
	if s.BeforeExec != nil {
		s.BeforeExec()
	}
	hold.Close()
}

// StopSelf stops this process (SIGSTOP, which cannot be caught) until it
// is continued: a BeforeExec for a caller that waits for the stop
// (mkosi-sandbox's --suspend). The signal goes to the calling thread, so
// the thread stops before it returns from the call: sent to the process,
// it may be taken by another thread while this one goes on and lets the
// command start.
func StopSelf() {
	unix.Tgkill(unix.Getpid(), unix.Gettid(), unix.SIGSTOP)
}
