package bwrap

import (
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/nook-project/nook/sandbox"
)

func u32(v uint32) *uint32 { return &v }

func TestParseGrammar(t *testing.T) {
	cases := []struct {
		name   string
		args   []string
		cmd    []string
		mounts []sandbox.Mount
		err    string
	}{
		{name: "double dash ends options", args: []string{"--dir", "/a", "--", "--dir", "x"}, cmd: []string{"--dir", "x"},
			mounts: []sandbox.Mount{{Op: sandbox.OpDir, Dest: "/a"}}},
		{name: "first non-option ends options", args: []string{"echo", "--dir", "/a"}, cmd: []string{"echo", "--dir", "/a"}},
		{name: "operations keep their order", args: []string{"--tmpfs", "/a", "--bind", "/s", "/a/b", "--tmpfs", "/a", "c"}, cmd: []string{"c"},
			mounts: []sandbox.Mount{{Op: sandbox.OpTmpfs, Dest: "/a"}, {Op: sandbox.OpBind, Source: "/s", Dest: "/a/b"}, {Op: sandbox.OpTmpfs, Dest: "/a"}}},
		{name: "perms for the next operation only", args: []string{"--perms", "0700", "--tmpfs", "/a", "--tmpfs", "/b", "c"}, cmd: []string{"c"},
			mounts: []sandbox.Mount{{Op: sandbox.OpTmpfs, Dest: "/a", Mode: u32(0o700)}, {Op: sandbox.OpTmpfs, Dest: "/b"}}},
		{name: "perms and size together", args: []string{"--size", "4096", "--perms", "1777", "--tmpfs", "/s", "c"}, cmd: []string{"c"},
			mounts: []sandbox.Mount{{Op: sandbox.OpTmpfs, Dest: "/s", Mode: u32(0o1777), Size: 4096}}},
		{name: "file 0666 and bind-data 0600 unless perms", args: []string{"--file", "5", "/f", "--bind-data", "6", "/b", "--perms", "0644", "--ro-bind-data", "7", "/r", "c"}, cmd: []string{"c"},
			mounts: []sandbox.Mount{{Op: sandbox.OpFile, FD: 5, Dest: "/f", Mode: u32(0o666)}, {Op: sandbox.OpFile, FD: 6, Dest: "/b", Mode: u32(0o600), AsBind: true},
				{Op: sandbox.OpFile, FD: 7, Dest: "/r", Mode: u32(0o644), AsBind: true, ReadOnly: true}}},
		{name: "overlay sources lowest first", args: []string{"--overlay-src", "/low", "--overlay-src", "/high", "--tmp-overlay", "/o", "c"}, cmd: []string{"c"},
			mounts: []sandbox.Mount{{Op: sandbox.OpOverlay, Lower: []string{"/high", "/low"}, TmpfsUpper: true, Dest: "/o"}}},
		{name: "bind-fd", args: []string{"--ro-bind-fd", "9", "/m", "c"}, cmd: []string{"c"},
			mounts: []sandbox.Mount{{Op: sandbox.OpBind, FromFD: true, FD: 9, Dest: "/m", ReadOnly: true}}},
		{name: "perms before a bind", args: []string{"--perms", "0700", "--bind", "/a", "/b", "c"}, err: "--perms must be followed by an option that creates a file"},
		{name: "perms twice", args: []string{"--perms", "0700", "--perms", "0700", "--dir", "/a"}, err: "--perms given twice for the same action"},
		{name: "size before dir", args: []string{"--size", "10", "--dir", "/a"}, err: "--size must be followed by --tmpfs"},
		{name: "perms too large", args: []string{"--perms", "17777", "--dir", "/a"}, err: "--perms takes an octal argument <= 07777"},
		{name: "size zero", args: []string{"--size", "0", "--tmpfs", "/a"}, err: "--size takes a non-zero number of bytes"},
		{name: "no --opt=value", args: []string{"--chdir=/x", "c"}, err: "Unknown option --chdir=/x"},
		{name: "unknown", args: []string{"--frob"}, err: "Unknown option --frob"},
		{name: "one argument missing", args: []string{"--bind", "/a"}, err: "--bind takes two arguments"},
		{name: "three arguments missing", args: []string{"--overlay", "/a", "/b"}, err: "--overlay takes three arguments"},
		{name: "bad fd", args: []string{"--sync-fd", "x", "c"}, err: "invalid fd: x"},
		{name: "unknown capability", args: []string{"--cap-add", "CAP_NOPE"}, err: "unknown cap: CAP_NOPE"},
		{name: "capability without CAP_", args: []string{"--cap-add", "sys_admin"}, err: "unknown cap: sys_admin"},
		{name: "overlay without sources", args: []string{"--ro-overlay", "/o"}, err: "--ro-overlay requires at least one --overlay-src"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := newParser(nil)
			cmd, err := p.parse(c.args)
			if c.err != "" {
				if err == nil || err.Error() != c.err {
					t.Fatalf("error %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(cmd, c.cmd) {
				t.Errorf("command %q, want %q", cmd, c.cmd)
			}
			if !reflect.DeepEqual(p.spec.Mounts, c.mounts) {
				t.Errorf("mounts\n%+v\nwant\n%+v", p.spec.Mounts, c.mounts)
			}
		})
	}
}

// argsFd returns a pipe's read end holding data, as a caller passes --args.
func argsFd(t *testing.T, data string) int {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	w.WriteString(data)
	w.Close()
	return int(r.Fd())
}

func TestArgsFd(t *testing.T) {
	fd1 := argsFd(t, "--setenv\x00A\x00one\x00--dir\x00/a\x00")
	fd2 := argsFd(t, "--dir\x00/b\x00ignored-word\x00--dir\x00/ignored")
	p := newParser(nil)
	cmd, err := p.parse([]string{"--args", itoa(fd1), "--args", itoa(fd2), "--dir", "/c", "cmd"})
	if err != nil {
		t.Fatal(err)
	}
	var dests []string
	for _, m := range p.spec.Mounts {
		dests = append(dests, m.Dest)
	}
	if strings.Join(dests, " ") != "/a /b /c" || strings.Join(cmd, " ") != "cmd" || strings.Join(p.env, " ") != "A=one" {
		t.Errorf("dests %v cmd %v env %v", dests, cmd, p.env)
	}
	if !p.consumed[fd1] || !p.consumed[fd2] {
		t.Errorf("--args fds would reach the command: %v", p.consumed)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestEnvironmentEdits(t *testing.T) {
	p := newParser([]string{"A=1", "B=2", "PATH=/bin"})
	_, err := p.parse([]string{"--setenv", "A", "x", "--unsetenv", "B", "--setenv", "C", "3", "--clearenv", "--setenv", "D", "4", "c"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(p.env, " ") != "D=4" {
		t.Errorf("env %v", p.env)
	}
	p = newParser([]string{"A=1", "B=2"})
	p.parse([]string{"--setenv", "A", "x", "--unsetenv", "B", "--setenv", "C", "3", "c"})
	if strings.Join(p.env, " ") != "A=x C=3" {
		t.Errorf("env %v", p.env)
	}
}

func TestCapabilitiesInOrder(t *testing.T) {
	p := newParser(nil)
	if _, err := p.parse([]string{"--cap-add", "ALL", "--cap-drop", "CAP_SYS_ADMIN", "--cap-drop", "ALL", "--cap-add", "cap_kill", "c"}); err != nil {
		t.Fatal(err)
	}
	caps, err := p.capabilities(false)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(caps, sandbox.Capabilities{Drop: []string{"ALL"}, Add: []string{"CAP_KILL"}}) {
		t.Errorf("caps %+v", caps)
	}
}

func TestBuildDefaults(t *testing.T) {
	p := newParser([]string{"HOME=/h"})
	cmd, err := p.parse([]string{"--unshare-all", "--share-net", "--sync-fd", "7", "--info-fd", "8", "--ro-bind", "/", "/", "c"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := p.build(cmd, []int{5, 7, 8})
	if err != nil {
		t.Fatal(err)
	}
	want := sandbox.Namespaces{PID: true, IPC: true, UTS: true, Cgroup: true}
	if s.Namespaces != want || s.SortMounts || !s.BwrapModes || !s.NoNewPrivs || !s.SetPWD || !s.HomeFallback || !s.KeepInit {
		t.Errorf("spec %+v", s)
	}
	if !reflect.DeepEqual(s.Fds, []sandbox.FD{{Inside: 5, Outside: 5}}) {
		t.Errorf("fds %v: only the fd bwrap does not use itself reaches the command", s.Fds)
	}
	for _, bad := range [][]string{
		{"--hostname", "x", "c"}, {"--as-pid-1", "c"}, {"--seccomp", "3", "--add-seccomp-fd", "4", "c"},
		{"--overlay-src", "/a", "c"}, {"--userns", "3", "--unshare-user", "c"},
		{"--userns", "3", "--disable-userns", "c"}, {"--userns2", "3", "--disable-userns", "c"},
	} {
		p := newParser(nil)
		cmd, err := p.parse(bad)
		if err == nil {
			_, err = p.build(cmd, nil)
		}
		if err == nil {
			t.Errorf("%q was accepted", bad)
		}
	}
}
