package native

import (
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/nook-project/nook/sandbox"
	"github.com/nook-project/nook/sandbox/idmap"
)

// option is one `nook run` option. Filesystem operations take one or two
// arguments and keep their relative order, which a flag library that groups
// values per flag would lose; hence this small table instead of pflag.
type option struct {
	name  string
	args  []string // metavariables, one per argument
	help  string
	group string
	apply func(r *runOptions, a []string) error
}

// runOptions collects what the options say, before defaults are filled in.
type runOptions struct {
	spec      sandbox.Spec
	fsOps     int  // filesystem operations given
	rootGiven bool // an operation on "/" replaces the host root
	// buildsTree is the first option that only a command line building
	// its own root gives (bwrap's and mkosi-sandbox's start from an
	// empty one), as written; the default layout is not added then.
	buildsTree  string
	noDefaultFS bool
	share       map[string]bool
	unshare     map[string]bool
	closeFds    bool
	keepFds     []int // --keep-fd: passed even when a directory or with --close-fds
	clearEnv    bool
	envEdits    [][2]string // {key, value}; value "\x00" unsets
	perms       *uint32
	size        int64
	// destNoFollow and indexOff change the next bind or overlay, as
	// perms and size the next operation that takes them.
	destNoFollow, indexOff bool
	// fuse gives every new /dev a /dev/fuse (the default layout's too).
	fuse          bool
	overlaySrc    []string
	help, version bool
	// printPlan prints the filesystem plan and exits; debug prints it to
	// stderr and runs the command.
	printPlan, debug bool
	defaults         []sandbox.Mount // the default layout build added
	notes            []string        // what build chose that the user should know
}

// missingBeforeSeparator tells `--ro-bind /usr -- true` (DEST forgotten,
// the command's "--" taken for it) from an argument meant as "--": only
// data, values and names may be that word; a path would be a relative one
// nook rejects anyway, with a message about a path the user never meant.
func missingBeforeSeparator(o *option, vals []string) error {
	for j, v := range vals {
		if v == "--" && !literalArg[o.args[j]] {
			return fmt.Errorf("--%s %s: %s is missing (found -- where it should be)", o.name, strings.Join(o.args, " "), o.args[j])
		}
	}
	return nil
}

// literalArg are the metavariables whose argument may be any word.
var literalArg = map[string]bool{"DATA": true, "VALUE": true, "NAME": true}

func (r *runOptions) addOp(m sandbox.Mount) error {
	// Checked here, where the option is known: once the default layout is
	// added, the spec's own check can only number the operation.
	if err := m.Validate(); err != nil {
		return err
	}
	if r.perms != nil {
		switch m.Op {
		case sandbox.OpTmpfs, sandbox.OpDir, sandbox.OpWrite, sandbox.OpFile:
			m.Mode = r.perms
		default:
			return fmt.Errorf("--perms applies only to the next --tmpfs, --dir, --write or --file")
		}
	}
	if r.size != 0 {
		if m.Op != sandbox.OpTmpfs {
			return fmt.Errorf("--size applies only to the next --tmpfs")
		}
		m.Size = r.size
	}
	if r.destNoFollow {
		if m.Op != sandbox.OpBind && m.Op != sandbox.OpDevBind {
			return fmt.Errorf("--dest-nofollow applies only to the next bind")
		}
		m.DestNoFollow = true
	}
	if r.indexOff {
		if m.Op != sandbox.OpOverlay {
			return fmt.Errorf("--overlay-index-off applies only to the next overlay")
		}
		m.IndexOff = true
	}
	r.perms, r.size, r.destNoFollow, r.indexOff = nil, 0, false, false
	r.fsOps++
	if sandbox.Clean(m.Dest) == "/" && m.Op != sandbox.OpChmod && m.Op != sandbox.OpRemountRO {
		r.rootGiven = true
	}
	if r.buildsTree == "" && buildsTree(m) {
		r.buildsTree = strings.Join(mountWords(m), " ")
	}
	r.spec.Mounts = append(r.spec.Mounts, m)
	return nil
}

// buildsTree reports whether m is an operation a command line gives only
// when it builds a root of its own: a new /proc or /dev, or a device bind
// onto /dev (the default layout has both), the host's /usr bound onto
// /usr, or a merged-/usr symlink at the top (--symlink usr/bin /bin).
// Added to the host root, these would do nothing or hide what the user
// built. The same operations deeper down (a root built below /outer for a
// nested chroot) are additions to the default layout.
func buildsTree(m sandbox.Mount) bool {
	d := sandbox.Clean(m.Dest)
	switch m.Op {
	case sandbox.OpProc:
		return d == "/proc"
	case sandbox.OpDev, sandbox.OpDevBind:
		return d == "/dev"
	case sandbox.OpBind:
		return d == "/usr" && sandbox.Clean(m.Source) == "/usr"
	case sandbox.OpSymlink:
		return strings.Count(d, "/") == 1 && strings.HasPrefix(m.Source, "usr/")
	}
	return false
}

func parseMode(s string) (*uint32, error) {
	v, err := strconv.ParseUint(s, 8, 32)
	if err != nil || v > 0o7777 {
		return nil, fmt.Errorf("%q is not an octal file mode", s)
	}
	m := uint32(v)
	return &m, nil
}

func parseSize(s string) (int64, error) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "k"), strings.HasSuffix(s, "K"):
		mult, s = 1<<10, s[:len(s)-1]
	case strings.HasSuffix(s, "m"), strings.HasSuffix(s, "M"):
		mult, s = 1<<20, s[:len(s)-1]
	case strings.HasSuffix(s, "g"), strings.HasSuffix(s, "G"):
		mult, s = 1<<30, s[:len(s)-1]
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("%q is not a size (bytes, or with k, m or g)", s)
	}
	return v * mult, nil
}

func parseInt(s string) (int, error) {
	v, err := strconv.Atoi(s)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	return v, nil
}

func bindOp(op sandbox.Op, ro, try bool) func(r *runOptions, a []string) error {
	return func(r *runOptions, a []string) error {
		return r.addOp(sandbox.Mount{Op: op, Source: a[0], Dest: a[1], ReadOnly: ro, Try: try})
	}
}

// bindNoFollow is a bind that leaves a symlink at SRC unfollowed.
func bindNoFollow(ro bool) func(r *runOptions, a []string) error {
	return func(r *runOptions, a []string) error {
		return r.addOp(sandbox.Mount{Op: sandbox.OpBind, Source: a[0], Dest: a[1], ReadOnly: ro, NoFollow: true})
	}
}

func destOp(op sandbox.Op) func(r *runOptions, a []string) error {
	return func(r *runOptions, a []string) error {
		return r.addOp(sandbox.Mount{Op: op, Dest: a[0]})
	}
}

func flag(f func(r *runOptions)) func(r *runOptions, a []string) error {
	return func(r *runOptions, _ []string) error { f(r); return nil }
}

func intPtr(v int) *int { return &v }

// options is `nook run`'s option table, built on first use rather than at
// start-up, which every nook invocation pays for.
var options = sync.OnceValue(func() []option {
	return []option{
		{name: "unshare-pid", group: "Namespaces", help: "new pid namespace (default; a small pid 1 reaps and forwards)", apply: flag(func(r *runOptions) { r.unshare["pid"] = true })},
		{name: "unshare-net", group: "Namespaces", help: "new network namespace with only lo, up", apply: flag(func(r *runOptions) { r.unshare["net"] = true })},
		{name: "unshare-ipc", group: "Namespaces", help: "new IPC namespace (default)", apply: flag(func(r *runOptions) { r.unshare["ipc"] = true })},
		{name: "unshare-uts", group: "Namespaces", help: "new UTS namespace (default)", apply: flag(func(r *runOptions) { r.unshare["uts"] = true })},
		{name: "unshare-cgroup", group: "Namespaces", help: "new cgroup namespace", apply: flag(func(r *runOptions) { r.unshare["cgroup"] = true })},
		{name: "unshare-all", group: "Namespaces", help: "all of the above", apply: flag(func(r *runOptions) {
			for _, n := range []string{"pid", "net", "ipc", "uts", "cgroup"} {
				r.unshare[n] = true
			}
		})},
		{name: "share-net", group: "Namespaces", help: "keep the host's network (default; undoes --unshare-all's)", apply: flag(func(r *runOptions) { r.share["net"] = true })},
		{name: "share-pid", group: "Namespaces", help: "keep the host's pid namespace (then /proc is the host's)", apply: flag(func(r *runOptions) { r.share["pid"] = true })},
		{name: "share-ipc", group: "Namespaces", help: "keep the host's IPC namespace", apply: flag(func(r *runOptions) { r.share["ipc"] = true })},
		{name: "share-uts", group: "Namespaces", help: "keep the host's UTS namespace", apply: flag(func(r *runOptions) { r.share["uts"] = true })},
		{name: "hostname", args: []string{"NAME"}, group: "Namespaces", help: "hostname inside (implies a new UTS namespace)", apply: func(r *runOptions, a []string) error {
			r.spec.Hostname = a[0]
			r.unshare["uts"] = true
			return nil
		}},

		{name: "become-root", group: "Identity", help: "map the caller to root (uid and gid 0) inside", apply: flag(func(r *runOptions) { r.spec.Identity.Mode = "root" })},
		{name: "identity", args: []string{"MODE"}, group: "Identity", help: "self (default), root, subids-root or subids-self (the last two use /etc/subuid, /etc/subgid and newuidmap)", apply: func(r *runOptions, a []string) error {
			// Checked here, not only when the sandbox starts: a word
			// nook does not know is a usage error (2), not a set-up
			// failure (125), and real root, which makes no user
			// namespace, would otherwise never look at it.
			if _, err := idmap.ParseMode(a[0]); err != nil {
				return err
			}
			r.spec.Identity.Mode = a[0]
			return nil
		}},
		{name: "uid", args: []string{"UID"}, group: "Identity", help: "the uid the command runs as inside (without --gid, as real root or with subordinate ids: the gid of the same number)", apply: func(r *runOptions, a []string) error {
			v, err := parseInt(a[0])
			r.spec.Identity.UID = intPtr(v)
			return err
		}},
		{name: "gid", args: []string{"GID"}, group: "Identity", help: "the gid the command runs as inside", apply: func(r *runOptions, a []string) error {
			v, err := parseInt(a[0])
			r.spec.Identity.GID = intPtr(v)
			return err
		}},
		{name: "userns", args: []string{"WHEN"}, group: "Identity", help: "auto (default: unless real root), always or never", apply: func(r *runOptions, a []string) error {
			switch a[0] {
			case "auto":
				r.spec.Identity.UserNS = sandbox.UserNSAuto
			case "always":
				r.spec.Identity.UserNS = sandbox.UserNSAlways
			case "never":
				r.spec.Identity.UserNS = sandbox.UserNSNever
			default:
				return fmt.Errorf("--userns takes auto, always or never, not %q", a[0])
			}
			return nil
		}},

		{name: "bind", args: []string{"SRC", "DEST"}, group: "Filesystem", help: "bind host SRC onto DEST, read-write", apply: bindOp(sandbox.OpBind, false, false)},
		{name: "bind-try", args: []string{"SRC", "DEST"}, group: "Filesystem", help: "like --bind, ignored when SRC is missing", apply: bindOp(sandbox.OpBind, false, true)},
		{name: "ro-bind", args: []string{"SRC", "DEST"}, group: "Filesystem", help: "bind read-only (recursively)", apply: bindOp(sandbox.OpBind, true, false)},
		{name: "ro-bind-try", args: []string{"SRC", "DEST"}, group: "Filesystem", help: "like --ro-bind, ignored when SRC is missing", apply: bindOp(sandbox.OpBind, true, true)},
		{name: "bind-nofollow", args: []string{"SRC", "DEST"}, group: "Filesystem", help: "like --bind, but a symlink at SRC is bound as the link itself, dangling or not", apply: bindNoFollow(false)},
		{name: "ro-bind-nofollow", args: []string{"SRC", "DEST"}, group: "Filesystem", help: "like --ro-bind, but a symlink at SRC is bound as the link itself", apply: bindNoFollow(true)},
		{name: "dest-nofollow", group: "Filesystem", help: "the next bind, of anything but a directory, mounts on a symlink at DEST itself instead of on what it points to", apply: flag(func(r *runOptions) { r.destNoFollow = true })},
		{name: "dev-bind", args: []string{"SRC", "DEST"}, group: "Filesystem", help: "bind, keeping device nodes usable", apply: bindOp(sandbox.OpDevBind, false, false)},
		{name: "dev-bind-try", args: []string{"SRC", "DEST"}, group: "Filesystem", help: "like --dev-bind, ignored when SRC is missing", apply: bindOp(sandbox.OpDevBind, false, true)},
		{name: "tmpfs", args: []string{"DEST"}, group: "Filesystem", help: "new tmpfs (--size, --perms apply)", apply: destOp(sandbox.OpTmpfs)},
		{name: "proc", args: []string{"DEST"}, group: "Filesystem", help: "new procfs (needs the pid namespace)", apply: destOp(sandbox.OpProc)},
		{name: "dev", args: []string{"DEST"}, group: "Filesystem", help: "new minimal /dev: null zero full random urandom tty, devpts, ptmx, shm, fd links, console on a tty", apply: destOp(sandbox.OpDev)},
		{name: "fuse", group: "Filesystem", help: "every new /dev (--dev, the default layout's) also gets the host's /dev/fuse, where there is one", apply: flag(func(r *runOptions) { r.fuse = true })},
		{name: "mqueue", args: []string{"DEST"}, group: "Filesystem", help: "new mqueue filesystem (needs --unshare-ipc)", apply: destOp(sandbox.OpMqueue)},
		{name: "dir", args: []string{"DEST"}, group: "Filesystem", help: "create a directory (0755, --perms applies)", apply: destOp(sandbox.OpDir)},
		{name: "symlink", args: []string{"TARGET", "DEST"}, group: "Filesystem", help: "create a symlink DEST pointing to TARGET", apply: func(r *runOptions, a []string) error {
			return r.addOp(sandbox.Mount{Op: sandbox.OpSymlink, Source: a[0], Dest: a[1]})
		}},
		{name: "symlink-replace", args: []string{"TARGET", "DEST"}, group: "Filesystem", help: "like --symlink, but a file or another symlink at DEST is covered by the new symlink (mounted over it; the file stays as it is)", apply: func(r *runOptions, a []string) error {
			return r.addOp(sandbox.Mount{Op: sandbox.OpSymlink, Source: a[0], Dest: a[1], Replace: true})
		}},
		{name: "write", args: []string{"DATA", "DEST"}, group: "Filesystem", help: "create a file holding DATA (0644, --perms applies); never writes a host file", apply: func(r *runOptions, a []string) error {
			return r.addOp(sandbox.Mount{Op: sandbox.OpWrite, Data: []byte(a[0]), Dest: a[1]})
		}},
		{name: "file", args: []string{"FD", "DEST"}, group: "Filesystem", help: "create a file with the contents read from FD (nook's: FD does not reach the command)", apply: func(r *runOptions, a []string) error {
			fd, err := parseInt(a[0])
			if err != nil {
				return err
			}
			return r.addOp(sandbox.Mount{Op: sandbox.OpFile, FD: fd, Dest: a[1]})
		}},
		{name: "chmod", args: []string{"OCTAL", "PATH"}, group: "Filesystem", help: "change the mode of PATH", apply: func(r *runOptions, a []string) error {
			m, err := parseMode(a[0])
			if err != nil {
				return err
			}
			return r.addOp(sandbox.Mount{Op: sandbox.OpChmod, Mode: m, Dest: a[1]})
		}},
		{name: "remount-ro", args: []string{"DEST"}, group: "Filesystem", help: "make the mount at DEST read-only (applied last)", apply: destOp(sandbox.OpRemountRO)},
		{name: "overlay-src", args: []string{"DIR"}, group: "Filesystem", help: "a lower directory for the next overlay (repeat; uppermost last)", apply: func(r *runOptions, a []string) error {
			r.overlaySrc = append(r.overlaySrc, a[0])
			return nil
		}},
		{name: "overlay", args: []string{"UPPER", "WORK", "DEST"}, group: "Filesystem", help: "overlay of the --overlay-src dirs with host UPPER and WORK", apply: func(r *runOptions, a []string) error {
			return r.overlay(sandbox.Mount{Op: sandbox.OpOverlay, Upper: a[0], Work: a[1], Dest: a[2]})
		}},
		{name: "tmp-overlay", args: []string{"DEST"}, group: "Filesystem", help: "overlay with a throwaway tmpfs upper", apply: func(r *runOptions, a []string) error {
			return r.overlay(sandbox.Mount{Op: sandbox.OpOverlay, TmpfsUpper: true, Dest: a[0]})
		}},
		{name: "ro-overlay", args: []string{"DEST"}, group: "Filesystem", help: "read-only overlay of the --overlay-src dirs", apply: func(r *runOptions, a []string) error {
			return r.overlay(sandbox.Mount{Op: sandbox.OpOverlay, Dest: a[0]})
		}},
		{name: "overlay-index-off", group: "Filesystem", help: "mount the next overlay with index=off,metacopy=off, so an UPPER used over other lower directories before mounts again", apply: flag(func(r *runOptions) { r.indexOff = true })},
		{name: "perms", args: []string{"OCTAL"}, group: "Filesystem", help: "mode for the next --tmpfs, --dir, --write or --file", apply: func(r *runOptions, a []string) error {
			m, err := parseMode(a[0])
			r.perms = m
			return err
		}},
		{name: "size", args: []string{"BYTES"}, group: "Filesystem", help: "size limit for the next --tmpfs (k, m, g suffixes)", apply: func(r *runOptions, a []string) error {
			v, err := parseSize(a[0])
			r.size = v
			return err
		}},
		{name: "no-default-fs", group: "Filesystem", help: "start from an empty root even when no option places /", apply: flag(func(r *runOptions) { r.noDefaultFS = true })},
		{name: "propagation", args: []string{"MODE"}, group: "Filesystem", help: "private (default: mounts made inside reach no other place) or shared (a peer group of the sandbox's own, as mkosi-sandbox's)", apply: func(r *runOptions, a []string) error {
			switch a[0] {
			case "private":
				r.spec.SharedPropagation = false
			case "shared":
				r.spec.SharedPropagation = true
			default:
				return fmt.Errorf("--propagation takes private or shared, not %q", a[0])
			}
			return nil
		}},
		{name: "no-sort", group: "Filesystem", help: "run filesystem operations in the order given (bwrap semantics)", apply: flag(func(r *runOptions) { r.spec.SortMounts = false })},
		{name: "no-pivot-root", group: "Filesystem", help: "switch root with MS_MOVE + chroot, as done anyway when / is not a mount point", apply: flag(func(r *runOptions) { r.spec.NoPivotRoot = true })},

		{name: "suppress-chown", group: "Security", help: "chown and friends succeed without doing anything (seccomp; only in a user namespace, where chown fails)", apply: flag(func(r *runOptions) { r.spec.SuppressChown = true })},
		{name: "suppress-sync", group: "Security", help: "sync, fsync and friends succeed without doing anything (seccomp)", apply: flag(func(r *runOptions) { r.spec.SuppressSync = true })},
		{name: "cap-add", args: []string{"CAP"}, group: "Security", help: "keep capability CAP (or ALL)", apply: func(r *runOptions, a []string) error {
			if _, err := checkCap(a[0]); err != nil {
				return err
			}
			r.spec.Caps.Add = append(r.spec.Caps.Add, a[0])
			return nil
		}},
		{name: "cap-drop", args: []string{"CAP"}, group: "Security", help: "drop capability CAP (or ALL)", apply: func(r *runOptions, a []string) error {
			if _, err := checkCap(a[0]); err != nil {
				return err
			}
			r.spec.Caps.Drop = append(r.spec.Caps.Drop, a[0])
			return nil
		}},
		{name: "no-new-privs", group: "Security", help: "set no_new_privs: setuid binaries and file capabilities do nothing", apply: flag(func(r *runOptions) { r.spec.NoNewPrivs = true })},

		{name: "chdir", args: []string{"DIR"}, group: "Process", help: "working directory inside (default: the current one if it exists inside, else /)", apply: func(r *runOptions, a []string) error {
			r.spec.Dir = a[0]
			return nil
		}},
		{name: "setenv", args: []string{"VAR", "VALUE"}, group: "Process", help: "set an environment variable", apply: func(r *runOptions, a []string) error {
			if a[0] == "" || strings.Contains(a[0], "=") {
				return fmt.Errorf("%q is not a variable name", a[0])
			}
			r.envEdits = append(r.envEdits, [2]string{a[0], a[1]})
			return nil
		}},
		{name: "unsetenv", args: []string{"VAR"}, group: "Process", help: "remove an environment variable", apply: func(r *runOptions, a []string) error {
			r.envEdits = append(r.envEdits, [2]string{a[0], "\x00"})
			return nil
		}},
		{name: "clearenv", group: "Process", help: "start from an empty environment (--setenv still applies)", apply: flag(func(r *runOptions) { r.clearEnv = true })},
		{name: "argv0", args: []string{"NAME"}, group: "Process", help: "argv[0] the command sees", apply: func(r *runOptions, a []string) error {
			r.spec.Argv0 = a[0]
			return nil
		}},
		{name: "die-with-parent", group: "Process", help: "kill the sandbox when nook's parent dies", apply: flag(func(r *runOptions) { r.spec.DieWithParent = true })},
		{name: "new-session", group: "Process", help: "run the command in a new session (no controlling terminal)", apply: flag(func(r *runOptions) { r.spec.NewSession = true })},
		{name: "as-pid-1", group: "Process", help: "run the command itself as pid 1 (no reaper)", apply: flag(func(r *runOptions) { r.spec.AsPID1 = true })},
		{name: "pack-fds", group: "Process", help: "pass inherited fds as 3, 4, ... with LISTEN_FDS and LISTEN_PID", apply: flag(func(r *runOptions) { r.spec.PackFds = true })},
		{name: "suspend", group: "Process", help: "once the sandbox is set up, stop nook (SIGSTOP) before the command starts; it starts when nook is continued (SIGCONT)", apply: flag(func(r *runOptions) { r.spec.BeforeExec = sandbox.StopSelf })},
		{name: "close-fds", group: "Process", help: "pass no inherited fds above 2 (but those of --keep-fd)", apply: flag(func(r *runOptions) { r.closeFds = true })},
		{name: "keep-fd", args: []string{"FD"}, group: "Process", help: "pass inherited fd FD even when it is a directory or with --close-fds", apply: func(r *runOptions, a []string) error {
			fd, err := parseKeepFd(a[0])
			r.keepFds = append(r.keepFds, fd)
			return err
		}},

		{name: "print-plan", group: "Other", help: "print the filesystem operations in the order nook makes them (after sorting, deduplication and the default layout) and exit", apply: flag(func(r *runOptions) { r.printPlan = true })},
		{name: "debug", group: "Other", help: "print that plan on stderr, then run the command (mkosi-sandbox's name)", apply: flag(func(r *runOptions) { r.debug = true })},
		{name: "help", group: "Other", help: "show this help", apply: flag(func(r *runOptions) { r.help = true })},
		{name: "version", group: "Other", help: "show the version", apply: flag(func(r *runOptions) { r.version = true })},
	}
})

func checkCap(name string) (int, error) {
	if strings.EqualFold(name, "ALL") {
		return -1, nil
	}
	return sandbox.ParseCap(name)
}

func (r *runOptions) overlay(m sandbox.Mount) error {
	if len(r.overlaySrc) == 0 {
		return fmt.Errorf("an overlay needs at least one --overlay-src before it")
	}
	// --overlay-src lists lowest first (as bwrap); the spec wants the
	// uppermost first.
	for i := len(r.overlaySrc) - 1; i >= 0; i-- {
		m.Lower = append(m.Lower, r.overlaySrc[i])
	}
	r.overlaySrc = nil
	return r.addOp(m)
}

// parseRun reads `nook run` arguments: options (in any order, "--opt value"
// or "--opt=value" for one-argument options), then the command, after "--"
// or at the first word that is not an option.
func parseRun(args []string) (*runOptions, []string, error) {
	r := &runOptions{share: map[string]bool{}, unshare: map[string]bool{}}
	r.spec.SortMounts = true
	opts := options()
	byName := make(map[string]*option, len(opts))
	for i := range opts {
		byName[opts[i].name] = &opts[i]
	}
	i := 0
	for i < len(args) {
		a := args[i]
		if a == "--" {
			i++
			break
		}
		if a == "-h" {
			// The short form every tool takes, not a command called
			// -h (which -- still runs).
			r.help = true
			i++
			continue
		}
		if !strings.HasPrefix(a, "--") {
			// -ro-bind: one of nook's options with a dash missing, not
			// a command of that name (which -- still runs).
			if name, _, _ := strings.Cut(strings.TrimPrefix(a, "-"), "="); a != name && byName[name] != nil {
				return nil, nil, fmt.Errorf("unknown option %s: nook's options take two dashes (-%s)", a, a)
			}
			break
		}
		name, inline, hasInline := strings.Cut(a[2:], "=")
		o := byName[name]
		if o == nil {
			return nil, nil, fmt.Errorf("unknown option --%s (see nook run --help)", name)
		}
		var vals []string
		switch {
		case hasInline && len(o.args) == 1:
			vals = []string{inline}
			i++
		case hasInline:
			return nil, nil, fmt.Errorf("--%s takes %d arguments; write them after it, separated by spaces", name, len(o.args))
		default:
			if i+1+len(o.args) > len(args) {
				return nil, nil, fmt.Errorf("--%s needs %s", name, strings.Join(o.args, " "))
			}
			vals = args[i+1 : i+1+len(o.args)]
			if err := missingBeforeSeparator(o, vals); err != nil {
				return nil, nil, err
			}
			i += 1 + len(o.args)
		}
		if err := o.apply(r, vals); err != nil {
			return nil, nil, fmt.Errorf("--%s: %w", name, err)
		}
	}
	if r.perms != nil || r.size != 0 {
		return nil, nil, fmt.Errorf("--perms or --size must come before the operation they change")
	}
	if r.destNoFollow || r.indexOff {
		return nil, nil, fmt.Errorf("--dest-nofollow or --overlay-index-off must come before the bind or overlay it changes")
	}
	if len(r.overlaySrc) > 0 {
		return nil, nil, fmt.Errorf("--overlay-src without a following --overlay, --tmp-overlay or --ro-overlay")
	}
	return r, args[i:], nil
}
