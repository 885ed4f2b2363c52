package bwrap

import (
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"

	"github.com/nook-project/nook/sandbox"
	"golang.org/x/sys/unix"
)

// option is one bwrap option: its name, how many arguments follow it, and
// what it does to the parse state. A table rather than a flag library:
// operations keep their relative order and "--opt=value" is not bwrap's.
type option struct {
	name  string
	nargs int
	// takesPerms and takesSize: the option consumes a pending --perms or
	// --size (any other option after them is an error, as in bwrap).
	takesPerms, takesSize bool
	// takesOverlay: the option consumes the pending --overlay-src layers.
	takesOverlay bool
	help         string
	apply        func(p *parser, a []string) error
}

func flag(f func(p *parser)) func(p *parser, a []string) error {
	return func(p *parser, _ []string) error { f(p); return nil }
}

// parseFd reads an fd argument. When the parser knows which fds the
// caller passed (p.open, set by Run), any other number is refused: nook's
// own fds (the Go runtime opens some before main) are not the caller's to
// name, and reading or writing them would hang or crash nook.
func (p *parser) parseFd(s string) (int, error) {
	v, err := strconv.ParseInt(s, 10, 32)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("invalid fd: %s", s)
	}
	if p.open != nil && !p.open[int(v)] {
		return 0, fmt.Errorf("fd %d is not open: %w", v, unix.EBADF)
	}
	return int(v), nil
}

func parseID(kind, s string) (int, error) {
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("invalid %s: %s", kind, s)
	}
	return int(v), nil
}

func parseOctal(opt, s string) (*uint32, error) {
	v, err := strconv.ParseUint(s, 8, 32)
	if err != nil || v > 0o7777 {
		return nil, fmt.Errorf("--%s takes an octal argument <= 07777", opt)
	}
	m := uint32(v)
	return &m, nil
}

// fdOption is an option whose one argument is a caller fd stored in *dst
// and kept from the command.
func fdOption(dst func(p *parser) **int) func(p *parser, a []string) error {
	return fdOptionPassed(dst, false)
}

// fdOptionPassed is fdOption for an fd that, as in bwrap, still reaches
// the command when passed is true (the namespace fds).
func fdOptionPassed(dst func(p *parser) **int, passed bool) func(p *parser, a []string) error {
	return func(p *parser, a []string) error {
		fd, err := p.parseFd(a[0])
		if err != nil {
			return err
		}
		*dst(p) = &fd
		if !passed {
			p.consumed[fd] = true
		}
		return nil
	}
}

// envName reports whether setenv(3) takes name: not empty, no "=".
func envName(name string) bool {
	return name != "" && !strings.Contains(name, "=")
}

// readOnce marks fd as read by an option that takes its contents; bwrap
// closes such an fd once read, so naming it again fails as a closed fd.
func (p *parser) readOnce(fd int) error {
	if p.read[fd] {
		return fmt.Errorf("fd %d was read by an earlier option: %w", fd, unix.EBADF)
	}
	if p.read == nil {
		p.read = map[int]bool{}
	}
	p.read[fd] = true
	p.consumed[fd] = true
	return nil
}

func bindOp(op sandbox.Op, ro, try bool) func(p *parser, a []string) error {
	return func(p *parser, a []string) error {
		return p.addOp(sandbox.Mount{Op: op, Source: a[0], Dest: a[1], ReadOnly: ro, Try: try})
	}
}

func destOp(op sandbox.Op) func(p *parser, a []string) error {
	return func(p *parser, a []string) error {
		return p.addOp(sandbox.Mount{Op: op, Dest: a[0]})
	}
}

func bindFdOp(ro bool) func(p *parser, a []string) error {
	return func(p *parser, a []string) error {
		fd, err := p.parseFd(a[0])
		if err != nil {
			return err
		}
		p.consumed[fd] = true
		return p.addOp(sandbox.Mount{Op: sandbox.OpBind, FromFD: true, FD: fd, Dest: a[1], ReadOnly: ro})
	}
}

// dataOp is --file (a file in place, 0666) and --bind-data/--ro-bind-data
// (a file bound onto the destination, 0600).
func dataOp(bind, ro bool) func(p *parser, a []string) error {
	return func(p *parser, a []string) error {
		fd, err := p.parseFd(a[0])
		if err != nil {
			return err
		}
		if err := p.readOnce(fd); err != nil {
			return err
		}
		mode := uint32(0o666)
		if bind {
			mode = 0o600
		}
		return p.addOp(sandbox.Mount{Op: sandbox.OpFile, FD: fd, Dest: a[1], Mode: &mode, AsBind: bind, ReadOnly: ro})
	}
}

func capOption(add bool) func(p *parser, a []string) error {
	return func(p *parser, a []string) error {
		if err := checkCap(a[0]); err != nil {
			return err
		}
		p.capOps = append(p.capOps, capOp{add: add, name: a[0]})
		return nil
	}
}

func (p *parser) overlay(m sandbox.Mount, opt string) error {
	if len(p.overlaySrc) == 0 {
		return fmt.Errorf("--%s requires at least one --overlay-src", opt)
	}
	if opt == "ro-overlay" && len(p.overlaySrc) < 2 {
		// One read-only layer is what --ro-bind is for.
		return fmt.Errorf("--ro-overlay requires at least two --overlay-src")
	}
	// --overlay-src names the lowest layer first; the spec wants the
	// uppermost first.
	for i := len(p.overlaySrc) - 1; i >= 0; i-- {
		m.Lower = append(m.Lower, p.overlaySrc[i])
	}
	p.overlaySrc = nil
	return p.addOp(m)
}

// options is bwrap(1)'s option set as of bubblewrap 0.11, in the order of
// its manual. The help texts are nook's own words. Built on first use, not
// at start-up: every nook invocation would pay for it otherwise.
var options = sync.OnceValue(func() []option {
	return []option{
		{name: "help", help: "show this help and exit", apply: flag(func(p *parser) { p.help = true })},
		{name: "version", help: "show the version and exit", apply: flag(func(p *parser) { p.version = true })},
		{name: "args", nargs: 1, help: "read more NUL-separated arguments from FD", apply: nil}, // handled by the parse loop
		{name: "argv0", nargs: 1, help: "argv[0] the command sees", apply: func(p *parser, a []string) error {
			if p.argv0 {
				return bwrapError("--argv0 used multiple times")
			}
			p.spec.Argv0, p.argv0 = a[0], true
			return nil
		}},
		{name: "level-prefix", help: "prefix diagnostics with a syslog level (<3>)", apply: flag(func(p *parser) { p.levelPrefix = true })},

		{name: "unshare-all", help: "unshare every namespace (user and cgroup if possible)", apply: flag(func(p *parser) {
			p.ns.userTry, p.ns.ipc, p.ns.pid, p.ns.net, p.ns.uts, p.ns.cgroupTry = true, true, true, true, true, true
		})},
		{name: "share-net", help: "keep the network namespace (after --unshare-all)", apply: flag(func(p *parser) { p.ns.net = false })},
		{name: "unshare-user", help: "new user namespace (implied unless root)", apply: flag(func(p *parser) { p.ns.user = true })},
		{name: "unshare-user-try", help: "new user namespace if possible", apply: flag(func(p *parser) { p.ns.userTry = true })},
		{name: "unshare-ipc", help: "new IPC namespace", apply: flag(func(p *parser) { p.ns.ipc = true })},
		{name: "unshare-pid", help: "new pid namespace", apply: flag(func(p *parser) { p.ns.pid = true })},
		{name: "unshare-net", help: "new network namespace (lo only, up)", apply: flag(func(p *parser) { p.ns.net = true })},
		{name: "unshare-uts", help: "new UTS namespace", apply: flag(func(p *parser) { p.ns.uts = true })},
		{name: "unshare-cgroup", help: "new cgroup namespace", apply: flag(func(p *parser) { p.ns.cgroup = true })},
		{name: "unshare-cgroup-try", help: "new cgroup namespace if possible", apply: flag(func(p *parser) { p.ns.cgroupTry = true })},
		{name: "userns", nargs: 1, help: "join the user namespace open on FD", apply: fdOptionPassed(func(p *parser) **int { return &p.userns }, true)},
		{name: "userns2", nargs: 1, help: "switch to the user namespace on FD after setup", apply: fdOptionPassed(func(p *parser) **int { return &p.userns2 }, true)},
		{name: "disable-userns", help: "forbid further user namespaces inside", apply: flag(func(p *parser) { p.disableUserNS = true })},
		{name: "assert-userns-disabled", help: "fail unless further user namespaces are forbidden", apply: flag(func(p *parser) { p.assertUserNSDisabled = true })},
		{name: "pidns", nargs: 1, help: "join the pid namespace open on FD", apply: fdOptionPassed(func(p *parser) **int { return &p.pidns }, true)},
		{name: "uid", nargs: 1, help: "uid inside (needs a user namespace)", apply: func(p *parser, a []string) error {
			v, err := parseID("uid", a[0])
			p.uid = &v
			return err
		}},
		{name: "gid", nargs: 1, help: "gid inside (needs a user namespace)", apply: func(p *parser, a []string) error {
			v, err := parseID("gid", a[0])
			p.gid = &v
			return err
		}},
		{name: "hostname", nargs: 1, help: "hostname inside (needs --unshare-uts)", apply: func(p *parser, a []string) error { p.spec.Hostname = a[0]; return nil }},

		{name: "chdir", nargs: 1, help: "working directory inside", apply: func(p *parser, a []string) error { p.spec.Dir = a[0]; return nil }},
		{name: "clearenv", help: "start from an empty environment (PWD is still set)", apply: flag(func(p *parser) {
			p.env = nil
		})},
		{name: "setenv", nargs: 2, help: "set VAR to VALUE", apply: func(p *parser, a []string) error {
			if !envName(a[0]) {
				return bwrapErrorf("setenv failed")
			}
			p.setenv(a[0], a[1], true)
			return nil
		}},
		{name: "unsetenv", nargs: 1, help: "remove VAR", apply: func(p *parser, a []string) error {
			if !envName(a[0]) {
				return bwrapErrorf("unsetenv failed")
			}
			p.setenv(a[0], "", false)
			return nil
		}},

		{name: "lock-file", nargs: 1, help: "hold a lock on DEST while the sandbox runs", apply: func(p *parser, a []string) error {
			p.spec.LockFiles = append(p.spec.LockFiles, a[0])
			return nil
		}},
		{name: "sync-fd", nargs: 1, help: "keep FD open while the sandbox runs", apply: fdOption(func(p *parser) **int { return &p.syncFd })},

		{name: "perms", nargs: 1, help: "mode of the next created file, directory or tmpfs", apply: func(p *parser, a []string) error {
			if p.perms != nil {
				return fmt.Errorf("--perms given twice for the same action")
			}
			m, err := parseOctal("perms", a[0])
			p.perms = m
			return err
		}},
		{name: "size", nargs: 1, help: "size in bytes of the next --tmpfs", apply: func(p *parser, a []string) error {
			if p.size != 0 {
				return fmt.Errorf("--size given twice for the same action")
			}
			v, err := strconv.ParseUint(a[0], 10, 63)
			if err != nil || v == 0 {
				return fmt.Errorf("--size takes a non-zero number of bytes")
			}
			p.size = int64(v)
			return nil
		}},
		{name: "bind", nargs: 2, help: "bind host SRC onto DEST", apply: bindOp(sandbox.OpBind, false, false)},
		{name: "bind-try", nargs: 2, help: "like --bind; nothing when SRC is missing", apply: bindOp(sandbox.OpBind, false, true)},
		{name: "dev-bind", nargs: 2, help: "bind, device nodes usable", apply: bindOp(sandbox.OpDevBind, false, false)},
		{name: "dev-bind-try", nargs: 2, help: "like --dev-bind; nothing when SRC is missing", apply: bindOp(sandbox.OpDevBind, false, true)},
		{name: "ro-bind", nargs: 2, help: "bind read-only", apply: bindOp(sandbox.OpBind, true, false)},
		{name: "ro-bind-try", nargs: 2, help: "like --ro-bind; nothing when SRC is missing", apply: bindOp(sandbox.OpBind, true, true)},
		{name: "bind-fd", nargs: 2, help: "bind what the open FD refers to onto DEST", apply: bindFdOp(false)},
		{name: "ro-bind-fd", nargs: 2, help: "like --bind-fd, read-only", apply: bindFdOp(true)},
		{name: "remount-ro", nargs: 1, help: "make the mount at DEST read-only (not recursive)", apply: destOp(sandbox.OpRemountRO)},
		{name: "overlay-src", nargs: 1, help: "a lower layer of the next overlay (lowest first)", apply: func(p *parser, a []string) error {
			p.overlaySrc = append(p.overlaySrc, a[0])
			return nil
		}},
		{name: "overlay", nargs: 3, takesOverlay: true, help: "overlay on DEST writing to host RWSRC, with WORKDIR beside it", apply: func(p *parser, a []string) error {
			return p.overlay(sandbox.Mount{Op: sandbox.OpOverlay, Upper: a[0], Work: a[1], Dest: a[2]}, "overlay")
		}},
		{name: "tmp-overlay", nargs: 1, takesOverlay: true, help: "overlay on DEST writing to a throwaway tmpfs", apply: func(p *parser, a []string) error {
			return p.overlay(sandbox.Mount{Op: sandbox.OpOverlay, TmpfsUpper: true, Dest: a[0]}, "tmp-overlay")
		}},
		{name: "ro-overlay", nargs: 1, takesOverlay: true, help: "read-only overlay on DEST", apply: func(p *parser, a []string) error {
			return p.overlay(sandbox.Mount{Op: sandbox.OpOverlay, ReadOnly: true, Dest: a[0]}, "ro-overlay")
		}},
		{name: "exec-label", nargs: 1, help: "SELinux label of the command (where SELinux is active)", apply: func(p *parser, a []string) error {
			p.labels, p.spec.ExecLabel = true, a[0]
			return nil
		}},
		{name: "file-label", nargs: 1, help: "SELinux label of files and tmpfs the sandbox creates (where SELinux is active)", apply: func(p *parser, a []string) error {
			p.labels, p.spec.FileLabel = true, a[0]
			return nil
		}},
		{name: "proc", nargs: 1, help: "new procfs on DEST (the host's, bound, where a new one is refused)", apply: func(p *parser, a []string) error {
			if err := p.addOp(sandbox.Mount{Op: sandbox.OpProc, Dest: a[0], FallbackBind: true}); err != nil {
				return err
			}
			// For root, bwrap covers parts of /proc that can reach the whole
			// machine (sysrq-trigger reboots it) with read-only binds of
			// themselves.
			if os.Geteuid() == 0 {
				for _, d := range []string{"sysrq-trigger", "irq", "bus"} {
					sub := path.Join(a[0], d)
					p.spec.Mounts = append(p.spec.Mounts, sandbox.Mount{Op: sandbox.OpBind, Source: sub, Dest: sub, SourceInRoot: true, ReadOnly: true, Try: true})
				}
			}
			return nil
		}},
		{name: "dev", nargs: 1, help: "new minimal /dev on DEST", apply: destOp(sandbox.OpDev)},
		{name: "tmpfs", nargs: 1, takesPerms: true, takesSize: true, help: "new tmpfs on DEST (0755 unless --perms)", apply: destOp(sandbox.OpTmpfs)},
		{name: "mqueue", nargs: 1, help: "new mqueue filesystem on DEST", apply: destOp(sandbox.OpMqueue)},
		{name: "dir", nargs: 1, takesPerms: true, help: "directory at DEST (0755 unless --perms; an existing one is kept)", apply: destOp(sandbox.OpDir)},
		{name: "file", nargs: 2, takesPerms: true, help: "file at DEST with what FD holds (0666 unless --perms)", apply: dataOp(false, false)},
		{name: "bind-data", nargs: 2, takesPerms: true, help: "file with what FD holds, bound onto DEST (0600 unless --perms)", apply: dataOp(true, false)},
		{name: "ro-bind-data", nargs: 2, takesPerms: true, help: "like --bind-data, read-only", apply: dataOp(true, true)},
		{name: "symlink", nargs: 2, help: "symlink DEST pointing to SRC", apply: func(p *parser, a []string) error {
			return p.addOp(sandbox.Mount{Op: sandbox.OpSymlink, Source: a[0], Dest: a[1]})
		}},
		{name: "chmod", nargs: 2, help: "change the mode of the existing PATH", apply: func(p *parser, a []string) error {
			m, err := parseOctal("chmod", a[0])
			if err != nil {
				return err
			}
			return p.addOp(sandbox.Mount{Op: sandbox.OpChmod, Mode: m, Dest: a[1]})
		}},

		{name: "seccomp", nargs: 1, help: "install the compiled BPF program read from FD", apply: func(p *parser, a []string) error {
			fd, err := p.parseFd(a[0])
			if err != nil {
				return err
			}
			if err := p.readOnce(fd); err != nil {
				return err
			}
			p.seccompFd = &fd
			return nil
		}},
		{name: "add-seccomp-fd", nargs: 1, help: "install another compiled BPF program from FD (repeatable)", apply: func(p *parser, a []string) error {
			fd, err := p.parseFd(a[0])
			if err != nil {
				return err
			}
			if err := p.readOnce(fd); err != nil {
				return err
			}
			p.addSeccompFds = append(p.addSeccompFds, fd)
			return nil
		}},
		{name: "block-fd", nargs: 1, help: "wait for data on FD before starting the command", apply: fdOption(func(p *parser) **int { return &p.spec.BlockFD })},
		{name: "userns-block-fd", nargs: 1, help: "wait for data on FD before using the user namespace (its id maps are written by someone else)", apply: fdOption(func(p *parser) **int { return &p.spec.UserNSBlockFD })},
		{name: "info-fd", nargs: 1, help: "write the sandbox's pid and namespaces as JSON to FD", apply: fdOption(func(p *parser) **int { return &p.infoFd })},
		{name: "json-status-fd", nargs: 1, help: "write JSON lines about the sandbox to FD (pid, then exit code)", apply: fdOption(func(p *parser) **int { return &p.jsonFd })},
		{name: "new-session", help: "run the command in a new session (setsid)", apply: flag(func(p *parser) { p.spec.NewSession = true })},
		{name: "die-with-parent", help: "kill the sandbox when the caller dies", apply: flag(func(p *parser) { p.spec.DieWithParent = true })},
		{name: "as-pid-1", help: "run the command as pid 1 (needs --unshare-pid)", apply: flag(func(p *parser) { p.spec.AsPID1 = true })},
		{name: "cap-add", nargs: 1, help: "keep capability CAP (or ALL)", apply: capOption(true)},
		{name: "cap-drop", nargs: 1, help: "drop capability CAP (or ALL)", apply: capOption(false)},
	}
})

var byName = sync.OnceValue(func() map[string]*option {
	opts := options()
	m := make(map[string]*option, len(opts))
	for i := range opts {
		m[opts[i].name] = &opts[i]
	}
	return m
})

// IsOption reports whether word is one of bwrap's options, as bwrap would
// read it first on its command line ("--bind", not "--bind=x").
func IsOption(word string) bool {
	return strings.HasPrefix(word, "--") && byName()[word[2:]] != nil
}
