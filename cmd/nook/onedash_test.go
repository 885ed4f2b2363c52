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
		{[]string{"run", "-ro-bind", "/", "/", "true"}, "--ro-bind"},
		{[]string{"run", "-unshare-net=x", "true"}, "--unshare-net"},
		{[]string{"session", "-help"}, "--help"},
		{[]string{"chroot", "-help"}, "--help"},
		{[]string{"cache", "-help"}, "--help"},
		{[]string{"chroot", "list", "-json"}, "--json"},
		{[]string{"session", "end", "-all"}, "--all"},
		{[]string{"version", "-json"}, "--json"},
		{[]string{"-help"}, "--help"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			_, errOut, code := e.nook(c.args...)
			if code != 2 || !strings.Contains(errOut, c.want) {
				t.Errorf("nook %q: exit %d, stderr %q; want 2 and a message naming %s", c.args, code, errOut, c.want)
			}
		})
	}
	// A command whose name only looks like an option still runs after --.
	if _, errOut, code := e.nook("run", "--", "-ro-bind"); code != 127 || !strings.Contains(errOut, "command not found") {
		t.Errorf("nook run -- -ro-bind: exit %d, stderr %q; want 127, command not found", code, errOut)
	}
}
