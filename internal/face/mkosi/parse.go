package mkosi

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// opKind is a filesystem operation of mkosi-sandbox's.
type opKind int

const (
	opTmpfs opKind = iota
	opDev
	opProc
	opDir
	opBind
	opSymlink
	opWrite
	opOverlay
)

var opNames = [...]string{"tmpfs", "dev", "proc", "dir", "bind", "symlink", "write", "overlay"}

func (k opKind) String() string { return opNames[k] }

// fsop is one filesystem operation as given.
type fsop struct {
	kind opKind
	// src is a bind's source (absolute), a symlink's target (as given).
	src, dst string
	data     string
	// Binds: ro, required (not -try), relative ("+SRC": the source is a
	// path in the new root), nofollow (a symlink source is bound as the
	// link).
	ro, required, relative, nofollow bool
	// Overlays: lower directories top first, upper ("tmpfs" for a
	// throwaway one), work.
	lower       []string
	upper, work string
}

// options is a parsed command line.
type options struct {
	ops                         []fsop
	setenv                      [][2]string
	unsetenv                    []string
	chdir                       string
	becomeRoot                  bool
	suppressChown, suppressSync bool
	unshareNet, unshareIPC      bool
	packFds                     bool
	debug                       bool
	// execFds are closed before the command runs (--exec-fd, mkosi 25).
	execFds []int
	// foreign names the first foreign-range option given (they need
	// systemd's nsresourced and mountfsd).
	foreign       string
	suspend       bool
	help, version bool
	cmd           []string
}

// UsageError is a command line mkosi-sandbox would refuse (with a Python
// traceback); nook says so in one line and exits 2.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// nargs is how many arguments each option takes.
var nargs = map[string]int{
	"--tmpfs": 1, "--dev": 1, "--proc": 1, "--dir": 1,
	"--bind": 2, "--ro-bind": 2, "--bind-try": 2, "--ro-bind-try": 2,
	"--bind-nofollow": 2, "--ro-bind-nofollow": 2,
	"--symlink": 2, "--write": 2,
	"--overlay-lowerdir": 1, "--overlay-upperdir": 1, "--overlay-workdir": 1, "--overlay": 1,
	"--unsetenv": 1, "--setenv": 2, "--chdir": 1, "--same-dir": 0,
	"--become-root": 0, "--suppress-chown": 0, "--suppress-sync": 0,
	"--unshare-net": 0, "--unshare-ipc": 0, "--exec-fd": 1, "--pack-fds": 0,
	"--suspend": 0, "--debug": 0,
	"--map-foreign": 0, "--map-delegate": 0, "--bind-foreign": 2,
	"-h": 0, "--help": 0, "--version": 0,
}

// IsOption reports whether word is one of mkosi-sandbox's options.
func IsOption(word string) bool {
	_, ok := nargs[word]
	return ok
}

// parse reads args as sandbox.py's main does. cwd is the caller's working
// directory, against which relative paths are made absolute.
func parse(args []string, cwd string) (*options, error) {
	o := &options{}
	abs := func(p string) string {
		if filepath.IsAbs(p) {
			return filepath.Clean(p)
		}
		return filepath.Join(cwd, p)
	}
	var lower []string
	var upper, work string
	i := 0
	for i < len(args) {
		arg := args[i]
		i++
		if arg == "--" {
			break
		}
		n, known := nargs[arg]
		if !known {
			if strings.HasPrefix(arg, "-") {
				return nil, &UsageError{Msg: "Unrecognized option " + arg}
			}
			i--
			break
		}
		if len(args)-i < n {
			return nil, &UsageError{Msg: fmt.Sprintf("%s takes %d argument%s", arg, n, map[bool]string{true: "s"}[n > 1])}
		}
		a := args[i : i+n]
		i += n
		switch arg {
		case "-h", "--help":
			o.help = true
			return o, nil
		case "--version":
			o.version = true
			return o, nil
		case "--tmpfs":
			o.ops = append(o.ops, fsop{kind: opTmpfs, dst: abs(a[0])})
		case "--dev":
			o.ops = append(o.ops, fsop{kind: opDev, dst: abs(a[0])})
		case "--proc":
			o.ops = append(o.ops, fsop{kind: opProc, dst: abs(a[0])})
		case "--dir":
			o.ops = append(o.ops, fsop{kind: opDir, dst: abs(a[0])})
		case "--bind", "--ro-bind", "--bind-try", "--ro-bind-try", "--bind-nofollow", "--ro-bind-nofollow":
			src := a[0]
			rel := strings.HasPrefix(src, "+")
			o.ops = append(o.ops, fsop{kind: opBind, src: abs(strings.TrimPrefix(src, "+")), dst: abs(a[1]),
				ro: strings.HasPrefix(arg, "--ro"), required: !strings.HasSuffix(arg, "-try"),
				relative: rel, nofollow: strings.HasSuffix(arg, "-nofollow")})
		case "--symlink":
			o.ops = append(o.ops, fsop{kind: opSymlink, src: a[0], dst: abs(a[1])})
		case "--write":
			o.ops = append(o.ops, fsop{kind: opWrite, data: a[0], dst: abs(a[1])})
		case "--overlay-lowerdir":
			lower = append(lower, abs(a[0]))
		case "--overlay-upperdir":
			upper = a[0]
			if upper != "tmpfs" {
				upper = abs(upper)
			}
		case "--overlay-workdir":
			work = abs(a[0])
		case "--overlay":
			top := make([]string, len(lower))
			for j, l := range lower {
				top[len(lower)-1-j] = l
			}
			o.ops = append(o.ops, fsop{kind: opOverlay, lower: top, upper: upper, work: work, dst: abs(a[0])})
			lower, upper, work = nil, "", ""
		case "--unsetenv":
			o.unsetenv = append(o.unsetenv, a[0])
		case "--setenv":
			if a[0] == "" || strings.Contains(a[0], "=") {
				// os.environ's putenv refuses it (a traceback).
				return nil, &UsageError{Msg: fmt.Sprintf("--setenv: illegal environment variable name %q", a[0])}
			}
			o.setenv = append(o.setenv, [2]string{a[0], a[1]})
		case "--chdir":
			o.chdir = abs(a[0])
		case "--same-dir":
			o.chdir = cwd
		case "--become-root":
			o.becomeRoot = true
		case "--suppress-chown":
			o.suppressChown = true
		case "--suppress-sync":
			o.suppressSync = true
		case "--unshare-net":
			o.unshareNet = true
		case "--unshare-ipc":
			o.unshareIPC = true
		case "--pack-fds":
			o.packFds = true
		case "--suspend":
			o.suspend = true
		case "--debug":
			o.debug = true
		case "--exec-fd":
			fd, ok := pyInt(a[0])
			if !ok {
				return nil, &UsageError{Msg: fmt.Sprintf("--exec-fd: invalid literal for int(): %q", a[0])}
			}
			o.execFds = append(o.execFds, fd)
		case "--map-foreign", "--map-delegate", "--bind-foreign":
			if o.foreign == "" {
				o.foreign = arg
			}
		}
	}
	o.cmd = args[i:]
	if len(o.cmd) == 0 {
		o.cmd = []string{"bash"}
	}
	return o, nil
}

// errNoForeign is the error where the foreign-range options cannot work.
var errNoForeign = errors.New("needs systemd's nsresourced and mountfsd (systemd 260 or newer), which are not running on this host")

// Nargs is how many arguments the option word takes (0 for a word that
// is not one).
func Nargs(word string) int { return nargs[word] }
