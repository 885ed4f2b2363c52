package attack

import (
	"strings"
	"testing"
)

// TestEnvironmentCannotSteerNook: nook reads NOOK_ENGINE, NOOK_RAW_NO_VM,
// NOOK_TIMING, NOOK_TEST_STALL_UNPACK, HOME and XDG_* from its
// environment (docs/security.md lists each). A sandboxed command can set
// them only for a nook it starts itself, which runs with the command's
// own powers: it cannot use them to reach the caller's session store or
// to write through the sandbox's read-only view of the host. And nook
// adds nothing of its own to the command's environment.
func TestEnvironmentCannotSteerNook(t *testing.T) {
	base := tempDir(t)
	v := newVictim(t, base)
	s := newStore(t, base)
	id, r := hostileChroot(t, s, "plain", nil, false)
	if id == "" {
		t.Fatalf("begin: %s", r)
	}
	inner := "/nook"
	for _, envs := range [][]string{
		{"NOOK_ENGINE=init"}, {"NOOK_RAW_NO_VM=1"}, {"NOOK_TIMING=1"}, {"NOOK_TEST_STALL_UNPACK=1"},
		{"HOME=" + base}, s.env[len(s.env)-3:],
	} {
		name, _, _ := strings.Cut(envs[0], "=")
		if len(envs) > 1 {
			name = "XDG_dirs-of-the-callers-store"
		}
		t.Run(name, func(t *testing.T) {
			// Inside the default sandbox (host root read-only), a nested
			// nook with the variable set tries to write the victim, to
			// end the caller's sessions, and to prune the caller's cache.
			script := inner + " run --bind " + v.dir + " /x -- sh -c 'echo PWNED > /x/file; rm -rf /x/sub; touch /x/new' ; " +
				inner + " session end --all; " + inner + " cache prune; " + inner + " session end " + id + "; true"
			args := append(append([]string{"run"}, userns()...), "--ro-bind", nookBin, inner)
			for _, e := range append(envs, s.env[len(s.env)-3:]...) {
				k, val, _ := strings.Cut(e, "=")
				args = append(args, "--setenv", k, val)
			}
			args = append(args, "--", "/bin/sh", "-c", script)
			rr := nook(t, args...)
			v.check(t, "a nested nook with "+strings.Join(envs, " ")+" ("+rr.String()+")")
			if r := s.nook("session", "run", id, "--", "/bin/sh", "-c", "echo alive"); r.out != "alive\n" {
				t.Errorf("the caller's session was harmed from inside a sandbox: %s (inner: %s)", r, rr)
			}
		})
	}
	t.Run("nothing-of-nooks-in-the-command-environment", func(t *testing.T) {
		r := nookWith(t, runOpts{env: []string{"PATH=/usr/bin:/bin", "A=1"}}, "run", "--", "/usr/bin/env")
		got := strings.Fields(r.out)
		for _, kv := range got {
			if kv != "PATH=/usr/bin:/bin" && kv != "A=1" {
				t.Errorf("nook put %q into the command's environment", kv)
			}
		}
		if len(got) != 2 {
			t.Errorf("environment inside: %q", got)
		}
	})
}
