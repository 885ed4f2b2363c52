package native

import (
	"errors"
	"fmt"
	"os"

	"github.com/nook-project/nook/sandbox"
)

// startAndWait runs spec as `nook run` does (signals forwarded, job
// control mirrored, nook not dumpable once the sandbox runs) and returns
// the exit status for the process.
// sigs comes from sandbox.SubscribeForwarded: listening waits for it,
// as late as it can (Spec.BeforeFork); nothing stops it, since the
// process exits next (see there).
func startAndWait(spec *sandbox.Spec, sigs chan os.Signal, listening func(), hint func(*sandbox.StartError) string, failed int) int {
	spec.BeforeFork = listening
	return startFailing(spec, sigs, hint, failed)
}

// startForwarding starts spec, relays what arrives on sigs (already
// subscribed) to it, and returns nook's exit status: the command's, or a
// set-up failure's code with its message (and hint's, when it has one for
// that failure) on stderr.
func startForwarding(spec *sandbox.Spec, sigs <-chan os.Signal, hint func(*sandbox.StartError) string) int {
	return startFailing(spec, sigs, hint, sandbox.ExitSetupFailed)
}

// startFailing is startForwarding with failed as the status of nook's own
// failures (a set-up that failed) in place of 125; a command that could
// not be found or executed still gives 127 or 126.
func startFailing(spec *sandbox.Spec, sigs <-chan os.Signal, hint func(*sandbox.StartError) string, failed int) int {
	p, err := sandbox.Start(spec)
	if err != nil {
		var se *sandbox.StartError
		if errors.As(err, &se) {
			fmt.Fprintf(os.Stderr, "nook: %s\n", se.Msg)
			if hint != nil {
				if h := hint(se); h != "" {
					fmt.Fprintf(os.Stderr, "nook: %s\n", h)
				}
			}
			if se.Code == sandbox.ExitSetupFailed {
				return failed
			}
			return se.Code
		}
		fmt.Fprintf(os.Stderr, "nook: %v\n", err)
		return failed
	}
	st, err := p.ForwardSignalsAndWait(sigs)
	sandbox.Phase("waited")
	if err != nil {
		fmt.Fprintf(os.Stderr, "nook: %v\n", err)
		return failed
	}
	return st.ExitCode()
}
