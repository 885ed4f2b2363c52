package session

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Commands reach a booted container through an agent already inside, never
// by setns from the host: this same binary, bound read-only into the
// container at agentBinary and started by systemd as a unit nook puts in
// /run/systemd/system (the runtime unit directory, on the container's
// own /run). It runs as the container's root and listens on a socket in a
// directory of the session's (agentDir, bound at agentInside), mode 0600:
// only root inside and the caller outside can connect.
//
// The protocol, one connection per command: the client sends one message
// with a JSON agentRequest and a newline, carrying its stdin, stdout and
// stderr as SCM_RIGHTS; the agent answers a JSON agentReply line when the
// command started (or could not), takes {"signal":N} lines which it sends
// to the command's process group, and ends with {"exit":N}. A client that
// goes away kills the command's group. The command gets the caller's
// three files and nothing else of the host's, exactly as a command of an
// ordinary session does.

const (
	agentDir    = "agent"
	agentSocket = "sock"
	agentInside = "/run/host/agent"
	agentBinary = "/run/host/nook"
	agentUnit   = "nook-agent.service"
)

// agentUnitText is the agent's unit: started early, restarted if it dies.
const agentUnitText = `[Unit]
Description=nook agent: commands from nook session run
DefaultDependencies=no
[Service]
ExecStart=@` + agentBinary + ` ` + helperArg0 + ` ` + helperArg1 + ` agent
Restart=always
[Install]
WantedBy=sysinit.target
`

var errNotFound = errors.New("command not found")

type agentRequest struct {
	Args      []string `json:"args"`
	User      string   `json:"user,omitempty"`
	Dir       string   `json:"dir,omitempty"`
	Env       []string `json:"env,omitempty"`
	CallerEnv []string `json:"caller_env,omitempty"`
	Setenv    []string `json:"setenv,omitempty"`
	// TTY asks for a terminal of the container's own (the caller has
	// one): the command's stdin and stdout, and its stderr with
	// StderrTTY, are a pty's slave, which the agent relays to the pipes
	// it got; Rows and Cols are its size.
	TTY       bool   `json:"tty,omitempty"`
	StderrTTY bool   `json:"stderr_tty,omitempty"`
	Rows      uint16 `json:"rows,omitempty"`
	Cols      uint16 `json:"cols,omitempty"`
}

type agentReply struct {
	Started bool   `json:"started,omitempty"`
	Error   string `json:"error,omitempty"`
	Exit    *int   `json:"exit,omitempty"`
	Signal  int    `json:"signal,omitempty"`
	// Rows and Cols, from the client: the caller's window changed.
	Rows uint16 `json:"rows,omitempty"`
	Cols uint16 `json:"cols,omitempty"`
}

// maxAgentRequest bounds a request: a command line and environment
// (execve takes 6 MiB of both at most) in JSON.
const maxAgentRequest = 32 << 20

// helperAgent is the agent, inside the container.
func helperAgent() error {
	os.Remove(agentInside + "/" + agentSocket)
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: agentInside + "/" + agentSocket, Net: "unix"})
	if err != nil {
		return fmt.Errorf("agent: listen: %w", err)
	}
	if err := os.Chmod(agentInside+"/"+agentSocket, 0o600); err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	for {
		c, err := l.AcceptUnix()
		if err != nil {
			return fmt.Errorf("agent: accept: %w", err)
		}
		go agentServe(c)
	}
}

func agentServe(c *net.UnixConn) {
	defer c.Close()
	enc := json.NewEncoder(c)
	buf := make([]byte, 1<<16)
	oob := make([]byte, unix.CmsgSpace(3*4))
	n, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
	if err != nil {
		return
	}
	var files []*os.File
	if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
		for _, m := range msgs {
			if fds, err := unix.ParseUnixRights(&m); err == nil {
				for _, fd := range fds {
					files = append(files, os.NewFile(uintptr(fd), "caller"))
				}
			}
		}
	}
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	// A request longer than one read (a long command line, a large
	// --preserve-environment) comes in parts after the first, which
	// carried the files.
	msg := append([]byte(nil), buf[:n]...)
	for more := bytes.IndexByte(msg, '\n') < 0; more && n > 0 && len(msg) < maxAgentRequest; {
		if n, err = c.Read(buf); err != nil {
			break
		}
		more = bytes.IndexByte(buf[:n], '\n') < 0
		msg = append(msg, buf[:n]...)
	}
	line, rest, _ := strings.Cut(string(msg), "\n")
	var req agentRequest
	if err := json.Unmarshal([]byte(line), &req); err != nil || len(files) != 3 || len(req.Args) == 0 {
		enc.Encode(agentReply{Error: "agent: a request needs a command and three files"})
		return
	}
	var tty *agentTTY
	if req.TTY {
		if tty, err = newAgentTTY(req.Rows, req.Cols); err != nil {
			code := 125
			enc.Encode(agentReply{Error: err.Error(), Exit: &code})
			return
		}
		defer tty.close()
	}
	cmd, err := agentCommand(req, files, tty)
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		// As a session's command: 127 not found, 126 not executable.
		code := 126
		if errors.Is(err, errNotFound) || errors.Is(err, os.ErrNotExist) {
			code = 127
		}
		enc.Encode(agentReply{Error: err.Error(), Exit: &code})
		return
	}
	if tty != nil {
		// The command holds the slave; the agent keeps the pipes and
		// relays between them and the master.
		tty.started(files[0], files[1])
	} else {
		for _, f := range files {
			f.Close()
		}
		files = nil
	}
	enc.Encode(agentReply{Started: true})
	done := make(chan struct{})
	go func() {
		// Signals from the client; its going away kills the command.
		r := bufio.NewReader(io2reader(rest, c))
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				select {
				case <-done:
				default:
					syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				}
				return
			}
			var m agentReply
			if json.Unmarshal([]byte(l), &m) != nil {
				continue
			}
			if m.Signal > 0 {
				syscall.Kill(-cmd.Process.Pid, syscall.Signal(m.Signal))
			}
			if m.Rows > 0 && m.Cols > 0 && tty != nil {
				tty.resize(m.Rows, m.Cols)
			}
		}
	}()
	err = cmd.Wait()
	close(done)
	if tty != nil {
		// What the command wrote reaches the client before its status.
		tty.finish()
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		} else {
			code = ee.ExitCode()
		}
	} else if err != nil {
		code = 125
	}
	enc.Encode(agentReply{Exit: &code})
}

// io2reader reads what came with the request's message first, then c.
func io2reader(first string, c *net.UnixConn) *prefixReader {
	return &prefixReader{first: []byte(first), c: c}
}

type prefixReader struct {
	first []byte
	c     *net.UnixConn
}

func (p *prefixReader) Read(b []byte) (int, error) {
	if len(p.first) > 0 {
		n := copy(b, p.first)
		p.first = p.first[n:]
		return n, nil
	}
	return p.c.Read(b)
}

// agentCommand is the command of a request, as the user it names (from
// the container's own passwd and group), with the environment a session
// command gets.
func agentCommand(req agentRequest, files []*os.File, tty *agentTTY) (*exec.Cmd, error) {
	name := req.User
	if name == "" {
		name = "root"
	}
	passwd, _ := os.ReadFile("/etc/passwd")
	u, ok := parsePasswd(passwd, name)
	if !ok {
		if name != "root" && name != "0" {
			return nil, fmt.Errorf("no user %q in the container", name)
		}
		u = User{Name: "root", Home: "/root", Shell: "/bin/sh"}
	}
	if group, err := os.ReadFile("/etc/group"); err == nil {
		u.Groups = memberOf(group, u.Name)
	}
	shell := u.Shell
	if shell == "" {
		shell = "/bin/sh"
	}
	env := commandEnv(u, shell, RunOptions{Env: req.Env, CallerEnv: req.CallerEnv, Setenv: req.Setenv})
	prog := req.Args[0]
	if !strings.Contains(prog, "/") {
		found := ""
		for _, kv := range env {
			if p, ok := strings.CutPrefix(kv, "PATH="); ok {
				for _, d := range strings.Split(p, ":") {
					if fi, err := os.Stat(path.Join(d, prog)); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
						found = path.Join(d, prog)
						break
					}
				}
			}
		}
		if found == "" {
			return nil, fmt.Errorf("%s: %w", prog, errNotFound)
		}
		prog = found
	}
	dir := req.Dir
	if dir == "" {
		dir = u.Home
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			dir = "/"
		}
	}
	cmd := &exec.Cmd{Path: prog, Args: req.Args, Env: env, Dir: dir, Stdin: files[0], Stdout: files[1], Stderr: files[2]}
	groups := make([]uint32, len(u.Groups))
	for i, g := range u.Groups {
		groups[i] = uint32(g)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Credential: &syscall.Credential{Uid: uint32(u.UID), Gid: uint32(u.GID), Groups: groups}}
	if b, err := os.ReadFile("/proc/self/setgroups"); err == nil && strings.TrimSpace(string(b)) == "deny" {
		// A long-lived session of a caller without subordinate ids
		// maps one id, and setgroups is denied there.
		cmd.SysProcAttr.Credential.NoSetGroups = true
	}
	if tty != nil {
		// The container's own terminal, the command's controlling
		// one: job control and the window size work inside.
		cmd.Stdin, cmd.Stdout = tty.slave, tty.slave
		if req.StderrTTY {
			cmd.Stderr = tty.slave
		}
		cmd.SysProcAttr.Setctty = true
		cmd.SysProcAttr.Ctty = 0
		if err := tty.chown(u.UID, u.GID); err != nil {
			return nil, err
		}
	}
	return cmd, nil
}
