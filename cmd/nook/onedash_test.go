package main

import (
	"strings"
	"testing"
)

// A long option written with one dash (-ro-bind, -help, -json) is a usage
// error (2) that shows the two-dash form, not a command called -ro-bind
// (127) or a bare "unknown verb".
func TestOneDashLongOption(t *testing.T) {
	e := newSessionEnv(t)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"run", "-ro-bind", "/", "/", "true"}, "take two dashes (--ro-bind)"},
		{[]string{"run", "-unshare-net=x", "true"}, "take two dashes (--unshare-net=x)"},
		{[]string{"session", "-help"}, "for help: --help"},
		{[]string{"chroot", "-help"}, "for help: --help"},
		{[]string{"cache", "-help"}, "for help: --help"},
		{[]string{"chroot", "list", "-json"}, "take two dashes: --json"},
		{[]string{"session", "end", "-all"}, "take two dashes: --all"},
		{[]string{"version", "-json"}, "take two dashes: --json"},
		{[]string{"-help"}, "take two dashes: --help"},
		// --version and --help take no value: the hint leaves it out.
		{[]string{"-version=1"}, "take two dashes: --version)"},
		{[]string{"-help=x"}, "take two dashes: --help)"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			_, errOut, code := e.nook(c.args...)
			if code != 2 || !strings.Contains(errOut, c.want) {
				t.Errorf("nook %q: exit %d, stderr %q; want 2 and a message saying %q", c.args, code, errOut, c.want)
			}
		})
	}
	// A command whose name only looks like an option still runs after --.
	if _, errOut, code := e.nook("run", "--", "-ro-bind"); code != 127 || !strings.Contains(errOut, "command not found") {
		t.Errorf("nook run -- -ro-bind: exit %d, stderr %q; want 127, command not found", code, errOut)
	}
}
