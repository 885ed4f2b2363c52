package mkosi

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/nook-project/nook/sandbox"
	"golang.org/x/sys/unix"
)

// Exit statuses where mkosi-sandbox would end in a Python traceback
// (status 1): nook's own, as `nook run` uses them.
const (
	exitUsage = 2
	exitSetup = sandbox.ExitSetupFailed
)

// Run is nook called as mkosi-sandbox: args the command line after the
// program name, inherited the fds the caller left open for the command.
// It returns the exit status.
func Run(args []string, inherited []int, nookVersion string) int {
	sigs, listening := sandbox.SubscribeForwarded()
	defer listening() // not stopped: see sandbox.SubscribeForwarded
	cwd, err := os.Getwd()
	if err != nil {
		return fail(fmt.Errorf("find the working directory: %w", err), exitSetup)
	}
	o, err := parse(args, cwd)
	if err != nil {
		return fail(err, exitUsage)
	}
	if o.help {
		usage(os.Stderr)
		return 0
	}
	if o.version {
		fmt.Fprintf(os.Stderr, "%s (nook %s)\n", Version, nookVersion)
		return 0
	}
	if code, err := check(o); err != nil {
		return fail(err, code)
	}
	h := currentHost()
	if o.debug {
		printOps(os.Stderr, order(o.ops))
	}
	spec, err := build(o, h, inherited)
	if err != nil {
		return fail(err, exitSetup)
	}
	spec.BeforeFork = listening
	if o.suspend {
		// As sandbox.py stops itself before its execve: the process the
		// caller started (this one) stops once the sandbox is set up,
		// and the command starts when it is continued (waitid with
		// WSTOPPED|WNOWAIT, then SIGCONT).
		spec.BeforeExec = sandbox.StopSelf
	}
	for _, fd := range o.execFds {
		// Not into the sandbox's processes (the command gets none of
		// them either: build leaves them out of spec.Fds).
		unix.CloseOnExec(fd)
	}
	proc, err := sandbox.Start(spec)
	// Start returns once the command has exec'd (or failed to): the
	// moment sandbox.py's own execve would close the --exec-fd pipes.
	// mkosi 25.3's spawn() reads the pipe until its end before it feeds
	// the command input or yields it, so nook must not hold them while
	// the command runs.
	closeExecFds(o.execFds)
	if err != nil {
		var se *sandbox.StartError
		if errors.As(err, &se) {
			fmt.Fprintf(os.Stderr, "mkosi-sandbox: %s\n", se.Msg)
			return se.Code
		}
		return fail(err, exitSetup)
	}
	res, err := proc.ForwardSignalsAndWait(sigs)
	if err != nil {
		return fail(err, exitSetup)
	}
	return res.ExitCode()
}

// check refuses what the face cannot do, with the status to exit with.
func check(o *options) (int, error) {
	if o.foreign != "" {
		if !foreignServices() {
			return exitSetup, fmt.Errorf("%s %w", o.foreign, errNoForeign)
		}
		return exitSetup, fmt.Errorf("%s: foreign id ranges are not supported by nook yet", o.foreign)
	}
	if o.cmd[0] == "" {
		// Python's execvp refuses an empty name (ValueError): a
		// traceback under mkosi-sandbox, a usage error here.
		return exitUsage, &UsageError{Msg: "the command is empty"}
	}
	return 0, nil
}

// foreignServices reports whether systemd's nsresourced and mountfsd
// listen on this host (their varlink sockets exist).
func foreignServices() bool {
	for _, p := range []string{"/run/systemd/io.systemd.NamespaceResource", "/run/systemd/io.systemd.MountFileSystem"} {
		if _, err := os.Stat(p); err != nil {
			return false
		}
	}
	return true
}

// closeExecFds closes nook's copies of the --exec-fd fds.
func closeExecFds(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

func fail(err error, code int) int {
	fprintErr(os.Stderr, err)
	return code
}

func fprintErr(w io.Writer, err error) {
	fmt.Fprintf(w, "mkosi-sandbox: %v\n", err)
}
