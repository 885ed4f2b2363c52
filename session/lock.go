package session

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// fileLock is an flock(2) on a file. The kernel drops it when the process
// dies, so a killed nook never leaves a lock behind.
type fileLock struct{ f *os.File }

// lockFile takes an exclusive lock on path, creating it. When the lock is
// held elsewhere and busy is not nil, busy is called once before waiting,
// so the caller can say what waits on what.
func lockFile(path string, busy func()) (*fileLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	l, err := flockFile(f, busy)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return l, nil
}

// tryLockFile is lockFile without waiting: errBusy when the lock is held
// elsewhere.
func tryLockFile(path string) (*fileLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	ok, err := tryLock(f)
	if err != nil || !ok {
		f.Close()
		if err == nil {
			err = errBusy
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return &fileLock{f: f}, nil
}

// tryLock takes the lock on an open file without waiting; ok is false when
// someone else holds it.
func tryLock(f *os.File) (ok bool, err error) {
	err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return false, nil
	}
	return err == nil, err
}

func flockFile(f *os.File, busy func()) (*fileLock, error) {
	ok, err := tryLock(f)
	if err != nil {
		return nil, err
	}
	if !ok {
		if busy != nil {
			busy()
		}
		for {
			err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
			if !errors.Is(err, unix.EINTR) {
				break
			}
		}
		if err != nil {
			return nil, err
		}
	}
	return &fileLock{f: f}, nil
}

// Unlock releases the lock.
func (l *fileLock) Unlock() {
	if l != nil && l.f != nil {
		l.f.Close()
		l.f = nil
	}
}

// names reports whether path still names the file l locks. A lock taken
// after waiting may be on a file that was renamed away meanwhile (its
// session ended), and a new file may hold the name (a new session of the
// same name): that lock guards nothing.
func (l *fileLock) names(path string) bool {
	var a, b unix.Stat_t
	if unix.Fstat(int(l.f.Fd()), &a) != nil || unix.Stat(path, &b) != nil {
		return false
	}
	return a.Dev == b.Dev && a.Ino == b.Ino
}
