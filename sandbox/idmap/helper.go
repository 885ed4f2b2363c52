package idmap

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// Names of the setuid helpers from shadow-utils.
const (
	NewUIDMap = "newuidmap"
	NewGIDMap = "newgidmap"
)

// ErrHelperNotFound is wrapped by FindHelper's error.
var ErrHelperNotFound = errors.New("helper not found")

// FindHelper locates newuidmap or newgidmap: PATH first, then /usr/bin and
// /bin, because nook may run with a minimal PATH (e.g. from a service
// manager) and the helpers live in those two on every distribution.
func FindHelper(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/bin", "/bin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("idmap: find %s in PATH, /usr/bin and /bin: %w; install it (Debian/Ubuntu: `apt-get install uidmap`; Fedora/Arch: package shadow / shadow-utils)",
		name, ErrHelperNotFound)
}

// runHelpers writes both maps through newuidmap and newgidmap. The two run
// at the same time: each is a setuid exec that costs several milliseconds,
// they touch different files, and the kernel serialises map writes itself.
func runHelpers(pid int, uidMap, gidMap []syscall.SysProcIDMap) error {
	uidPath, err := FindHelper(NewUIDMap)
	if err != nil {
		return err
	}
	gidPath, err := FindHelper(NewGIDMap)
	if err != nil {
		return err
	}
	type job struct {
		cmd *exec.Cmd
		out bytes.Buffer
	}
	jobs := []*job{
		{cmd: exec.Command(uidPath, helperArgs(pid, uidMap)...)},
		{cmd: exec.Command(gidPath, helperArgs(pid, gidMap)...)},
	}
	var errs []error
	started := jobs[:0:0]
	for _, j := range jobs {
		// One buffer for both streams keeps the helper's message in order;
		// exec shares a single pipe when Stdout and Stderr are the same.
		j.cmd.Stdout, j.cmd.Stderr = &j.out, &j.out
		if err := j.cmd.Start(); err != nil {
			errs = append(errs, fmt.Errorf("idmap: start %s: %w", j.cmd.Path, err))
			continue
		}
		started = append(started, j)
	}
	for _, j := range started {
		if err := j.cmd.Wait(); err != nil {
			msg := strings.TrimSpace(j.out.String())
			if msg == "" {
				msg = "(no output)"
			}
			errs = append(errs, fmt.Errorf("idmap: run %s: %w: %s", strings.Join(j.cmd.Args, " "), err, msg))
		}
	}
	return errors.Join(errs...)
}
