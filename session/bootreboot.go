package session

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// ErrRebootFailed: a booted session's container did not come back from a
// reboot within the bound, or its supervisor ended instead.
var ErrRebootFailed = errors.New("the booted session did not come back from its reboot")

// Reboots is how many reboots booted session id's container has come back
// from. A caller that lets the container reboot itself (a test running
// `reboot`) takes it first and then waits with WaitReboot.
func (s *Store) Reboots(id string) (int, error) {
	st, err := s.bootedState(id)
	if err != nil {
		return 0, err
	}
	var rec bootRecord
	if err := readJSON(filepath.Join(st.Dir, bootRecordFile), &rec); err != nil {
		return 0, fmt.Errorf("reboot session %s: %w", st.ID, err)
	}
	return rec.Reboots, nil
}

// Reboot reboots booted session id's container, as `reboot` inside would
// (systemd stops its services and the container's pid namespace ends),
// and waits until it has booted again on the same tree: files stay, what
// ran does not, /run and /tmp are new tmpfs.
func (s *Store) Reboot(id string) error {
	before, err := s.Reboots(id)
	if err != nil {
		return err
	}
	st, err := s.bootedState(id)
	if err != nil {
		return err
	}
	var rec bootRecord
	if err := readJSON(filepath.Join(st.Dir, bootRecordFile), &rec); err != nil {
		return fmt.Errorf("reboot session %s: %w", st.ID, err)
	}
	// A pidfd taken while the supervisor holds its lock names it and no
	// process that reused its pid later (as stopBoot does).
	pidfd, err := unix.PidfdOpen(rec.Supervisor, 0)
	if err != nil {
		return fmt.Errorf("reboot session %s: %w", st.ID, err)
	}
	defer unix.Close(pidfd)
	if !bootAlive(st.Dir) {
		return fmt.Errorf("%w: session %s (begin a new one)", ErrBootNotRunning, st.ID)
	}
	if err := unix.PidfdSendSignal(pidfd, sigAskReboot, nil, 0); err != nil {
		return fmt.Errorf("reboot session %s: %w", st.ID, err)
	}
	return s.WaitReboot(id, before, stopTimeout()+bootTimeout()+15*time.Second)
}

// WaitReboot waits, at most bound, until booted session id's container
// has come back from more than after reboots (Reboots).
func (s *Store) WaitReboot(id string, after int, bound time.Duration) error {
	st, err := s.bootedState(id)
	if err != nil {
		return err
	}
	for deadline := time.Now().Add(bound); ; time.Sleep(100 * time.Millisecond) {
		var rec bootRecord
		if err := readJSON(filepath.Join(st.Dir, bootRecordFile), &rec); err == nil && rec.Reboots > after {
			return nil
		}
		if !bootAlive(st.Dir) {
			return fmt.Errorf("%w: session %s's container ended (see %s)", ErrRebootFailed, st.ID, filepath.Join(st.Dir, bootConsoleLog))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: session %s, within %v (see %s)", ErrRebootFailed, st.ID, bound, filepath.Join(st.Dir, bootConsoleLog))
		}
	}
}

// bootedState is session id, which must be booted (a long-lived one has
// no systemd to reboot).
func (s *Store) bootedState(id string) (*State, error) {
	st, err := s.Get(id)
	if err != nil {
		return nil, err
	}
	if !st.Boot {
		return nil, fmt.Errorf("session %s is not booted: only a booted session reboots", st.ID)
	}
	return st, nil
}
