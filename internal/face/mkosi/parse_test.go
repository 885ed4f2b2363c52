package mkosi

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/nook-project/nook/sandbox"
)

// TestParseGrammar: options until "--" or the first word that is not an
// option, each taking its arguments whatever they look like; relative
// paths made absolute against the caller's directory.
func TestParseGrammar(t *testing.T) {
	for _, c := range []struct {
		args []string
		cmd  []string
		dst  string
	}{
		{[]string{"--tmpfs", "/x", "true"}, []string{"true"}, "/x"},
		{[]string{"--tmpfs", "/x", "--", "--tmpfs", "/y"}, []string{"--tmpfs", "/y"}, "/x"},
		{[]string{"--tmpfs", "rel/x"}, []string{"bash"}, "/home/u/rel/x"},
		{[]string{"--tmpfs", "--", "true"}, []string{"true"}, "/home/u/--"},
		{[]string{"--tmpfs", "/a/../b/", "echo", "--tmpfs"}, []string{"echo", "--tmpfs"}, "/b"},
	} {
		o, err := parse(c.args, "/home/u")
		if err != nil {
			t.Fatalf("%q: %v", c.args, err)
		}
		if !reflect.DeepEqual(o.cmd, c.cmd) || len(o.ops) != 1 || o.ops[0].dst != c.dst {
			t.Errorf("%q: cmd %q ops %+v, want %q and %s", c.args, o.cmd, o.ops, c.cmd, c.dst)
		}
	}
}

// TestParseErrors: what mkosi-sandbox ends in a traceback for is a
// UsageError.
func TestParseErrors(t *testing.T) {
	for _, args := range [][]string{{"--frobnicate"}, {"-"}, {"--bind", "/"}, {"--setenv", "X"}, {"--exec-fd", "x"}} {
		_, err := parse(args, "/")
		var ue *UsageError
		if !errors.As(err, &ue) {
			t.Errorf("%q: %v, want a UsageError", args, err)
		}
	}
}

// TestParseOptions: the value each option leaves.
func TestParseOptions(t *testing.T) {
	o, err := parse([]string{"--same-dir", "--become-root", "--suppress-chown", "--suppress-sync", "--unshare-net",
		"--unshare-ipc", "--pack-fds", "--debug", "--setenv", "A", "1", "--unsetenv", "B", "--exec-fd", "7",
		"--ro-bind-try", "+usr", "/u", "--bind-nofollow", "/l", "/l",
		"--overlay-lowerdir", "/a", "--overlay-lowerdir", "/b", "--overlay-upperdir", "tmpfs", "--overlay", "/o", "sh"}, "/cwd")
	if err != nil {
		t.Fatal(err)
	}
	want := &options{
		ops: []fsop{
			{kind: opBind, src: "/cwd/usr", dst: "/u", ro: true, relative: true},
			{kind: opBind, src: "/l", dst: "/l", required: true, nofollow: true},
			{kind: opOverlay, lower: []string{"/b", "/a"}, upper: "tmpfs", dst: "/o"},
		},
		setenv: [][2]string{{"A", "1"}}, unsetenv: []string{"B"}, chdir: "/cwd", becomeRoot: true,
		suppressChown: true, suppressSync: true, unshareNet: true, unshareIPC: true, packFds: true, debug: true,
		execFds: []int{7}, cmd: []string{"sh"},
	}
	if !reflect.DeepEqual(o, want) {
		t.Errorf("got  %+v\nwant %+v", o, want)
	}
}

// TestOrder: binds deduplicated and dropped under a covering bind, then
// sorted by destination with binds after other operations on the same
// place and "+SRC" binds last.
func TestOrder(t *testing.T) {
	o, err := parse([]string{
		"--ro-bind", "+/usr", "/a",
		"--ro-bind", "/etc/x", "/etc/x", // under /etc /etc: dropped
		"--bind", "/m", "/m",
		"--tmpfs", "/m",
		"--ro-bind", "/etc", "/etc",
		"--ro-bind", "/etc", "/etc/", // the same bind
		"--bind", "/etc/y", "/etc/y", // not read-only: kept
		"--dir", "/m/sub",
		"--tmpfs", "/",
	}, "/")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, op := range order(o.ops) {
		got = append(got, op.kind.String()+" "+op.dst)
	}
	want := []string{"tmpfs /", "bind /etc", "bind /etc/y", "tmpfs /m", "bind /m", "dir /m/sub", "bind /a"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("order %q, want %q", got, want)
	}
}

// TestBuildDefaults: mkosi-sandbox's defaults as a spec: cwd /, no pid or
// UTS namespace, a user namespace unless root, --unshare-net only with
// CAP_NET_ADMIN, the kept capabilities, /proc bound from the host.
func TestBuildDefaults(t *testing.T) {
	o, _ := parse([]string{"--proc", "/proc", "--unshare-net", "--setenv", "A", "1", "--unsetenv", "B", "true"}, "/")
	user := host{uid: 1000, effCaps: map[int]bool{}, env: []string{"B=2", "C=3"}}
	s, err := build(o, user, []int{3})
	if err != nil {
		t.Fatal(err)
	}
	if s.Dir != "/" || s.Namespaces != (sandbox.Namespaces{}) || s.Identity.UserNS != sandbox.UserNSAlways || s.Identity.Mode != "self" {
		t.Errorf("user spec: dir %q ns %+v identity %+v", s.Dir, s.Namespaces, s.Identity)
	}
	if !reflect.DeepEqual(s.Env, []string{"C=3", "A=1"}) || !reflect.DeepEqual(s.Fds, []sandbox.FD{{Inside: 3, Outside: 3}}) {
		t.Errorf("env %q fds %v", s.Env, s.Fds)
	}
	if m := s.Mounts[0]; m.Op != sandbox.OpBind || m.Source != "/proc" {
		t.Errorf("--proc: %+v", m)
	}
	if strings.Join(s.Caps.Add, ",") != strings.Join(keptCaps, ",") {
		t.Errorf("caps %v", s.Caps.Add)
	}
	root := host{uid: 0, effCaps: map[int]bool{capNetAdmin: true, capSysAdmin: true}}
	o, _ = parse([]string{"--unshare-net", "--become-root", "--exec-fd", "3", "true"}, "/")
	s, err = build(o, root, []int{3})
	if err != nil {
		t.Fatal(err)
	}
	if !s.Namespaces.Net || s.Identity.UserNS != sandbox.UserNSNever || len(s.Fds) != 0 {
		t.Errorf("root spec: ns %+v identity %+v fds %v", s.Namespaces, s.Identity, s.Fds)
	}
}
