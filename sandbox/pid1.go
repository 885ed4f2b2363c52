package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// runPID1 is the init's life as pid 1 of a new pid namespace: start the
// command, reap every process that is reparented here, report the
// command's stops (so the parent can do job control) and its end, then exit
// — which makes the kernel kill whatever is left in the namespace before the
// parent's wait returns.
//
// Signals: the parent sends forwarded signals to the whole process group,
// which holds this process and the command, so the command gets exactly one
// copy whether a signal came from the terminal or from kill(1). This process
// must only not die of them: a handled signal is reset to the default in the
// command at exec, an ignored one would stay ignored.
func runPID1(status *os.File, start func() (int, error)) {
	report := func(m statusMsg) {
		b, _ := json.Marshal(m)
		status.Write(append(b, '\n'))
	}
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, unix.SIGPIPE, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU, unix.SIGALRM)
	for _, s := range pid1Signals {
		signal.Notify(sigs, s)
	}

	// pid 1 itself must not be readable or traceable from the command.
	unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	// Nor may the command take capabilities back from it (pid1caps.go).
	if err := checkPID1Reach(); err != nil {
		report(statusMsg{Error: "start the command under pid 1: " + err.Error(), Exit: ExitSetupFailed})
		os.Exit(ExitSetupFailed)
	}
	Phase("pid1 forks")
	pid, err := start()
	if err != nil {
		code := ExitCannotExecute
		var se *StartError
		var ee *execError
		switch {
		case errors.As(err, &se):
			code = se.Code
		case errors.As(err, &ee):
			code = ee.code
		case errors.Is(err, unix.ENOENT):
			code = ExitNotFound
		}
		msg := statusMsg{Error: err.Error(), Exit: code}
		msg.WorkDir, msg.Errno = workDirFailure(err)
		report(msg)
		os.Exit(code)
	}
	if err := dropAllCaps(); err != nil && !errors.Is(err, errCapsThisThread) {
		unix.Kill(pid, unix.SIGKILL)
		report(statusMsg{Error: "drop pid 1's capabilities: " + err.Error(), Exit: ExitSetupFailed})
		os.Exit(ExitSetupFailed)
	}
	report(statusMsg{Started: true})
	own := unix.Getpgrp()
	for sig := range sigs {
		if s := sig.(syscall.Signal); s != unix.SIGCHLD && isForwarded(s) {
			// The command left the group (setsid): pass it on.
			if pg, err := unix.Getpgid(pid); err == nil && pg != own {
				unix.Kill(pid, s)
			}
		}
		for {
			var ws unix.WaitStatus
			got, err := unix.Wait4(-1, &ws, unix.WNOHANG|unix.WUNTRACED, nil)
			if err != nil || got <= 0 {
				break
			}
			if got != pid {
				continue
			}
			switch {
			case ws.Stopped():
				report(statusMsg{Stopped: int(ws.StopSignal())})
			case ws.Exited():
				report(statusMsg{Done: true, Code: ws.ExitStatus()})
				os.Exit(ws.ExitStatus())
			case ws.Signaled():
				report(statusMsg{Done: true, Signal: int(ws.Signal())})
				os.Exit(128 + int(ws.Signal()))
			}
		}
	}
}

// pid1Signals are what nook forwards (see the CLI) plus SIGCHLD: pid 1
// passes the forwarded ones on to a command that left its process group.
var pid1Signals = []syscall.Signal{unix.SIGCHLD, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT,
	unix.SIGUSR1, unix.SIGUSR2, unix.SIGWINCH}

func isForwarded(s syscall.Signal) bool {
	for _, f := range pid1Signals {
		if f == s {
			return true
		}
	}
	return false
}

// startPlain starts the command for the init the way it was before mounts
// were locked (lock.go): syscall.ForkExec, or the raw fork into a user
// namespace of bwrap's --disable-userns or --userns2 (startCommand). For
// specs whose init cannot lock (see lockInInit).
func startPlain(name string, argv, env []string, passFds []int, listenPID bool) (int, error) {
	path, err := resolveCommand(name, env)
	if err != nil {
		return 0, err
	}
	files := []uintptr{0, 1, 2}
	for _, fd := range passFds {
		for len(files) <= fd {
			files = append(files, ^uintptr(0))
		}
		files[fd] = uintptr(fd)
	}
	exe := path
	if listenPID {
		// Only the command's own process knows its pid for LISTEN_PID:
		// start it through the exec helper (needs /proc inside).
		exe = "/proc/self/exe"
		argv = append([]string{initArg0, listenArg1, path}, argv...)
	}
	wd, _ := os.Getwd()
	// startCommand is syscall.ForkExec unless DisableUserNS (usernslimit.go).
	pid, err := startCommand(exe, argv, &syscall.ProcAttr{Dir: wd, Env: env, Files: files})
	if errors.Is(err, syscall.ENOENT) && exe == path {
		// resolveCommand found the file: its interpreter is missing.
		return 0, missingInterpreter(path, interpreterOf(path))
	}
	if err != nil {
		return 0, fmt.Errorf("execute %s: %w", path, err)
	}
	return pid, nil
}
