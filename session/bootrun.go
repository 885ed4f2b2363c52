package session

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
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
	if !st.Supervised() {
		return 0, fmt.Errorf("session %s is neither booted nor long-lived", st.ID)
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
	rl, err := newBootRelay(stdin, stdout, stderr)
	if err != nil {
		return 0, fmt.Errorf("run in session %s: %w", st.ID, err)
	}
	// Whatever happens from here, the relays stop and nook's pipe ends
	// close: nothing of the caller's is left to the container.
	defer rl.finish()
	// The agent is in the container's hands: only what the command may
	// get of the caller's environment leaves the host.
	req, _ := json.Marshal(agentRequest{Args: args, User: o.User, Dir: o.Dir, Env: o.Env, CallerEnv: keptCallerEnv(o.CallerEnv), Setenv: o.Setenv,
		TTY: rl.tty, StderrTTY: rl.stderrTTY, Rows: rl.rows, Cols: rl.cols})
	rights := unix.UnixRights(rl.theirs()...)
	msg := append(req, '\n')
	n, _, err := c.WriteMsgUnix(msg, rights, nil)
	if err != nil {
		return 0, fmt.Errorf("run in session %s: send to the agent: %w", st.ID, err)
	}
	rl.sent()
	r := bufio.NewReaderSize(c, maxAgentAnswer)
	var rep agentReply
	// Until the agent says the command started, a signal of the caller's
	// (Ctrl-C) ends the wait: an agent that never answers (a frozen
	// container, or one the container's root put there) must not hold
	// nook. Closing the connection makes a real agent end the command.
	first := make(chan error, 1)
	go func() {
		// One sendmsg on a stream socket sends what its buffer
		// takes; the rest of a long request follows, in this wait
		// too: an agent that reads nothing blocks it.
		if n < len(msg) {
			if _, err := c.Write(msg[n:]); err != nil {
				first <- fmt.Errorf("send to the agent: %w", err)
				return
			}
		}
		first <- readReply(r, &rep)
	}()
wait:
	for {
		select {
		case err := <-first:
			if err != nil {
				return 0, fmt.Errorf("run in session %s: %w", st.ID, err)
			}
			break wait
		case sig := <-sigs:
			if sig == syscall.SIGWINCH {
				// A window resized: no command to tell yet,
				// and nothing to end.
				continue
			}
			c.Close()
			<-first
			if n, ok := sig.(syscall.Signal); ok {
				return 128 + int(n), nil
			}
			return 0, fmt.Errorf("run in session %s: interrupted before the agent answered", st.ID)
		}
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
	if rl.tty {
		restore, err := makeRaw(stdin)
		if err == nil {
			defer restore()
		}
	}
	rl.start()
	done := make(chan struct{})
	defer close(done)
	var winch chan os.Signal
	if rl.tty {
		// The terminal inside follows the caller's window.
		winch = make(chan os.Signal, 1)
		signal.Notify(winch, syscall.SIGWINCH)
		defer signal.Stop(winch)
	}
	go func() {
		enc := json.NewEncoder(c)
		for {
			select {
			case sig := <-sigs:
				if n, ok := sig.(syscall.Signal); ok {
					enc.Encode(agentReply{Signal: int(n)})
				}
			case <-winch:
				rows, cols := windowSize(stdout)
				enc.Encode(agentReply{Rows: rows, Cols: cols})
			case <-done:
				return
			}
		}
	}()
	if err := readReply(r, &rep); err != nil || rep.Exit == nil {
		return 0, fmt.Errorf("run in session %s: the agent went away before the command ended (%v)", st.ID, err)
	}
	rl.finish()
	return *rep.Exit, nil
}

// bootRelay is the relays of one command run into a booted container:
// pipes of nook's in place of the caller's stdin, stdout and stderr.
type bootRelay struct {
	stdin, stdout, stderr *os.File
	tty, stderrTTY        bool
	rows, cols            uint16
	// The command's ends (sent to the agent, then closed here) and
	// nook's: the stdin pipe's write end, the output pipes' read ends.
	inR, outW, errW *os.File
	inW, outR, errR *os.File
	// inPeek is a second read end of the stdin pipe: what is still in
	// the pipe when the command ends goes back to a seekable stdin.
	inPeek          *os.File
	stopIn, stopOut *relayStop
	wg              sync.WaitGroup
	unwritten       int
	started         bool
	once            sync.Once
}

func newBootRelay(stdin, stdout, stderr *os.File) (_ *bootRelay, err error) {
	rl := &bootRelay{stdin: stdin, stdout: stdout, stderr: stderr}
	defer func() {
		if err != nil {
			rl.finish()
		}
	}()
	// A terminal inside when the caller has one on both ends, as ssh
	// and docker exec -t give; stderr shares it when it is that terminal.
	rl.tty = isTerminal(stdin) && isTerminal(stdout)
	if rl.tty {
		rl.rows, rl.cols = windowSize(stdout)
		rl.stderrTTY = isTerminal(stderr) && sameFile(stdout, stderr)
	}
	if rl.stopIn, err = newRelayStop(); err != nil {
		return nil, err
	}
	if rl.stopOut, err = newRelayStop(); err != nil {
		return nil, err
	}
	if rl.inR, rl.inW, err = relayPipe(1); err != nil {
		return nil, err
	}
	fd, err := unix.FcntlInt(rl.inR.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("fcntl F_DUPFD_CLOEXEC on the stdin relay pipe", err)
	}
	rl.inPeek = os.NewFile(uintptr(fd), "stdin relay")
	if rl.outR, rl.outW, err = relayPipe(0); err != nil {
		return nil, err
	}
	// stdout and stderr on one file (2>&1) share one pipe, which keeps
	// their order; so do both on the caller's terminal.
	if !rl.stderrTTY && !sameFile(stdout, stderr) {
		if rl.errR, rl.errW, err = relayPipe(0); err != nil {
			return nil, err
		}
	}
	return rl, nil
}

// theirs is the fds the agent gets: the command's stdin, stdout, stderr.
func (rl *bootRelay) theirs() []int {
	errW := rl.outW
	if rl.errW != nil {
		errW = rl.errW
	}
	return []int{int(rl.inR.Fd()), int(rl.outW.Fd()), int(errW.Fd())}
}

// sent closes nook's copies of the command's ends: from now on only the
// command holds them, and the output relays see their end.
func (rl *bootRelay) sent() {
	for _, f := range []**os.File{&rl.inR, &rl.outW, &rl.errW} {
		if *f != nil {
			(*f).Close()
			*f = nil
		}
	}
}

// start starts the copiers.
func (rl *bootRelay) start() {
	rl.started = true
	rl.wg.Add(1)
	go func() {
		defer rl.wg.Done()
		_, rl.unwritten = copyFds(int(rl.stdin.Fd()), int(rl.inW.Fd()), rl.stopIn.r, false)
		// The caller's stdin ended (or the command did): the command
		// sees its end.
		rl.inW.Close()
	}()
	for _, p := range [][2]*os.File{{rl.outR, rl.stdout}, {rl.errR, rl.stderr}} {
		if p[0] == nil {
			continue
		}
		rl.wg.Add(1)
		go func() {
			defer rl.wg.Done()
			if _, left := copyFds(int(p[0].Fd()), int(p[1].Fd()), rl.stopOut.r, true); left > 0 {
				// The caller's file takes no more (its reader
				// went away: `run ID yes | head -1`): the
				// command's writes fail too, as they would on
				// that file itself, rather than block on a pipe
				// nobody reads. finish closes it again, which
				// does nothing.
				p[0].Close()
			}
		}()
	}
}

// finish ends the relays once the command has ended: stdin stops at once
// (what it read too many goes back to a seekable stdin), the outputs
// take what the command wrote and stop, also where a process it left
// behind still holds their pipes. Then every pipe end of nook's closes.
func (rl *bootRelay) finish() {
	rl.once.Do(func() {
		if rl.stopIn != nil {
			rl.stopIn.stop()
		}
		if rl.stopOut != nil {
			rl.stopOut.stop()
		}
		rl.wg.Wait()
		if rl.started {
			giveBack(rl.stdin, rl.unwritten, rl.inPeek)
		}
		for _, f := range []*os.File{rl.inR, rl.outW, rl.errW, rl.outR, rl.errR, rl.inPeek} {
			if f != nil {
				f.Close()
			}
		}
		if !rl.started && rl.inW != nil {
			rl.inW.Close()
		}
		for _, s := range []*relayStop{rl.stopIn, rl.stopOut} {
			if s != nil {
				s.close()
			}
		}
	})
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
