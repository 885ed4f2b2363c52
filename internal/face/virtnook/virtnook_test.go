package virtnook

import (
	"bufio"
	"bytes"
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/nook-project/nook/session"
)

// quote and unquote agree with Python's urllib.parse, which autopkgtest
// uses on its side (asked of python3 itself when it is there).
func TestQuoteLikePython(t *testing.T) {
	cases := []string{"/tmp/autopkgtest.AbC123", "a b,c", "tab\there", "100%", "ünï", "~_.-/x", "a+b", "%zz"}
	for _, c := range cases {
		if got := unquote(quote(c)); got != c {
			t.Errorf("unquote(quote(%q)) = %q", c, got)
		}
	}
	if strings.Contains(quote("a,b c"), ",") || strings.Contains(quote("a,b c"), " ") {
		t.Errorf("quote(%q) = %q keeps a separator of the protocol", "a,b c", quote("a,b c"))
	}
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skipf("SKIP: no python3 to compare with: %v", err)
	}
	for _, c := range cases {
		out, err := exec.Command(py, "-c", "import sys, urllib.parse; sys.stdout.write(urllib.parse.quote(sys.argv[1]))", c).Output()
		if err != nil {
			t.Fatal(err)
		}
		if string(out) != quote(c) {
			t.Errorf("quote(%q) = %q, Python's %q", c, quote(c), out)
		}
		out, err = exec.Command(py, "-c", "import sys, urllib.parse; sys.stdout.write(urllib.parse.unquote(sys.argv[1]))", c).Output()
		if err != nil {
			t.Fatal(err)
		}
		if string(out) != unquote(c) {
			t.Errorf("unquote(%q) = %q, Python's %q", c, unquote(c), out)
		}
	}
}

func TestParse(t *testing.T) {
	for _, c := range []struct {
		args []string
		want options
		bad  bool
	}{
		{args: []string{"bookworm"}, want: options{chroot: "bookworm"}},
		{args: []string{"-d", "--boot", "sd"}, want: options{chroot: "sd", boot: true, debug: true}},
		{args: []string{"--network", "off", "x"}, want: options{chroot: "x", noNetwork: true}},
		{args: []string{"--network=on", "--no-network", "x"}, want: options{chroot: "x", noNetwork: true}},
		{args: []string{"--no-network", "--network=on", "x"}, want: options{chroot: "x"}},
		{args: []string{"--", "-odd"}, want: options{chroot: "-odd"}},
		{args: []string{"--help"}, want: options{help: true}},
		{args: []string{}, bad: true},
		{args: []string{"a", "b"}, bad: true},
		{args: []string{"--network", "maybe", "x"}, bad: true},
		{args: []string{"--network"}, bad: true},
		{args: []string{"--frob", "x"}, bad: true},
		{args: []string{"--boot", "--network=off", "x"}, want: options{chroot: "x", boot: true, noNetwork: true}},
	} {
		o, err := parse(c.args)
		var ue *usageError
		switch {
		case c.bad && !errors.As(err, &ue):
			t.Errorf("parse(%q): %v, want a usage error", c.args, err)
		case !c.bad && err != nil:
			t.Errorf("parse(%q): %v", c.args, err)
		case !c.bad && *o != c.want:
			t.Errorf("parse(%q) = %+v, want %+v", c.args, *o, c.want)
		}
	}
}

// Every option the completion offers is one parse takes.
func TestCompletionOptionsParse(t *testing.T) {
	for _, o := range CompletionOptions() {
		for _, n := range o.Names {
			args := []string{n}
			if len(o.Args) > 0 {
				args = append(args, "on")
			}
			if _, err := parse(append(args, "x")); err != nil {
				t.Errorf("completion offers %s, which parse refuses: %v", n, err)
			}
		}
	}
}

// The protocol without a testbed: capabilities in any state (revert,
// revert-full-system, root-on-testbed; isolation-container only with
// --boot), commands that need an open testbed refused as VirtSubproc
// refuses them (the server stops, status 12), quit answered ok.
func TestProtocolClosed(t *testing.T) {
	run := func(o *options, input string) (string, string, int) {
		var out, errOut bytes.Buffer
		s := &server{o: o, store: session.OpenDirs(session.Dirs{Config: t.TempDir(), Cache: t.TempDir(), State: t.TempDir()}),
			exe: "/nonexistent/nook", in: bufio.NewReader(strings.NewReader(input)), out: &out, errOut: &errOut}
		code := s.serve()
		return out.String(), errOut.String(), code
	}
	out, _, code := run(&options{chroot: "x"}, "capabilities\nquit\n")
	caps := strings.Fields(strings.Split(out, "\n")[1])
	if code != 0 || caps[0] != "ok" || !contains(caps, "revert") || !contains(caps, "revert-full-system") ||
		!contains(caps, "root-on-testbed") || contains(caps, "isolation-container") || strings.Split(out, "\n")[2] != "ok" {
		t.Errorf("capabilities, quit: exit %d, %q", code, out)
	}
	out, _, _ = run(&options{chroot: "x", boot: true}, "capabilities\nquit\n")
	if !contains(strings.Fields(strings.Split(out, "\n")[1]), "isolation-container") {
		t.Errorf("--boot: capabilities %q lack isolation-container", out)
	}
	for _, cmd := range []string{"close", "revert", "print-execute-command", "copydown /a /b", "copyup /a /b", "shell /"} {
		out, errOut, code := run(&options{chroot: "x"}, cmd+"\n")
		name := strings.Fields(cmd)[0]
		if code != 12 || out != "ok\n" || !strings.Contains(errOut, "failure: `"+name+"' when not open") {
			t.Errorf("%s when closed: exit %d, out %q, err %q; want 12 and the refusal", cmd, code, out, errOut)
		}
	}
	for _, c := range []struct{ in, why string }{
		{"frobnicate\n", "unknown command `frobnicate'"},
		{"copydown /a\n", "too few arguments to command `copydown'"},
		{"capabilities x\n", "too many arguments to command `capabilities'"},
		{"", "end of file"},
	} {
		_, errOut, code := run(&options{chroot: "x"}, c.in)
		if code != 12 || !strings.Contains(errOut, c.why) {
			t.Errorf("%q: exit %d, %q; want 12 and %q", c.in, code, errOut, c.why)
		}
	}
	// open of a chroot nobody defined fails, and says which.
	_, errOut, code := run(&options{chroot: "nosuch"}, "open\n")
	if code != 12 || !strings.Contains(errOut, "nosuch") || !strings.Contains(errOut, "no such chroot") {
		t.Errorf("open of an unknown chroot: exit %d, %q", code, errOut)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
