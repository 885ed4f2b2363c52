package session

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/nook-project/nook/sandbox"
)

// A long-lived session keeps one set of namespaces for its whole life,
// where an ordinary session makes fresh ones for every command: begin
// starts a sandbox of the session's tree whose command is nook's agent
// (bootagent.go) under the engine's own pid 1, and every `session run`
// reaches it through the agent's socket, as for a booted session, with
// the same relay (bootrelay.go). It needs neither systemd nor subordinate
// ids nor a delegated cgroup: the pid namespace holds everything, and
// ends with it. The same supervisor (bootsupervisor.go) keeps it, and end
// stops it.

// heldReadyTimeout bounds begin's wait for the agent to answer.
const heldReadyTimeout = 30 * time.Second

// heldSpec is the sandbox of a long-lived session: a command's sandbox
// (commandSpec: the overlay, /proc, /dev, /sys, the host's resolv.conf)
// whose command is the agent, with the agent's socket directory and the
// nook binary bound under /run/host.
func heldSpec(st *State, exe string) (*sandbox.Spec, error) {
	o := RunOptions{
		Args:      []string{agentBinary, helperArg1, "agent"},
		NoNetwork: st.NoNetwork,
		Mounts: []sandbox.Mount{
			{Op: sandbox.OpTmpfs, Dest: "/run/host", Mode: mode(0o755)},
			{Op: sandbox.OpBind, Source: exe, Dest: agentBinary, ReadOnly: true},
			{Op: sandbox.OpBind, Source: filepath.Join(st.Dir, agentDir), Dest: agentInside},
		},
	}
	spec, err := commandSpec(st, User{Name: "root", Home: "/root", Shell: "/bin/sh"}, o)
	if err != nil {
		return nil, err
	}
	spec.Argv0 = helperArg0
	return spec, nil
}

// superviseHeld keeps a long-lived session's sandbox until term.
func superviseHeld(st *State, term <-chan os.Signal, ready func()) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("start session %s: %w", st.ID, err)
	}
	if err := os.Mkdir(filepath.Join(st.Dir, agentDir), 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("start session %s: %w", st.ID, err)
	}
	spec, err := heldSpec(st, exe)
	if err != nil {
		return fmt.Errorf("start session %s: %w", st.ID, err)
	}
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("start session %s: %w", st.ID, err)
	}
	defer null.Close()
	// The agent's own messages go to the supervisor's log.
	spec.Stdin, spec.Stdout, spec.Stderr = null, os.Stderr, os.Stderr
	p, err := sandbox.Start(spec)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBootFailed, err)
	}
	writeJSONAtomic(filepath.Join(st.Dir, bootRecordFile), bootRecord{Supervisor: os.Getpid(), Pid1: p.Pid})
	exited := make(chan sandbox.Status, 1)
	go func() { s, _ := p.Wait(); exited <- s }()
	kill := func() {
		p.Signal(syscall.SIGKILL)
		<-exited
	}
	// Ready once the agent answers on its socket.
	sock := filepath.Join(st.Dir, agentDir, agentSocket)
	deadline := time.After(heldReadyTimeout)
	for {
		if c, err := dialAgentOnce(sock); err == nil {
			c.Close()
			break
		}
		select {
		case s := <-exited:
			return fmt.Errorf("%w: the session's agent ended at its start (%s); see %s", ErrBootFailed, describeStatus(s), filepath.Join(st.Dir, bootSuperLog))
		case <-deadline:
			kill()
			return fmt.Errorf("%w: the session's agent did not answer within %v; see %s", ErrBootFailed, heldReadyTimeout, filepath.Join(st.Dir, bootSuperLog))
		case <-term:
			kill()
			return fmt.Errorf("%w: the session was ended during its start", ErrBootFailed)
		case <-time.After(10 * time.Millisecond):
		}
	}
	ready()
	select {
	case s := <-exited:
		fmt.Fprintf(os.Stderr, "session %s: the sandbox ended by itself (%s)\n", st.ID, describeStatus(s))
	case <-term:
		kill()
	}
	return nil
}
