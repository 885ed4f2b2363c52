package session

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ErrBooted is Prepare's answer for a booted session: its commands go
// through RunBooted.
var ErrBooted = errors.New("the session is booted")

// ErrBootNoAgent means the agent of a booted session did not answer.
var ErrBootNoAgent = errors.New("the booted session's agent does not answer")

// RunBooted runs a command in the running container of booted session id
// through its agent (bootagent.go), with stdin, stdout and stderr as its
// stdio, passing on what arrives on sigs to the command's process group.
// It returns the command's exit status (128+N for signal N). Binds,
// mounts, --no-network and the like are a fresh sandbox's and do not
// apply to a container that already runs.
func (s *Store) RunBooted(id string, o RunOptions, stdin, stdout, stderr *os.File, sigs <-chan os.Signal) (int, error) {
	st, err := s.Get(id)
	if err != nil {
		return 0, err
	}
	if !st.Boot {
		return 0, fmt.Errorf("session %s is not booted", st.ID)
	}
	if !st.BootRunning() {
		return 0, fmt.Errorf("%w: session %s (begin a new one)", ErrBootNotRunning, st.ID)
	}
	if len(o.Binds) > 0 || len(o.Mounts) > 0 || o.NoNetwork {
		return 0, fmt.Errorf("session %s is booted: binds, mounts and --no-network are not for commands into a running container", st.ID)
	}
	args := o.Args
	if len(args) == 0 {
		args = []string{"/bin/sh", "-l"}
	}
	c, err := dialAgent(st.Dir)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	// The agent is in the container's hands: only what the command may
	// get of the caller's environment leaves the host.
	req, _ := json.Marshal(agentRequest{Args: args, User: o.User, Dir: o.Dir, Env: o.Env, CallerEnv: keptCallerEnv(o.CallerEnv), Setenv: o.Setenv})
	rights := unix.UnixRights(int(stdin.Fd()), int(stdout.Fd()), int(stderr.Fd()))
	if _, _, err := c.WriteMsgUnix(append(req, '\n'), rights, nil); err != nil {
		return 0, fmt.Errorf("run in session %s: send to the agent: %w", st.ID, err)
	}
	r := bufio.NewReaderSize(c, maxAgentAnswer)
	var rep agentReply
	// Until the agent says the command started, a signal of the caller's
	// (Ctrl-C) ends the wait: an agent that never answers (a frozen
	// container, or one the container's root put there) must not hold
	// nook. Closing the connection makes a real agent end the command.
	first := make(chan error, 1)
	go func() { first <- readReply(r, &rep) }()
	select {
	case err := <-first:
		if err != nil {
			return 0, fmt.Errorf("run in session %s: %w", st.ID, err)
		}
	case sig := <-sigs:
		c.Close()
		<-first
		if n, ok := sig.(syscall.Signal); ok {
			return 128 + int(n), nil
		}
		return 0, fmt.Errorf("run in session %s: interrupted before the agent answered", st.ID)
	}
	if !rep.Started {
		if rep.Exit != nil {
			// The command could not be started: said on its stderr,
			// with the status a shell gives.
			fmt.Fprintf(stderr, "nook: %s\n", rep.Error)
			return *rep.Exit, nil
		}
		return 0, fmt.Errorf("run in session %s: %s", st.ID, rep.Error)
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		enc := json.NewEncoder(c)
		for {
			select {
			case sig := <-sigs:
				if n, ok := sig.(syscall.Signal); ok {
					enc.Encode(agentReply{Signal: int(n)})
				}
			case <-done:
				return
			}
		}
	}()
	if err := readReply(r, &rep); err != nil || rep.Exit == nil {
		return 0, fmt.Errorf("run in session %s: the agent went away before the command ended (%v)", st.ID, err)
	}
	return *rep.Exit, nil
}

// maxAgentAnswer bounds one answer line of the agent (a few bytes of
// JSON): a hostile agent must not make nook hold without bound.
const maxAgentAnswer = 64 << 10

func readReply(r *bufio.Reader, rep *agentReply) error {
	// ReadSlice fails with bufio.ErrBufferFull on a line longer than
	// the reader's buffer (maxAgentAnswer).
	l, err := r.ReadSlice('\n')
	if err != nil {
		return fmt.Errorf("read the agent's answer: %w", err)
	}
	*rep = agentReply{}
	return json.Unmarshal(l, rep)
}

// dialAgent connects to the agent's socket, waiting a little for an agent
// that is starting. The container's root can write in the socket's
// directory, so the name is not trusted: the socket is opened O_PATH
// without following a link, checked to be a socket, and connected to
// through /proc/self/fd (which also spares the 108-byte limit of a
// socket address).
func dialAgent(dir string) (*net.UnixConn, error) {
	var last error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		c, err := dialAgentOnce(filepath.Join(dir, agentDir, agentSocket))
		if err == nil {
			return c, nil
		}
		last = err
	}
	return nil, fmt.Errorf("%w: %v", ErrBootNoAgent, last)
}

func dialAgentOnce(sock string) (*net.UnixConn, error) {
	fd, err := unix.Open(sock, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: sock, Err: err}
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, &os.PathError{Op: "stat", Path: sock, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return nil, fmt.Errorf("%s is not a socket", sock)
	}
	return net.DialUnix("unix", nil, &net.UnixAddr{Name: fmt.Sprintf("/proc/self/fd/%d", fd), Net: "unix"})
}
