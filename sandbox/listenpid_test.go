package sandbox

import (
	"strconv"
	"testing"
)

// TestListenPIDWithListenFds: with ListenPID, an environment holding
// LISTEN_FDS gets LISTEN_PID set to the command's pid, fds packed or not
// (mkosi-sandbox 25.3's caller sets LISTEN_FDS itself); without it, or
// without LISTEN_FDS, none is added.
func TestListenPIDWithListenFds(t *testing.T) {
	for _, c := range []struct {
		listenPID, listenFds, pidNS, want bool
	}{
		{true, true, true, true},
		{true, true, false, true},
		{true, false, false, false},
		{false, true, false, false},
	} {
		s := baseSpec()
		s.Namespaces.PID = c.pidNS
		if !c.pidNS {
			s.Mounts[2] = Mount{Op: OpBind, Source: "/proc", Dest: "/proc"}
		}
		s.ListenPID = c.listenPID
		if c.listenFds {
			s.Env = append(s.Env, "LISTEN_FDS=1")
		}
		var r *report
		rawDoesIt(t, func() { r, _ = runReport(t, s, reportOpts{}) })
		p, ok := r.env("LISTEN_PID")
		if c.want && p != strconv.Itoa(r.Pid) || !c.want && ok {
			t.Errorf("%+v: LISTEN_PID=%q (set %v), command pid %d", c, p, ok, r.Pid)
		}
	}
}

// TestDirTryKeepsNonDirectory: OpDir with Try leaves a file already at
// its destination as it is (mkosi-sandbox's --dir); without Try that is
// a set-up error.
func TestDirTryKeepsNonDirectory(t *testing.T) {
	for _, try := range []bool{true, false} {
		s := baseSpec()
		s.SortMounts = false
		s.Mounts = append(s.Mounts, Mount{Op: OpWrite, Dest: "/tmp/f", Data: []byte("x")},
			Mount{Op: OpDir, Dest: "/tmp/f", Try: try})
		var r *report
		var err error
		rawDoesIt(t, func() { r, _, err = tryReport(t, s, reportOpts{stat: []string{"/tmp/f"}}) })
		switch {
		case try && (err != nil || r.Files["/tmp/f"] == nil || r.Files["/tmp/f"].Type != "file"):
			t.Errorf("Try: %v, /tmp/f %+v, want the file kept", err, r)
		case !try && err == nil:
			t.Errorf("without Try: a directory over a file accepted")
		}
	}
}
