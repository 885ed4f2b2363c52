package session

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// bootChecks says, before anything is made, why a session of c cannot be
// booted by this caller, or which delegated cgroup it will use.
func bootChecks(mode IDMode, c Chroot) (string, error) {
	if c.Kind == KindHost {
		return "", fmt.Errorf("%w: the host root cannot be booted (its systemd is the host's)", ErrBootFailed)
	}
	if mode == IDHost {
		// Without a user namespace the container's root would be the
		// host's, with CAP_SYS_ADMIN over the host's mounts, network
		// and kernel knobs: no boundary at all.
		return "", fmt.Errorf("%w: its root would be the host's root, with no user namespace between them; begin --boot as an ordinary user with a subordinate id range (the container's root is then an unprivileged id of the host)", ErrBootAsRoot)
	}
	if mode == IDSingle {
		return "", fmt.Errorf("%w (systemd and the packages it runs use many users): you have none in /etc/subuid and /etc/subgid; ask root to add one, e.g. the line %s:100000:65536 to both files (usermod --add-subuids 100000-165535 --add-subgids 100000-165535 %s)",
			ErrBootNoSubids, callerName(), callerName())
	}
	return delegatedCgroup()
}

func callerName() string {
	if u := os.Getenv("USER"); u != "" && os.Getuid() != 0 {
		return u
	}
	b, err := exec.Command("id", "-un").Output()
	if err == nil {
		return strings.TrimSpace(string(b))
	}
	return "USER"
}

// startBoot starts the session's supervisor and waits until it says the
// container booted or why it did not.
func startBoot(st *State, deleg string) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("boot session %s: %w", st.ID, err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("boot session %s: %w", st.ID, err)
	}
	defer r.Close()
	cmd := exec.Command(exe, helperArg1, "boot-detach", st.Dir, deleg)
	cmd.Args[0] = helperArg0
	cmd.ExtraFiles = []*os.File{w}
	cmd.Dir = st.Dir
	out, err := cmd.CombinedOutput()
	w.Close()
	if err != nil {
		return fmt.Errorf("boot session %s: %s: %w", st.ID, strings.TrimSpace(string(out)), err)
	}
	// The supervisor enforces the boot timeout itself; this bound only
	// guards against a supervisor that died without a word.
	r.SetReadDeadline(time.Now().Add(bootTimeout() + stopTimeout() + 30*time.Second))
	line, err := bufio.NewReader(r).ReadString('\n')
	line = strings.TrimSpace(line)
	switch {
	case line == "ready":
		return nil
	case strings.HasPrefix(line, "error "):
		kind, msg, _ := strings.Cut(strings.TrimPrefix(line, "error "), " ")
		e, ok := bootErrKinds[kind]
		if !ok {
			e = ErrBootFailed
		}
		return &bootError{msg: msg, err: e}
	}
	log, _ := os.ReadFile(filepath.Join(st.Dir, bootSuperLog))
	return fmt.Errorf("%w: its supervisor ended without a word (%v): %s", ErrBootFailed, err, strings.TrimSpace(string(log)))
}

// bootErrKinds name the boot errors on the supervisor's status pipe (the
// supervisor is another process: the kind travels as a word).
var bootErrKinds = map[string]error{
	"failed": ErrBootFailed, "no-systemd": ErrBootNoSystemd, "no-cgroup": ErrBootNoCgroup, "cgroup-v1": ErrBootNoCgroup2,
}

// bootErrKind is the word for err's kind.
func bootErrKind(err error) string {
	for k, e := range bootErrKinds {
		if k != "failed" && errors.Is(err, e) {
			return k
		}
	}
	return "failed"
}

// bootError is the supervisor's message about a boot that failed, with
// its kind.
type bootError struct {
	msg string
	err error
}

func (e *bootError) Error() string { return e.msg }
func (e *bootError) Unwrap() error { return e.err }
