package bwrap

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/nook-project/nook/sandbox"
	"golang.org/x/sys/unix"
)

// Version is the bubblewrap release whose command line this face follows.
const Version = "0.11.0"

// exitSetup is what bwrap exits with when it could not set the sandbox up
// or start the command.
const exitSetup = 1

// Run is nook called as bwrap: argv0 is the name it was called by (for the
// usage line), args the rest of the command line, inherited the fds the
// caller left open for the command. It returns the exit status.
func Run(argv0 string, args []string, inherited []int, nookVersion string) int {
	// Listen before the command can run: a signal that arrives while the
	// sandbox starts is forwarded once it runs, not lost. (bwrap forwards
	// none; see docs/bwrap-compat.md.) Subscribed alongside parsing: see
	// sandbox.SubscribeForwarded.
	sigs, listening := sandbox.SubscribeForwarded()
	defer listening() // not stopped: see sandbox.SubscribeForwarded
	p := newParser(os.Environ())
	p.open = sandbox.CallerFds(inherited)
	p.warned = os.Stderr
	cmd, err := p.parse(args)
	diag := diagnostics{prefix: p.levelPrefix}
	if err != nil {
		diag.fail(err)
		return exitSetup
	}
	if p.help {
		usage(os.Stdout, argv0)
		return 0
	}
	if p.version {
		fmt.Printf("bubblewrap %s (nook %s)\n", Version, nookVersion)
		return 0
	}
	if len(cmd) == 0 {
		usage(os.Stderr, argv0)
		return exitSetup
	}
	spec, err := p.build(cmd, inherited)
	if err != nil {
		diag.fail(err)
		return exitSetup
	}
	st := newStatus(p, spec)
	if st.info != nil || st.json != nil {
		// Only then: the hook keeps the sandbox on the Go init (the
		// report must come before set-up ends).
		spec.OnForked = st.forked
	}

	spec.BeforeFork = listening
	proc, err := sandbox.Start(spec)
	if st.err != nil {
		// forked killed the sandbox before its set-up went on.
		if err == nil {
			proc.Signal(unix.SIGKILL)
			proc.Wait()
		}
		st.close()
		diag.fail(st.err)
		return exitSetup
	}
	if err != nil {
		st.close()
		diag.fail(startMessage(err, cmd[0]))
		return exitSetup
	}
	res, err := proc.ForwardSignalsAndWait(sigs)
	if err != nil {
		st.close()
		diag.fail(err)
		return exitSetup
	}
	st.exited(res.ExitCode())
	return res.ExitCode()
}

// startMessage words a failed start as bwrap does where a caller may look
// for it: a command that cannot be run is reported as execvp's error.
func startMessage(err error, name string) error {
	var ue *sandbox.UserNSError
	if errors.As(err, &ue) {
		return userNSMessage(ue)
	}
	var sf *sandbox.SetupFailure
	if errors.As(err, &sf) {
		if m := setupMessage(sf); m != nil {
			return m
		}
	}
	var se *sandbox.StartError
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code {
	case sandbox.ExitNotFound:
		return fmt.Errorf("execvp %s: %w", name, unix.ENOENT)
	case sandbox.ExitCannotExecute:
		return fmt.Errorf("execvp %s: %w", name, unix.EACCES)
	}
	return errors.New(se.Msg)
}

// userNSMessage words a user namespace the kernel refused as bwrap does
// when its clone(2) fails.
func userNSMessage(ue *sandbox.UserNSError) error {
	switch {
	case errors.Is(ue.Err, unix.ENOSPC):
		return bwrapError("Creating new namespace failed: nesting depth or /proc/sys/user/max_*_namespaces exceeded (ENOSPC)")
	case errors.Is(ue.Err, unix.EPERM) && os.Geteuid() != 0:
		return bwrapError("No permissions to create a new namespace, likely because the kernel does not allow non-privileged user namespaces. " +
			"On e.g. debian this can be enabled with 'sysctl kernel.unprivileged_userns_clone=1'.")
	}
	var en syscall.Errno
	if errors.As(ue.Err, &en) {
		return bwrapErrorf("Creating new namespace failed: %s", errText(en))
	}
	return ue.Err
}

// diagnostics prints bwrap's messages: "bwrap: " first, and with
// --level-prefix the syslog level (3, error) in angle brackets before it.
type diagnostics struct{ prefix bool }

func (d diagnostics) fail(err error) {
	lvl := ""
	if d.prefix {
		lvl = "<3>"
	}
	fmt.Fprintf(os.Stderr, "%sbwrap: %s\n", lvl, errText(err))
}

// errText is err's message with its first letter as bwrap writes its own
// (errno strings start with a capital: "No such file or directory").
func errText(err error) string {
	var en syscall.Errno
	msg := err.Error()
	if errors.As(err, &en) && len(msg) > 0 {
		return capitalizeErrno(msg, en)
	}
	return msg
}

// capitalizeErrno replaces the Go spelling of errno (lower case) at the end
// of msg with the C library's (capitalised), as in bwrap's messages.
func capitalizeErrno(msg string, en syscall.Errno) string {
	s := en.Error()
	if len(msg) >= len(s) && msg[len(msg)-len(s):] == s && len(s) > 0 && s[0] >= 'a' && s[0] <= 'z' {
		return msg[:len(msg)-len(s)] + string(s[0]-'a'+'A') + s[1:]
	}
	return msg
}

// bwrapError is a message worded as bwrap words it, capital letter first:
// callers and people match on bwrap's text.
type bwrapError string

func (e bwrapError) Error() string { return string(e) }

// bwrapErrorf formats a bwrapError.
func bwrapErrorf(format string, a ...any) error { return bwrapError(fmt.Sprintf(format, a...)) }
