package virtnook

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nook-project/nook/session"
)

// errSingleID is why the server does not start for a caller without
// subordinate ids.
var errSingleID = errors.New("you have no subordinate ids, and autopkgtest runs its tests through su, which cannot set groups in a session that maps only your own id: ask root for a range (usermod --add-subuids 100000-165535 --add-subgids 100000-165535 USER)")

// Name is the face's name: nook answers as the server when called by it.
const Name = "autopkgtest-virt-nook"

// Run is the face: args is the command line after the name. It speaks the
// protocol on stdin and stdout until quit or end of input and returns the
// exit status: 0 after quit, 12 after a failure (autopkgtest's
// VirtSubproc's status for one), 2 for a usage error, 1 when it cannot
// start.
func Run(args []string, version string) int {
	o, err := parse(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n%s", Name, err, usage)
		return 2
	}
	if o.help {
		fmt.Print(usage)
		return 0
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: find nook's own path: %v\n", Name, err)
		return 1
	}
	st, name, err := openStore(o.chroot)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", Name, err)
		return 1
	}
	if st.Mode() == session.IDSingle {
		// autopkgtest runs every test through su, even as root, and su
		// sets groups, which a user namespace of a single id denies.
		fmt.Fprintf(os.Stderr, "%s: %s\n", Name, errSingleID)
		return 1
	}
	o.chroot = name
	s := &server{o: o, store: st, exe: exe, in: bufio.NewReader(os.Stdin), out: os.Stdout, errOut: os.Stderr}
	s.sweep()
	return s.serve()
}

// openStore is the caller's store and the name to begin sessions of
// chroot by. A chroot given as a tarball's path is looked up as sbuild's
// tarballs are, among its directory's (bookworm-amd64.tar.zst is
// "bookworm-amd64"), and must be the file that name finds there.
func openStore(chroot string) (*session.Store, string, error) {
	st, err := session.Open()
	if err != nil {
		return nil, "", err
	}
	if !strings.Contains(chroot, "/") {
		return st, chroot, nil
	}
	abs, err := filepath.Abs(chroot)
	if err != nil {
		return nil, "", fmt.Errorf("chroot %s: %w", chroot, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, "", fmt.Errorf("chroot %s: %w", chroot, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, "", fmt.Errorf("chroot %s: not a tarball (a directory is defined as a chroot with nook chroot add NAME DIR)", chroot)
	}
	name, _, _ := strings.Cut(filepath.Base(abs), ".t")
	st.Registry = &session.Registry{SbuildDir: filepath.Dir(abs)}
	c, err := st.Registry.Lookup(name)
	if err != nil {
		return nil, "", fmt.Errorf("chroot %s: not a tarball named as sbuild names them (NAME.tar, NAME.tar.zst, ...): %w", chroot, err)
	}
	if found, err := os.Stat(c.Path); err != nil || !os.SameFile(fi, found) {
		return nil, "", fmt.Errorf("chroot %s: %s in the same directory takes its name %s (define it with nook chroot add NAME %s)", chroot, c.Path, name, abs)
	}
	return st, name, nil
}

// server is one run of the protocol.
type server struct {
	o      *options
	store  *session.Store
	exe    string
	in     *bufio.Reader
	out    io.Writer
	errOut io.Writer

	// mu guards the testbed against a signal's cleanup while a command
	// changes it.
	mu sync.Mutex
	// id is the open session ("" when closed); downtmp its scratch
	// directory, kept across reverts (autopkgtest wants the same path).
	id      string
	downtmp string
	// user is the normal user offered (suggested-normal-user), "" for none.
	user string
	// owner is this server, as the owner of the sessions it begins: a
	// later server ends them if this one is killed before it can.
	owner *session.Owner
}

// failure ends the server: VirtSubproc's bomb.
type failure struct{ msg string }

func (f *failure) Error() string { return f.msg }

// failed is a command's failure that keeps the server running: its reply
// replaces "ok" (VirtSubproc's FailedCmd: copy-failed, timeout).
type failed struct{ reply string }

func (f *failed) Error() string { return f.reply }

func (s *server) debugf(format string, a ...any) {
	if s.o.debug {
		fmt.Fprintf(s.errOut, Name+": "+format+"\n", a...)
	}
}

func (s *server) serve() int {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT, syscall.SIGPIPE)
	defer signal.Stop(sigs)
	go func() {
		sig := <-sigs
		// The testbed goes with the server, as VirtSubproc's does.
		s.mu.Lock()
		s.cleanup()
		signal.Reset()
		n := sig.(syscall.Signal)
		// Go does not die of a SIGPIPE raised by kill (only of one
		// from a write to stdout or stderr): for it, and should a
		// raised signal not be delivered at once, exit as a shell
		// reports that death. The lock stays held: nothing else may
		// run meanwhile.
		if n != syscall.SIGPIPE {
			syscall.Kill(os.Getpid(), n)
			time.Sleep(time.Second)
		}
		os.Exit(128 + int(n))
	}()
	fmt.Fprintln(s.out, "ok")
	for {
		line, err := s.in.ReadString('\n')
		if err != nil && line == "" {
			s.mu.Lock()
			s.cleanup()
			fmt.Fprintf(s.errOut, "%s: failure: end of file - caller quit?\n", Name)
			return 12
		}
		words := strings.Fields(line)
		if len(words) == 0 {
			s.mu.Lock()
			s.cleanup()
			fmt.Fprintf(s.errOut, "%s: failure: empty commands are not permitted\n", Name)
			return 12
		}
		args := make([]string, len(words))
		for i, w := range words {
			args[i] = unquote(w)
		}
		s.debugf("command %s", strings.Join(words, " "))
		s.mu.Lock()
		reply, err := s.command(args)
		var fl *failed
		switch {
		case errors.As(err, &fl):
			fmt.Fprintln(s.out, fl.reply)
		case errors.Is(err, errQuit):
			s.cleanup()
			fmt.Fprintln(s.out, "ok")
			return 0
		case err != nil:
			s.cleanup()
			fmt.Fprintf(s.errOut, "%s: failure: %v\n", Name, err)
			return 12
		default:
			fmt.Fprintln(s.out, strings.Join(append([]string{"ok"}, reply...), " "))
		}
		s.mu.Unlock()
	}
}

var errQuit = errors.New("quit")

// nargs checks a command's number of arguments.
func nargs(args []string, n, optional int) error {
	switch {
	case len(args) < 1+n:
		return &failure{fmt.Sprintf("too few arguments to command `%s'", args[0])}
	case optional >= 0 && len(args) > 1+n+optional:
		return &failure{fmt.Sprintf("too many arguments to command `%s'", args[0])}
	}
	return nil
}

// command runs one command and returns the words of its reply after "ok".
func (s *server) command(args []string) ([]string, error) {
	var n, opt int
	switch args[0] {
	case "copydown", "copyup":
		n = 2
	case "shell":
		n, opt = 1, -1
	case "reboot":
		opt = 1
	}
	if err := nargs(args, n, opt); err != nil {
		return nil, err
	}
	if s.id == "" {
		switch args[0] {
		case "capabilities", "quit", "open", "auxverb_debug_fail":
		default:
			if known(args[0]) {
				return nil, &failure{fmt.Sprintf("`%s' when not open", args[0])}
			}
		}
	}
	switch args[0] {
	case "capabilities":
		return s.capabilities(), nil
	case "quit":
		return nil, errQuit
	case "open":
		if s.id != "" {
			return nil, &failure{"`open' when already open"}
		}
		if err := s.open(); err != nil {
			return nil, err
		}
		return []string{quote(s.downtmp)}, nil
	case "revert":
		if err := s.revert(); err != nil {
			return nil, err
		}
		return []string{quote(s.downtmp)}, nil
	case "close":
		s.cleanup()
		return nil, nil
	case "print-execute-command":
		var q []string
		for _, a := range s.auxverb() {
			q = append(q, quote(a))
		}
		return []string{strings.Join(q, ",")}, nil
	case "copydown":
		return nil, s.copy(args[1], args[2], false)
	case "copyup":
		return nil, s.copy(args[1], args[2], true)
	case "shell":
		return nil, s.shell(args[1], args[2:])
	case "reboot":
		// A bare "ok": autopkgtest 5.28 takes no result parameters
		// (README.virtualisation-server.rst names the scratch
		// directory; VirtSubproc's reboot, which the client follows,
		// answers none).
		return nil, s.reboot(args[1:])
	case "auxverb_debug_fail":
		return nil, nil
	}
	return nil, &failure{fmt.Sprintf("unknown command `%s'", args[0])}
}

func known(c string) bool {
	switch c {
	case "revert", "close", "print-execute-command", "copydown", "copyup", "shell", "reboot":
		return true
	}
	return false
}

// capabilities are what the testbed truly offers. revert and
// revert-full-system: a revert is a new session, so nothing of the old
// one (files anywhere, processes, users) survives it. root-on-testbed:
// commands run as root inside. isolation-container only when booted:
// otherwise every command has namespaces of its own and no service
// outlives the command that started it. reboot only when booted: the
// container's systemd reboots on the same tree.
func (s *server) capabilities() []string {
	caps := []string{"revert", "revert-full-system"}
	caps = append(caps, "root-on-testbed")
	if s.o.boot {
		caps = append(caps, "isolation-container", "reboot")
	}
	if s.user != "" {
		caps = append(caps, "suggested-normal-user="+s.user)
	}
	return caps
}

// ExecuteOption, first after the face's name, makes the rest of the
// command line nook session run's: the execute prefix the server hands
// out (cmd/nook answers it).
const ExecuteOption = "--execute"

// ExecuteFailed is the prefix's exit status for nook's own failures: the
// protocol's for a testbed that failed (254 or 255), which autopkgtest
// reports as such, where nook session run's 125 would pass for the
// command's.
const ExecuteFailed = 255

// auxverb is the command prefix that runs a command in the testbed as
// root from /: nook session run's, through the face (ExecuteOption) for
// its exit status. A copy of nook named for the face takes the option
// without the name.
func (s *server) auxverb() []string {
	return s.runAs("root")
}

// runAs is the prefix that runs a command in the testbed as user.
func (s *server) runAs(user string) []string {
	a := []string{s.exe, Name, ExecuteOption}
	if filepath.Base(s.exe) == Name {
		a = []string{s.exe, ExecuteOption}
	}
	a = append(a, s.id, "--user", user, "--directory", "/")
	if s.o.noNetwork && !s.o.boot {
		// A booted container has its network from begin for its life.
		a = append(a, "--no-network")
	}
	return append(a, "--")
}

// inTestbed runs argv in the testbed with stdin, stdout and stderr as
// given (nil: /dev/null, or stderr to the server's).
func (s *server) inTestbed(argv []string, stdin io.Reader, stdout io.Writer) *exec.Cmd {
	c := exec.Command(s.auxverb()[0], append(s.auxverb()[1:], argv...)...)
	c.Stdin, c.Stdout, c.Stderr = stdin, stdout, s.errOut
	return c
}

// check runs argv in the testbed and returns its output; a failure ends
// the server (VirtSubproc's check_exec).
func (s *server) check(argv ...string) (string, error) {
	var out strings.Builder
	c := s.inTestbed(argv, nil, &out)
	if err := c.Run(); err != nil {
		return "", &failure{fmt.Sprintf("%s in session %s: %v", strings.Join(argv, " "), s.id, err)}
	}
	return out.String(), nil
}

// open begins the session and makes (or, after a revert, remakes) the
// scratch directory.
func (s *server) open() error {
	res, err := s.store.Begin(s.o.chroot, session.BeginOptions{Boot: s.o.boot, NoNetwork: s.o.boot && s.o.noNetwork, Owner: s.owner, Busy: func() {
		s.debugf("another nook is unpacking %s; waiting for it", s.o.chroot)
	}})
	if err != nil {
		return &failure{fmt.Sprintf("begin a session of %s: %v", s.o.chroot, err)}
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(s.errOut, "%s: warning: %s\n", Name, w)
	}
	s.id = res.State.ID
	s.debugf("session %s (id mapping %s)", s.id, res.State.IDMode)
	if s.downtmp == "" {
		d, err := s.check("mktemp", "--directory", "--tmpdir", "autopkgtest.XXXXXX")
		if err != nil {
			return err
		}
		s.downtmp = strings.TrimSpace(d)
		if _, err := s.check("chmod", "1777", s.downtmp); err != nil {
			return err
		}
	} else if _, err := s.check("mkdir", "--mode=1777", "--parents", s.downtmp); err != nil {
		return err
	}
	s.user = s.normalUser(res.State)
	return nil
}

// normalUser makes the caller's account in the session, as the normal user
// to suggest, and returns its name; "" when there can be none: a booted
// session (its agent adds no users; autopkgtest makes one itself, as it
// does for any testbed with revert-full-system) or real root (no account
// of its own: autopkgtest makes one then, too).
func (s *server) normalUser(st *session.State) string {
	if st.Boot || st.IDMode != session.IDSubids {
		return ""
	}
	u, err := user.Current()
	if err != nil || u.Username == "root" || session.ValidName(u.Username) != nil {
		return ""
	}
	// nook adds a user a command asks for that the session lacks.
	pre := s.runAs(u.Username)
	c := exec.Command(pre[0], append(pre[1:], "true")...)
	c.Stderr = s.errOut
	if err := c.Run(); err != nil {
		s.debugf("add user %s to session %s: %v", u.Username, s.id, err)
		return ""
	}
	return u.Username
}

// sweep ends the sessions servers killed before their end left behind
// (autopkgtest under a debci worker that was killed with SIGKILL, say),
// and names this server as the owner of the sessions it begins. A
// sweep's failure is said and does not stop the server: the orphans only
// cost disk space.
func (s *server) sweep() {
	owner, err := session.SelfOwner()
	if err != nil {
		fmt.Fprintf(s.errOut, "%s: warning: %v: a session this server begins stays if it is killed\n", Name, err)
	}
	s.owner = owner
	ended, err := s.store.EndOrphans()
	for _, id := range ended {
		s.debugf("ended session %s: the server that began it is gone", id)
	}
	if err != nil {
		fmt.Fprintf(s.errOut, "%s: warning: %v\n", Name, err)
	}
}

// rebootWait bounds how long `reboot prepare-only' waits for the test to
// reboot the testbed itself once the state is saved. autopkgtest waits on
// the reply without a timeout of its own (its test timeout ended with the
// test's wrapper), and the server answers signals only between commands:
// ten minutes, as a test that prepares a reboot makes it next.
const rebootWait = 10 * time.Minute

// reboot reboots the booted testbed on the same tree, as VirtSubproc's
// reboot does with other servers: the scratch directory, on the
// container's /tmp (a tmpfs, new at each boot), is saved into a tarball
// in /var/cache (or /home) first and restored after. With prepare-only
// the test reboots the testbed itself once the state is saved (the
// removal of /run/autopkgtest-reboot-prepare-mark tells it so).
func (s *server) reboot(args []string) error {
	if !s.o.boot {
		return &failure{"`reboot' when `reboot' not advertised"}
	}
	prepareOnly := len(args) == 1 && args[0] == "prepare-only"
	if len(args) == 1 && !prepareOnly {
		return &failure{fmt.Sprintf("`reboot': unknown argument `%s'", args[0])}
	}
	before, err := s.store.Reboots(s.id)
	if err != nil {
		return &failure{fmt.Sprintf("reboot session %s: %v", s.id, err)}
	}
	if _, err := s.check("sh", "-ec", `for d in /var/cache /home; do if [ -w "$d" ]; then `+
		`tar --warning=none --create --absolute-names -f "$d/autopkgtest-tmpdir.tar" "$1"; `+
		`rm -f /run/autopkgtest-reboot-prepare-mark; exit 0; fi; done; exit 1`, "sh", s.downtmp); err != nil {
		return err
	}
	if prepareOnly {
		s.debugf("state saved; waiting for the testbed to reboot")
		err = s.store.WaitReboot(s.id, before, rebootWait)
	} else {
		err = s.store.Reboot(s.id)
	}
	if err != nil {
		return &failure{fmt.Sprintf("reboot session %s: %v", s.id, err)}
	}
	_, err = s.check("sh", "-ec", `for d in /var/cache /home; do if [ -e "$d/autopkgtest-tmpdir.tar" ]; then `+
		`tar --warning=none --extract --absolute-names -f "$d/autopkgtest-tmpdir.tar"; `+
		`rm "$d/autopkgtest-tmpdir.tar"; exit 0; fi; done; exit 1`)
	return err
}

// revert ends the session and begins a fresh one.
func (s *server) revert() error {
	if s.id == "" {
		return &failure{"`revert' when not open"}
	}
	if err := s.end(); err != nil {
		return err
	}
	return s.open()
}

// end ends the open session.
func (s *server) end() error {
	id := s.id
	s.id = ""
	if err := s.store.End(id, nil); err != nil {
		return &failure{fmt.Sprintf("end session %s: %v", id, err)}
	}
	return nil
}

// cleanup closes the testbed, if open; problems are said, not returned.
func (s *server) cleanup() {
	if s.id == "" {
		return
	}
	if err := s.end(); err != nil {
		fmt.Fprintf(s.errOut, "%s: %v\n", Name, err)
	}
}

// shell runs an interactive shell in the testbed on the terminal, in dir
// with the environment settings env, as VirtSubproc's default does.
func (s *server) shell(dir string, env []string) error {
	cmd := "cd " + shQuote(dir) + "; "
	for _, e := range env {
		cmd += "export " + shQuote(e) + "; "
	}
	if t, ok := os.LookupEnv("TERM"); ok {
		cmd += "export " + shQuote("TERM="+t) + "; "
	}
	cmd += "bash -i || sh -i"
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		fmt.Fprintf(s.errOut, "%s: cannot run a shell: %v\n", Name, err)
		return nil
	}
	defer tty.Close()
	c := s.inTestbed([]string{"sh", "-c", cmd}, tty, tty)
	c.Stderr = tty
	c.Run()
	return nil
}

// shQuote quotes s for sh.
func shQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
