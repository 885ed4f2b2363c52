package attack

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
)

// TestEnvironmentCannotSteerNook: nook reads NOOK_ENGINE, NOOK_RAW_NO_VM,
// NOOK_TIMING, NOOK_TEST_STALL_UNPACK, NOOK_UNPACK, NOOK_USERNS_IDLE, HOME
// and XDG_* from its
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
		{"NOOK_UNPACK=/bin/sh"}, {"NOOK_USERNS_IDLE=0"},
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

// TestSchrootEnvironmentFilter: nook as schroot keeps the caller's
// environment with -p (as sbuild asks), but never the variables schroot's
// environment filter names — the dynamic loader's (LD_PRELOAD would run the
// caller's code in every program inside), the shells' start-up files, the
// resolver's and Kerberos' configuration, terminfo — nor those a
// definition's own environment-filter names.
func TestSchrootEnvironmentFilter(t *testing.T) {
	base := tempDir(t)
	home, etc := filepath.Join(base, "home"), filepath.Join(base, "etc")
	must(t, os.MkdirAll(home, 0o755))
	must(t, os.MkdirAll(filepath.Join(etc, "chroot.d"), 0o755))
	tarball := filepath.Join(base, "att.tar.gz")
	writeTar(t, tarball, chrootEntries(t))
	me, err := user.Current()
	must(t, err)
	def := fmt.Sprintf("[att]\ntype=file\nfile=%s\nusers=%s\nroot-users=%s\n\n"+
		"[att-own]\ntype=file\nfile=%s\nusers=%s\nroot-users=%s\nenvironment-filter=^(FOO_.*|LD_.*)$\n",
		tarball, me.Username, me.Username, tarball, me.Username, me.Username)
	must(t, os.WriteFile(filepath.Join(etc, "chroot.d", "att"), []byte(def), 0o644))
	filtered := []string{"BASH_ENV", "CDPATH", "ENV", "HOSTALIASES", "IFS", "KRB5_CONFIG", "KRBCONFDIR", "KRBTKFILE",
		"KRB_CONF", "LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT", "LD_DEBUG", "LOCALDOMAIN", "NLSPATH", "PATH_LOCALE",
		"RES_OPTIONS", "TERMINFO", "TERMINFO_DIRS", "TERMPATH"}
	env := []string{"PATH=/usr/bin:/bin", "NOOK_SCHROOT_HOME=" + home, "NOOK_SCHROOT_ETC=" + etc, "KEEP_ME=1", "FOO_X=1"}
	for _, k := range filtered {
		env = append(env, k+"="+filepath.Join(base, "evil"))
	}
	defer nookWith(t, runOpts{env: env}, "schroot", "--end-session", "--all-sessions")
	for _, c := range []struct {
		chroot string
		gone   []string
	}{{"att", filtered}, {"att-own", []string{"FOO_X", "LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT", "LD_DEBUG"}}} {
		for _, u := range []string{"root", me.Username} {
			t.Run(c.chroot+"/"+u, func(t *testing.T) {
				r := nookWith(t, runOpts{env: env}, "schroot", "-c", c.chroot, "-p", "-u", u, "-d", "/", "--", "/attack", "-attack-helper", "envdump")
				got := map[string]bool{}
				for _, l := range strings.Split(r.out, "\n") {
					if kv, ok := strings.CutPrefix(l, "env "); ok {
						k, _, _ := strings.Cut(kv, "=")
						got[k] = true
					}
				}
				if !strings.Contains(r.out, "done") || !got["KEEP_ME"] {
					t.Fatalf("the command did not run with the caller's environment: %s", r)
				}
				for _, k := range c.gone {
					if got[k] {
						t.Errorf("%s reached the command through the schroot face", k)
					}
				}
			})
		}
	}
}
