// Package native is nook's own command line: `nook run` and friends.
package native

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/nook-project/nook/sandbox"
	"golang.org/x/sys/unix"
)

// Version is set by the build.
var Version = "dev"

// Run is `nook run ARGS…`; it returns the exit status for the process.
func Run(args []string, inherited []int) int {
	// Subscribed alongside parsing: see sandbox.SubscribeForwarded.
	sigs, listening := sandbox.SubscribeForwarded()
	defer listening() // not stopped: see sandbox.SubscribeForwarded
	r, cmd, err := parseRun(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "nook run: %v\n", err)
		return 2
	}
	if r.help {
		printRunHelp(os.Stdout)
		return 0
	}
	if r.version {
		fmt.Println(BuildVersion())
		return 0
	}
	spec, err := r.build(cmd, inherited)
	if err != nil {
		fmt.Fprintf(os.Stderr, "nook run: %v\n", err)
		return 2
	}
	if r.printPlan || r.debug {
		w := os.Stderr
		if r.printPlan {
			w = os.Stdout
		}
		printPlan(w, spec, r)
		if r.printPlan {
			return 0
		}
	}
	if !r.printPlan {
		for _, n := range r.notes {
			fmt.Fprintf(os.Stderr, "nook: %s\n", n)
		}
	}
	sandbox.Phase("parsed")
	spec.BeforeFork = listening
	return startForwarding(spec, sigs, nil)
}

// build fills in the defaults: the zero-setup layout when no option says
// what / is, the namespaces, the environment and the fds.
func (r *runOptions) build(cmd []string, inherited []int) (*sandbox.Spec, error) {
	s := r.spec
	if len(cmd) == 0 {
		sh := os.Getenv("SHELL")
		if sh == "" {
			sh = "/bin/sh"
		}
		cmd = []string{sh}
	}
	s.Args = cmd

	ns := map[string]bool{"pid": true, "ipc": true, "uts": true}
	for n := range r.unshare {
		ns[n] = true
	}
	for n := range r.share {
		ns[n] = false
	}
	s.Namespaces = sandbox.Namespaces{PID: ns["pid"], Net: ns["net"], IPC: ns["ipc"], UTS: ns["uts"], Cgroup: ns["cgroup"]}
	if s.Hostname != "" && !s.Namespaces.UTS {
		return nil, fmt.Errorf("--hostname needs a UTS namespace, but --share-uts was given")
	}

	if !r.rootGiven && !r.noDefaultFS && r.buildsTree == "" {
		var note string
		r.defaults, note = defaultLayout(s.Namespaces.PID, r.spec.Mounts)
		if note != "" {
			r.notes = append(r.notes, note)
		}
		s.Mounts = append(append([]sandbox.Mount(nil), r.defaults...), s.Mounts...)
	}
	if r.fuse {
		s.Mounts = append([]sandbox.Mount(nil), s.Mounts...)
		for i := range s.Mounts {
			if s.Mounts[i].Op == sandbox.OpDev {
				s.Mounts[i].Fuse = true
			}
		}
	}

	env := os.Environ()
	if r.clearEnv {
		env = nil
	}
	for _, e := range r.envEdits {
		env = editEnv(env, e[0], e[1])
	}
	s.Env = env

	passed := sandbox.CallerFds(inherited)
	for _, m := range s.Mounts {
		// Only an fd the caller passed: nook's own (the Go runtime
		// opens some before main) would hang or crash it.
		if m.Op == sandbox.OpFile && !passed[m.FD] {
			return nil, fmt.Errorf("--file %d: fd %d is not open (pass one, as in `nook run --file 3 /dest CMD 3<file`)", m.FD, m.FD)
		}
	}
	kept, err := keptFds("--keep-fd", r.keepFds, passed)
	if err != nil {
		return nil, err
	}
	// An fd named by --file is nook's to read, not the command's (as bwrap
	// does with the fds its options use).
	used := map[int]bool{}
	for _, m := range s.Mounts {
		if m.Op == sandbox.OpFile {
			used[m.FD] = true
		}
	}
	for _, fd := range passedFds(inherited, kept, r.closeFds) {
		if !used[fd] {
			s.Fds = append(s.Fds, sandbox.FD{Inside: fd, Outside: fd})
		}
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

// defaultLayout is the zero-setup sandbox: the host root read-only, fresh
// /dev, /proc and /tmp, and the current directory writable unless it is
// $HOME or above it (then a note says so) or an option binds it already.
func defaultLayout(pidNS bool, given []sandbox.Mount) ([]sandbox.Mount, string) {
	ms := []sandbox.Mount{
		{Op: sandbox.OpBind, Source: "/", Dest: "/", ReadOnly: true},
		{Op: sandbox.OpDev, Dest: "/dev"},
		{Op: sandbox.OpTmpfs, Dest: "/tmp"},
	}
	if pidNS {
		ms = append(ms, sandbox.Mount{Op: sandbox.OpProc, Dest: "/proc"})
	} else {
		// A new procfs needs a pid namespace it owns; show the host's.
		ms = append(ms, sandbox.Mount{Op: sandbox.OpBind, Source: "/proc", Dest: "/proc"})
	}
	wd, err := os.Getwd()
	if err != nil || wd == "/" {
		return ms, ""
	}
	for _, m := range given {
		if sandbox.Clean(m.Dest) == wd && (m.Op == sandbox.OpBind || m.Op == sandbox.OpDevBind) {
			return ms, "" // the user said how the current directory looks
		}
	}
	// A terminal opens in $HOME: all of it writable (ssh keys, shell
	// start-up files) is not what "the current directory" means to
	// someone trying nook there.
	if home := os.Getenv("HOME"); home != "" && home != "/" {
		home = sandbox.Clean(home)
		if wd == home || strings.HasPrefix(home, wd+"/") {
			return ms, fmt.Sprintf("the current directory %s holds your home directory: it stays read-only (--bind %s %s makes it writable)", wd, quoteWords([]string{wd})[0], quoteWords([]string{wd})[0])
		}
	}
	return append(ms, sandbox.Mount{Op: sandbox.OpBind, Source: wd, Dest: wd}), ""
}

func editEnv(env []string, key, value string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	if value != "\x00" {
		out = append(out, key+"="+value)
	}
	return out
}

// parseKeepFd parses the number of --keep-fd: an fd above 2.
func parseKeepFd(v string) (int, error) {
	fd, err := parseInt(v)
	if err != nil {
		return 0, err
	}
	if fd <= 2 {
		return 0, fmt.Errorf("--keep-fd %d: standard input, output and error are always passed", fd)
	}
	return fd, nil
}

// keptFds checks the fds an option asked to pass by number: each must be one
// the caller passed.
func keptFds(option string, fds []int, passed map[int]bool) (map[int]bool, error) {
	kept := map[int]bool{}
	for _, fd := range fds {
		if !passed[fd] {
			return nil, fmt.Errorf("%s %d: fd %d is not open (the caller must pass it, as `%d<PATH` does in a shell)", option, fd, fd, fd)
		}
		kept[fd] = true
	}
	return kept, nil
}

// passedFds is which inherited fds reach the command: none with closeAll,
// all but directories otherwise (a directory fd leads out of the sandbox:
// sandbox.DirFd), and those in kept in any case.
func passedFds(inherited []int, kept map[int]bool, closeAll bool) []int {
	var out []int
	for _, fd := range inherited {
		if kept[fd] || !closeAll && !sandbox.DirFd(fd) {
			out = append(out, fd)
		}
	}
	return out
}

// InheritedFds lists the fds above 2 that nook's caller left open without
// close-on-exec: the ones a plain exec would pass on (make's jobserver
// pipes, systemd's sockets). Call it before anything else opens files.
func InheritedFds() []int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd <= 2 {
			continue
		}
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil || flags&unix.FD_CLOEXEC != 0 {
			continue
		}
		out = append(out, fd)
	}
	sort.Ints(out)
	return out
}

func printRunHelp(w io.Writer) {
	fmt.Fprint(w, `usage: nook run [OPTIONS] [--] [COMMAND [ARGS...]]

Run COMMAND (default: $SHELL) in a new sandbox. With no filesystem option
that places / or builds a root of its own (--proc, --dev, ...), the sandbox
sees the host root read-only, a fresh /dev, /proc and /tmp, and the current
directory read-write (unless it is $HOME or above it); its own pid, IPC and
UTS namespaces; the host's network. --print-plan shows the result. Options may come in any order: filesystem
operations are sorted so parents come before children.

Exit status: the command's; 128+N when it was killed by signal N; 127 when it
was not found; 126 when it could not be executed; 125 when the sandbox could
not be set up; 2 for a usage error.
`)
	group := ""
	for _, o := range options() {
		if o.group != group {
			group = o.group
			fmt.Fprintf(w, "\n%s:\n", group)
		}
		left := "  --" + o.name
		if len(o.args) > 0 {
			left += " " + strings.Join(o.args, " ")
		}
		if len(left) < 30 {
			fmt.Fprintf(w, "%-30s %s\n", left, o.help)
		} else {
			fmt.Fprintf(w, "%s\n%-30s %s\n", left, "", o.help)
		}
	}
}
