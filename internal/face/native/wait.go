package native

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/nook-project/nook/sandbox"
	"golang.org/x/sys/unix"
)

// startAndWait runs spec as `nook run` does (signals forwarded, job
// control mirrored, nook not dumpable once the sandbox runs) and returns
// the exit status for the process.
func startAndWait(spec *sandbox.Spec, hint func(msg string) string) int {
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, forwardedSignals...)
	defer signal.Stop(sigs)
	p, err := sandbox.Start(spec)
	if err != nil {
		var se *sandbox.StartError
		if errors.As(err, &se) {
			fmt.Fprintf(os.Stderr, "nook: %s\n", se.Msg)
			if hint != nil {
				if h := hint(se.Msg); h != "" {
					fmt.Fprintf(os.Stderr, "nook: %s\n", h)
				}
			}
			return se.Code
		}
		fmt.Fprintf(os.Stderr, "nook: %v\n", err)
		return sandbox.ExitSetupFailed
	}
	unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	done := make(chan struct{})
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
	st, err := p.Wait()
	close(done)
	if err != nil {
		fmt.Fprintf(os.Stderr, "nook: %v\n", err)
		return sandbox.ExitSetupFailed
	}
	return st.ExitCode()
}
