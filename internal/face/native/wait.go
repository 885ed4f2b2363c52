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
func startAndWait(spec *sandbox.Spec, sigs chan os.Signal, listening func(), hint func(*sandbox.StartError) string) int {
	spec.BeforeFork = listening
	return startForwarding(spec, sigs, hint)
}

// startForwarding starts spec, relays what arrives on sigs (already
// subscribed) to it, and returns nook's exit status: the command's, or a
// set-up failure's code with its message (and hint's, when it has one for
// that failure) on stderr.
func startForwarding(spec *sandbox.Spec, sigs <-chan os.Signal, hint func(*sandbox.StartError) string) int {
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
			return se.Code
		}
		fmt.Fprintf(os.Stderr, "nook: %v\n", err)
		return sandbox.ExitSetupFailed
	}
	st, err := p.ForwardSignalsAndWait(sigs)
	sandbox.Phase("waited")
	if err != nil {
		fmt.Fprintf(os.Stderr, "nook: %v\n", err)
		return sandbox.ExitSetupFailed
	}
	return st.ExitCode()
}
