package sandbox

import (
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// ForwardedSignals are the signals a front end relays to the sandbox when it
// receives them: the ones a terminal or a supervisor sends to stop, hang up,
// poke or resize a command.
var ForwardedSignals = []os.Signal{unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2, unix.SIGWINCH}

// SubscribeForwarded subscribes a new channel to ForwardedSignals on a
// goroutine of its own and returns it with a function that waits until the
// subscription holds. The first signal.Notify of a process waits for the
// runtime to start a thread for signal delivery (about 2 ms on the project
// VM): a front end calls this first, does its other work meanwhile, and
// sets ready as the spec's BeforeFork (or calls it before Start), so that
// a signal sent to it once the command is up is forwarded, not fatal.
//
// A front end that exits as soon as its command has ended need not call
// signal.Stop: Stop waits until the runtime's signal loop is idle, which
// took a millisecond per command here (the main goroutine is locked to its
// thread, so every yield is a thread hand-off), and a signal that arrives
// after the command ended is better ignored than fatal, so that the exit
// status stays the command's.
func SubscribeForwarded() (sigs chan os.Signal, ready func()) {
	sigs = make(chan os.Signal, 16)
	done := make(chan struct{})
	go func() {
		signal.Notify(sigs, ForwardedSignals...)
		close(done)
	}()
	return sigs, func() { <-done }
}

// ForwardSignalsAndWait is what a front end does once the sandbox has
// started: it makes the calling process non-dumpable, relays each signal
// that arrives on sigs (subscribed with signal.Notify to ForwardedSignals
// before Start, so that none sent while the sandbox started is lost) to
// the sandbox's process group, and waits for the sandbox (see Wait). The
// exit status to report is the caller's to choose.
//
// Why non-dumpable: nothing inside the sandbox may read the front end's
// memory or fds through /proc/PID, since it runs as the same uid
// (CVE-2016-8659). Not before Start: the sandbox's first process inherits
// the flag until it execs, and its id maps could then not be written.
func (p *Process) ForwardSignalsAndWait(sigs <-chan os.Signal) (Status, error) {
	unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case s := <-sigs:
				p.Signal(s.(syscall.Signal))
			case <-done:
				return
			}
		}
	}()
	return p.Wait()
}
