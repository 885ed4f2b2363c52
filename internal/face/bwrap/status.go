package bwrap

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/nook-project/nook/internal/procpid"
	"github.com/nook-project/nook/sandbox"
	"golang.org/x/sys/unix"
)

// status writes --info-fd and --json-status-fd. Both report, as soon as
// the sandbox's first process exists, its pid (as the caller's pid
// namespace numbers it) and the inode numbers of the namespaces bwrap
// made; --json-status-fd later adds the command's exit status, but only
// when the command ran.
type status struct {
	info, json *os.File
	ns         []string
	// err is the first failed write: bwrap gives up then (Run stops the
	// sandbox that has begun).
	err error
}

// nsNames are the namespaces bwrap reports, in its order, with the flag
// that says whether this sandbox made them. The mount namespace always is;
// the user namespace is never reported.
func nsNames(s *sandbox.Spec) []string {
	out := []string{}
	for _, n := range []struct {
		name string
		on   bool
	}{{"cgroup", s.Namespaces.Cgroup}, {"ipc", s.Namespaces.IPC}, {"mnt", true},
		{"net", s.Namespaces.Net}, {"pid", s.Namespaces.PID}, {"uts", s.Namespaces.UTS}} {
		if n.on {
			out = append(out, n.name)
		}
	}
	return out
}

func newStatus(p *parser, s *sandbox.Spec) *status {
	st := &status{ns: nsNames(s)}
	// The fds themselves, not duplicates: bwrap closes them when done,
	// and a reader waits for that end of file.
	if p.infoFd != nil {
		st.info = os.NewFile(uintptr(*p.infoFd), "info-fd")
	}
	if p.jsonFd != nil {
		st.json = os.NewFile(uintptr(*p.jsonFd), "json-status-fd")
	}
	return st
}

// members is the pid and namespace members shared by both reports.
// The child's namespaces are read through the pid /proc knows it by: nook
// may run in a pid namespace under a /proc of another (internal/procpid).
func (st *status) members(pid int) ([][2]string, error) {
	out := [][2]string{{"child-pid", fmt.Sprint(pid)}}
	if len(st.ns) == 0 {
		return out, nil
	}
	dir, err := procpid.Dir(pid)
	if err != nil {
		return nil, err
	}
	for _, n := range st.ns {
		var sb unix.Stat_t
		if err := unix.Stat(dir+"/ns/"+n, &sb); err == nil {
			out = append(out, [2]string{n + "-namespace", fmt.Sprint(sb.Ino)})
		}
	}
	return out, nil
}

// forked is the sandbox.Spec.OnForked hook. When a report cannot be
// written, bwrap gives up: the sandbox is killed here, before its set-up
// goes on, so that the command never runs.
func (st *status) forked(pid int) {
	defer func() {
		if st.err != nil {
			unix.Kill(pid, unix.SIGKILL)
		}
	}()
	if st.info == nil && st.json == nil {
		return
	}
	m, err := st.members(pid)
	if err != nil {
		// Another process's namespaces would be a wrong report.
		st.err = bwrapErrorf("Can't read the namespaces of the sandbox: %s", err)
		return
	}
	if st.info != nil {
		// Pretty-printed, one member a line, as bwrap writes it; then
		// the fd is done.
		lines := make([]string, len(m))
		for i, kv := range m {
			lines[i] = fmt.Sprintf("    %q: %s", kv[0], kv[1])
		}
		if _, err := fmt.Fprintf(st.info, "{\n%s\n}\n", strings.Join(lines, ",\n")); err != nil && st.err == nil {
			st.err = bwrapErrorf("Write to info_fd: %s", errText(unwrapPath(err)))
		}
		st.info.Close()
		st.info = nil
	}
	if st.json != nil {
		parts := make([]string, len(m))
		for i, kv := range m {
			parts[i] = fmt.Sprintf("%q: %s", kv[0], kv[1])
		}
		if _, err := fmt.Fprintf(st.json, "{ %s }\n", strings.Join(parts, ", ")); err != nil && st.err == nil {
			st.err = bwrapErrorf("Write to json_status_fd: %s", errText(unwrapPath(err)))
		}
	}
}

// unwrapPath is the errno under an *os.PathError, as bwrap words it.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// exited reports the command's exit status and closes the status fd.
func (st *status) exited(code int) {
	if st.json != nil {
		fmt.Fprintf(st.json, "{ \"exit-code\": %d }\n", code)
	}
	st.close()
}

func (st *status) close() {
	for _, f := range []*os.File{st.info, st.json} {
		if f != nil {
			f.Close()
		}
	}
	st.info, st.json = nil, nil
}
