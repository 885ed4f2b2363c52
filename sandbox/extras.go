package sandbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/nook-project/nook/sandbox/seccomp"
	"golang.org/x/sys/unix"
)

// Steps the init takes for the Spec fields added for the bwrap personality:
// waiting on block fds, holding lock files, binding an fd, and the caller's
// own seccomp programs. Each is a no-op for the zero value of its field.

// underInit reports whether the command runs as a child of nook's init
// (which then reaps, forwards and reports its status) rather than in the
// init's place.
func (s *Spec) underInit() bool {
	if s.AsPID1 {
		return false
	}
	return s.Namespaces.PID || s.KeepInit || len(s.LockFiles) > 0 || s.DisableUserNS || s.UserNS2 != nil
}

// usesCallerFD reports whether the operation reads the caller's fd m.FD.
func (m *Mount) usesCallerFD() bool {
	return m.Op == OpFile || (m.FromFD && (m.Op == OpBind || m.Op == OpDevBind))
}

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

// heldLocks keeps the lock files' handles (and so their locks) for the
// init's lifetime; a collected *os.File would close its fd.
var heldLocks []*os.File

// takeLocks opens each path (inside the new root: the init has switched
// root) and takes a read lock on the whole file. The fds are close-on-exec:
// the init holds them while it waits for the command, which never sees them.
func takeLocks(paths []string) error {
	for _, p := range paths {
		f, err := os.OpenFile(p, os.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open lock file: %w", err)
		}
		lk := unix.Flock_t{Type: unix.F_RDLCK, Whence: io.SeekStart}
		if err := unix.FcntlFlock(f.Fd(), unix.F_SETLK, &lk); err != nil {
			f.Close()
			return &os.PathError{Op: "lock", Path: p, Err: err}
		}
		heldLocks = append(heldLocks, f)
	}
	return nil
}

// bindFD binds what the caller's fd src (an open directory or O_PATH
// handle, as received by the init) refers to onto m.Dest.
//
// The fd's mount belongs to the caller's mount namespace, which open_tree
// refuses to clone from (EINVAL). So the fd's path is looked up in the
// host clone instead, and the result must be the very same inode as the
// fd: a path that was renamed or replaced since the caller opened it is
// refused rather than followed.
func (t *tree) bindFD(m Mount, src *os.File) error {
	if src == nil {
		return fmt.Errorf("file descriptor %d to bind was not passed", m.FD)
	}
	p, err := os.Readlink(fdPath(src))
	if err != nil {
		return fmt.Errorf("find the path of fd %d: %w", m.FD, err)
	}
	h, err := t.openHost(p)
	if err != nil {
		return err
	}
	defer h.Close()
	var want, got unix.Stat_t
	if err := unix.Fstat(int(src.Fd()), &want); err != nil {
		return &os.PathError{Op: "fstat", Path: fdPath(src), Err: err}
	}
	if err := unix.Fstat(int(h.Fd()), &got); err != nil {
		return &os.PathError{Op: "fstat", Path: p, Err: err}
	}
	if want.Dev != got.Dev || want.Ino != got.Ino {
		return fmt.Errorf("fd %d (%s) is no longer reachable by its path", m.FD, p)
	}
	return t.bindFrom(m, h)
}

// installPrograms installs the caller's compiled seccomp programs, in order.
// When the command goes into another user namespace (usernslimit.go), the
// raw child that moves it installs them instead, after the move: a
// program may well forbid making or entering user namespaces.
func installPrograms(progs [][]byte) error {
	for i, raw := range progs {
		prog, err := DecodeFilter(raw)
		if err != nil {
			return fmt.Errorf("seccomp program %d: %w", i+1, err)
		}
		if nested != nil {
			nested.progs = append(nested.progs, unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]})
			continue
		}
		if err := seccomp.Install(prog); err != nil {
			return fmt.Errorf("install seccomp program %d: %w", i+1, err)
		}
	}
	return nil
}

// DecodeFilter turns a compiled classic BPF program, as libseccomp's
// seccomp_export_bpf writes it (struct sock_filter records of 8 bytes in
// native byte order), into instructions.
func DecodeFilter(raw []byte) ([]unix.SockFilter, error) {
	if len(raw) == 0 || len(raw)%8 != 0 {
		return nil, fmt.Errorf("%d bytes is not a whole number of 8-byte BPF instructions", len(raw))
	}
	prog := make([]unix.SockFilter, len(raw)/8)
	for i := range prog {
		r := raw[8*i:]
		prog[i] = unix.SockFilter{
			Code: binary.NativeEndian.Uint16(r[0:]),
			Jt:   r[2],
			Jf:   r[3],
			K:    binary.NativeEndian.Uint32(r[4:]),
		}
	}
	return prog, nil
}

// envValue is key's value in env ("" when unset).
func envValue(env []string, key string) string {
	v := ""
	for _, kv := range env {
		if s, ok := strings.CutPrefix(kv, key+"="); ok {
			v = s
		}
	}
	return v
}

// AllCaps lists the capabilities the running kernel knows, by number.
func AllCaps() []int {
	out := make([]int, 0, lastCap()+1)
	for c := 0; c <= lastCap(); c++ {
		out = append(out, c)
	}
	return out
}

// EffectiveCaps lists the capabilities in the calling thread's effective set.
func EffectiveCaps() ([]int, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return nil, os.NewSyscallError("capget", err)
	}
	eff := uint64(data[0].Effective) | uint64(data[1].Effective)<<32
	var out []int
	for _, c := range AllCaps() {
		if eff&(1<<uint(c)) != 0 {
			out = append(out, c)
		}
	}
	return out, nil
}

// fallbackShell runs what the kernel cannot (ShellFallback).
const fallbackShell = "/bin/sh"

// shellFallback is the init's copy of Spec.ShellFallback for pid 1.
var shellFallback bool

// shellArgv is the argv execvp(3) gives the shell for a file it could not
// execute: the shell, the file, then the command's arguments.
func shellArgv(path string, argv []string) []string {
	return append([]string{fallbackShell, path}, argv[1:]...)
}

// execWithFallback is execCommand, but with ShellFallback a file found and
// refused with ENOEXEC is run by /bin/sh.
func execWithFallback(s *Spec, argv, env []string) error {
	if s.ShellFallback {
		if path, err := resolveCommand(s.Args[0], env); err == nil {
			if err := unix.Exec(path, argv, env); errors.Is(err, unix.ENOEXEC) {
				return execCommand(fallbackShell, shellArgv(path, argv), env)
			}
		}
	}
	return execCommand(s.Args[0], argv, env)
}

// procOrBind mounts a new procfs, or with m.FallbackBind binds the host's
// /proc where the kernel refuses one (EPERM: no pid namespace of our own).
func (t *tree) procOrBind(m Mount) error {
	err := t.proc(m.Dest)
	if err != nil && m.FallbackBind && errors.Is(err, unix.EPERM) {
		return t.bind(Mount{Op: OpBind, Source: "/proc", Dest: m.Dest})
	}
	return err
}

// openSource opens a bind's source: a host path, or with m.SourceInRoot a
// path inside the new root.
func (t *tree) openSource(m Mount) (*os.File, error) {
	if m.SourceInRoot {
		return t.openIn(m.Source)
	}
	return t.openHost(m.Source)
}
