package sandbox

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// Exit statuses for a command that could not be started, as a shell and
// env(1) report them.
const (
	ExitCannotExecute = 126
	ExitNotFound      = 127
	// ExitSetupFailed is what the nook CLI exits with when the sandbox
	// itself could not be set up (podman and chroot(1) use 125 too).
	ExitSetupFailed = 125
)

// defaultPath is execvp's fallback when the command's environment has no
// PATH.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// execError is a failure to start the command; code is 126 or 127.
type execError struct {
	code int
	msg  string
}

func (e *execError) Error() string { return e.msg }

// candidates lists the paths to try for name, in order.
func candidates(name string, env []string) []string {
	if strings.Contains(name, "/") {
		return []string{name}
	}
	pathVar, found := "", false
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathVar, found = v, true
		}
	}
	if !found {
		pathVar = defaultPath
	}
	var out []string
	for _, dir := range strings.Split(pathVar, ":") {
		if dir == "" {
			dir = "."
		}
		out = append(out, dir+"/"+name)
	}
	return out
}

// execCommand replaces the process with the command, searching PATH the way
// execvp does with one correction: a PATH entry that cannot be searched
// (EACCES on the directory) counts as "not there", so a missing command is
// always 127 and 126 means a file was found but could not be executed.
func execCommand(name string, argv, env []string) error {
	var denied error
	present := "" // the first file found whose interpreter is missing
	for _, p := range candidates(name, env) {
		err := unix.Exec(p, argv, env)
		switch {
		case errors.Is(err, unix.ENOENT):
			var st unix.Stat_t
			if present == "" && unix.Stat(p, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG {
				present = p
			}
			continue
		case errors.Is(err, unix.ENOTDIR), errors.Is(err, unix.ENAMETOOLONG), errors.Is(err, unix.ELOOP):
			continue
		case errors.Is(err, unix.EACCES):
			// A PATH directory that cannot be searched, or a directory
			// found in PATH, is "not there"; a file that cannot be run,
			// or an explicit path, is "cannot execute".
			var st unix.Stat_t
			if unix.Stat(p, &st) == nil && (st.Mode&unix.S_IFMT != unix.S_IFDIR || strings.Contains(name, "/")) {
				denied = fmt.Errorf("%s: %w", p, err)
			}
			continue
		default:
			return &execError{code: ExitCannotExecute, msg: fmt.Sprintf("execute %s: %v", p, err)}
		}
	}
	if denied != nil {
		return &execError{code: ExitCannotExecute, msg: fmt.Sprintf("execute %v", denied)}
	}
	if present != "" {
		return missingInterpreter(present, interpreterOf(present))
	}
	return &execError{code: ExitNotFound, msg: fmt.Sprintf("%s: command not found", name)}
}

// resolveCommand finds the file execCommand would run, for the pid-1 path
// that starts the command with fork+exec.
func resolveCommand(name string, env []string) (string, error) {
	var denied error
	for _, p := range candidates(name, env) {
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil {
			continue
		}
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			if strings.Contains(name, "/") {
				denied = fmt.Errorf("%s: is a directory", p)
			}
			continue
		}
		if err := unix.Access(p, unix.X_OK); err != nil {
			denied = fmt.Errorf("%s: %w", p, err)
			continue
		}
		return p, nil
	}
	if denied != nil {
		return "", &execError{code: ExitCannotExecute, msg: fmt.Sprintf("execute %v", denied)}
	}
	return "", &execError{code: ExitNotFound, msg: fmt.Sprintf("%s: command not found", name)}
}
