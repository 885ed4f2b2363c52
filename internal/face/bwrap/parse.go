package bwrap

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/nook-project/nook/sandbox"
	"golang.org/x/sys/unix"
)

// parser is the state the options build up, in command-line order.
type parser struct {
	// open are the fds the caller passed, when known (Run): fd arguments
	// must name one of them.
	open map[int]bool
	// read are the fds whose contents an option took (readOnce).
	read map[int]bool
	spec sandbox.Spec
	ns   struct {
		user, userTry, ipc, pid, net, uts, cgroup, cgroupTry bool
	}
	uid, gid   *int
	env        []string
	perms      *uint32
	size       int64
	overlaySrc []string
	capOps     []capOp
	// consumed are the caller's fds bwrap uses itself and closes before
	// the command runs; every other inherited fd reaches the command.
	consumed       map[int]bool
	infoFd, jsonFd *int
	syncFd         *int
	seccompFd      *int
	addSeccompFds  []int
	userns         *int
	userns2        *int
	pidns          *int
	disableUserNS  bool
	// assertUserNSDisabled is checked, not acted on.
	assertUserNSDisabled bool
	levelPrefix          bool
	// warned is where warnings go (stderr in Run): bwrap prints them while
	// it parses, with --level-prefix's "<4>" only once that option was read.
	warned io.Writer
	// given counts the options seen, for bwrap's "Only the last" warning.
	given map[string]int
	argv0 bool
	// labels: --exec-label or --file-label was given.
	labels        bool
	help, version bool
}

type capOp struct {
	add  bool
	name string
}

func newParser(env []string) *parser {
	return &parser{env: env, consumed: map[int]bool{}, warned: io.Discard, given: map[string]int{}}
}

// lastOnly are the options of which bwrap keeps only the last, warning
// when one is given again.
var lastOnly = map[string]bool{
	"chdir": true, "exec-label": true, "file-label": true, "sync-fd": true, "block-fd": true,
	"userns-block-fd": true, "info-fd": true, "json-status-fd": true, "seccomp": true,
	"userns": true, "userns2": true, "pidns": true, "uid": true, "gid": true, "hostname": true,
}

// warn prints one of bwrap's warnings (syslog level 4 with --level-prefix).
func (p *parser) warn(format string, a ...any) {
	lvl := ""
	if p.levelPrefix {
		lvl = "<4>"
	}
	fmt.Fprintf(p.warned, "%sbwrap: %s\n", lvl, fmt.Sprintf(format, a...))
}

// readArgs returns the NUL-separated words held by fd (read to its end).
func readArgs(fd int) ([]string, error) {
	b, err := readAll(fd)
	if err != nil {
		return nil, fmt.Errorf("read arguments from fd %d: %w", fd, err)
	}
	if len(b) == 0 {
		return nil, nil
	}
	b = bytes.TrimSuffix(b, []byte{0})
	return strings.Split(string(b), "\x00"), nil
}

// readAll reads a caller's fd to its end without taking ownership of it
// (an *os.File would close it when collected).
func readAll(fd int) ([]byte, error) {
	var out []byte
	buf := make([]byte, 64<<10)
	for {
		n, err := unix.Read(fd, buf)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return out, nil
		}
		out = append(out, buf[:n]...)
	}
}

// parse reads the options and returns the command. It stops at "--" (which
// it drops) or at the first word that is not an option.
func (p *parser) parse(args []string) ([]string, error) {
	cmd, err := p.parseList(args, 0)
	if err == nil && len(p.overlaySrc) > 0 {
		return nil, errOverlaySrc
	}
	return cmd, err
}

// parseList parses one list of words: the command line, or (depth > 0) the
// words read by --args. Like bwrap, an --args list is parsed on its own:
// where its options end, the rest of it is dropped and parsing goes on
// with the words after --args.
func (p *parser) parseList(rest []string, depth int) ([]string, error) {
	for len(rest) > 0 {
		a := rest[0]
		if a == "--" {
			return rest[1:], nil
		}
		if !strings.HasPrefix(a, "-") {
			break
		}
		if !strings.HasPrefix(a, "--") {
			// bwrap takes any word starting with "-" for an option.
			return nil, bwrapErrorf("Unknown option %s", a)
		}
		o := byName()[a[2:]]
		if o == nil {
			return nil, bwrapErrorf("Unknown option %s", a)
		}
		if len(rest) < 1+o.nargs {
			return nil, fmt.Errorf("%s takes %s", a, []string{"", "an argument", "two arguments", "three arguments"}[o.nargs])
		}
		vals := rest[1 : 1+o.nargs]
		rest = rest[1+o.nargs:]
		if p.given[o.name]++; p.given[o.name] > 1 && lastOnly[o.name] {
			p.warn("Only the last %s option will take effect", a)
		}
		if p.perms != nil && !o.takesPerms && o.name != "size" && o.name != "perms" {
			return nil, fmt.Errorf("--perms must be followed by an option that creates a file")
		}
		if p.size != 0 && !o.takesSize && o.name != "perms" && o.name != "size" {
			return nil, fmt.Errorf("--size must be followed by --tmpfs")
		}
		if len(p.overlaySrc) > 0 && o.name != "overlay-src" && !o.takesOverlay {
			return nil, errOverlaySrc
		}
		if o.name == "args" {
			if depth > 0 {
				return nil, bwrapErrorf("--args not supported in arguments file")
			}
			fd, err := p.parseFd(vals[0])
			if err != nil {
				return nil, err
			}
			if err := p.readOnce(fd); err != nil {
				return nil, err
			}
			more, err := readArgs(fd)
			if err != nil {
				return nil, err
			}
			if _, err := p.parseList(more, depth+1); err != nil {
				return nil, err
			}
			continue
		}
		if err := o.apply(p, vals); err != nil {
			return nil, err
		}
	}
	return rest, nil
}

// addOp appends a filesystem operation, giving it a pending --perms/--size.
func (p *parser) addOp(m sandbox.Mount) error {
	if p.perms != nil {
		m.Mode = p.perms
		if m.Op == sandbox.OpDir {
			// bwrap makes it with mkdir(2), which keeps no setuid or
			// setgid bit of the mode.
			v := *p.perms & 0o1777
			m.Mode = &v
		}
	}
	if p.size != 0 {
		m.Size = p.size
	}
	p.perms, p.size = nil, 0
	if m.Dest != "" && !path.IsAbs(m.Dest) {
		// bwrap takes a destination relative to the new root.
		m.Dest = "/" + m.Dest
	}
	p.spec.Mounts = append(p.spec.Mounts, m)
	return nil
}

// setenv edits the environment in place, as bwrap's own setenv(3) and
// unsetenv(3) calls do while it parses.
func (p *parser) setenv(key, value string, set bool) {
	out := p.env[:0:0]
	done := false
	for _, kv := range p.env {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
			continue
		}
		if set && !done {
			out = append(out, key+"="+value)
			done = true
		}
	}
	if set && !done {
		out = append(out, key+"="+value)
	}
	p.env = out
}

// errOverlaySrc: --overlay-src given and no overlay option to take it.
var errOverlaySrc = bwrapError("--overlay-src must be followed by another --overlay-src or one of --overlay, --tmp-overlay, or --ro-overlay")

func checkCap(name string) error {
	if name == "ALL" {
		return nil
	}
	if !strings.HasPrefix(strings.ToUpper(name), "CAP_") {
		return fmt.Errorf("unknown cap: %s", name)
	}
	if _, err := sandbox.ParseCap(name); err != nil {
		return fmt.Errorf("unknown cap: %s", name)
	}
	return nil
}
