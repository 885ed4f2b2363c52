package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// schrootEnv is nook called as schroot with a configuration directory and
// a store of the test's own (NOOK_SCHROOT_ETC, NOOK_SCHROOT_HOME).
type schrootEnv struct {
	t        *testing.T
	dir, bin string
	env      []string
	tarball  string
	me       string
}

func newSchrootEnv(t *testing.T) *schrootEnv {
	t.Helper()
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	e := &schrootEnv{t: t, dir: dir, bin: filepath.Join(dir, "bin", "schroot")}
	os.MkdirAll(filepath.Dir(e.bin), 0o755)
	if err := os.Symlink(nookBin, e.bin); err != nil {
		t.Fatal(err)
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	e.me = u.Username
	e.tarball = busyboxTarball(t, dir, "bb")
	etc := filepath.Join(dir, "etc")
	for _, d := range []string{"chroot.d", "prof"} {
		os.MkdirAll(filepath.Join(etc, d), 0o755)
	}
	// A profile as schroot's: a file copied in, the user databases, a
	// tmpfs and a bind of a directory the caller owns.
	os.WriteFile(filepath.Join(dir, "copied"), []byte("copied-in\n"), 0o644)
	os.Mkdir(filepath.Join(dir, "shared"), 0o755)
	os.WriteFile(filepath.Join(dir, "shared", "marker"), []byte("bound\n"), 0o644)
	os.WriteFile(filepath.Join(etc, "prof", "copyfiles"), []byte("# files\n"+filepath.Join(dir, "copied")+"\n"), 0o644)
	os.WriteFile(filepath.Join(etc, "prof", "nssdatabases"), []byte("passwd\ngroup\n"), 0o644)
	os.WriteFile(filepath.Join(etc, "prof", "fstab"), []byte(
		"/proc /proc none rw,bind 0 0\ntmpfs /scratch tmpfs defaults 0 0\n"+filepath.Join(dir, "shared")+" /shared none rw,bind 0 0\n"), 0o644)
	def := fmt.Sprintf(`[bb]
type=file
file=%s
description=busybox test chroot
aliases=bb-alias,bb-sbuild
profile=prof
groups=root
root-users=%s
source-root-users=%s
nook.isolate-network-commands=isolated-cmd
personality=linux32

[locked]
type=file
file=%s
users=nobody-here
`, e.tarball, e.me, e.me, e.tarball)
	os.WriteFile(filepath.Join(etc, "chroot.d", "bb"), []byte(def), 0o644)
	home := filepath.Join(dir, "home")
	os.Mkdir(home, 0o700)
	e.env = append(os.Environ(), "NOOK_SCHROOT_ETC="+etc, "NOOK_SCHROOT_HOME="+home)
	t.Cleanup(func() {
		out, _, _ := e.run("", "/", nil, "-l", "--all-sessions")
		for _, l := range strings.Fields(out) {
			e.run("", "/", nil, "-e", "-c", l)
		}
		exec.Command(nookBin, "cache", "prune").Run() // in the default store: nothing of the test's
		env := append(os.Environ(), "XDG_CACHE_HOME="+home+"/.cache", "XDG_STATE_HOME="+home+"/.local/state", "XDG_CONFIG_HOME="+home+"/.config")
		c := exec.Command(nookBin, "cache", "prune")
		c.Env = env
		c.Run()
	})
	return e
}

// run calls the face; extra replaces the environment (nil: the test's).
func (e *schrootEnv) run(stdin, dir string, extra []string, args ...string) (string, string, int) {
	e.t.Helper()
	cmd := exec.Command(e.bin, args...)
	cmd.Dir = dir
	cmd.Env = e.env
	if extra != nil {
		cmd.Env = append([]string{}, extra...)
		for _, kv := range e.env {
			if strings.HasPrefix(kv, "NOOK_SCHROOT_") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
	}
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("run schroot: %v", err)
	}
	return out.String(), errb.String(), code
}

func (e *schrootEnv) must(args ...string) string {
	e.t.Helper()
	out, errOut, code := e.run("", "/", nil, args...)
	if code != 0 {
		e.t.Fatalf("schroot %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	return out
}

var schrootIDRE = regexp.MustCompile(`^bb-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\n$`)

// TestSchrootSession walks a session through the calls sbuild and
// autopkgtest make, comparing with what schroot 1.6.13 answers.
func TestSchrootSession(t *testing.T) {
	e := newSchrootEnv(t)
	out := e.must("-c", "chroot:bb-sbuild", "--begin-session")
	if !schrootIDRE.MatchString(out) {
		t.Fatalf("--begin-session printed %q, want only the session id", out)
	}
	id := strings.TrimSpace(out)
	if out := e.must("-l", "--all-sessions"); out != "session:"+id+"\n" {
		t.Errorf("-l --all-sessions: %q", out)
	}
	loc := strings.TrimSpace(e.must("--location", "-c", "session:"+id))
	if fi, err := os.Stat(loc); err != nil || !fi.IsDir() {
		t.Errorf("--location %q is not a host directory: %v", loc, err)
	}
	// The key column is as wide as the block's longest key (the nook.*
	// key here widens it, as in schroot): compare with spaces squashed.
	info := squash(e.must("--info", "--chroot", "session:"+id))
	for _, want := range []string{" ─── Session ───\n", " Name " + id + "\n", " Type file\n",
		" Root Users " + e.me + "\n", " Session Purged true\n", " Path " + loc + "\n",
		" Original Chroot Name bb\n", " Selected Chroot Name bb-sbuild\n", " Session ID " + id + "\n"} {
		if !strings.Contains(info, want) {
			t.Errorf("--info of the session lacks %q:\n%s", want, info)
		}
	}
	cfg := e.must("--config", "-c", "session:"+id)
	for _, want := range []string{"[" + id + "]\n", "root-users=" + e.me + "\n", "root-groups=\n", "type=file\n", "mount-location=" + loc + "\n"} {
		if !strings.Contains(cfg, want) {
			t.Errorf("--config of the session lacks %q:\n%s", want, cfg)
		}
	}

	// sbuild's form: no PATH, no HOME; -p keeps the caller's (filtered)
	// environment and schroot adds what is missing.
	sbuildEnv := []string{"LANG=C.UTF-8", "LC_ALL=C.UTF-8", "LD_PRELOAD=", "FOO=bar"}
	out, errOut, code := e.run("", "/", sbuildEnv, "-d", "/", "-c", id, "--run-session", "-q", "-u", "root", "-p", "--", "env")
	if code != 0 {
		t.Fatalf("env as root: %d %s", code, errOut)
	}
	uid, gid := strconv.Itoa(os.Getuid()), strconv.Itoa(os.Getgid())
	grp := gid
	if g, err := user.LookupGroupId(gid); err == nil {
		grp = g.Name
	}
	rootShell := hostShell("root")
	want := []string{"FOO=bar", "HOME=/root", "LANG=C.UTF-8", "LC_ALL=C.UTF-8", "LOGNAME=root",
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "SCHROOT_ALIAS_NAME=bb-sbuild", "SCHROOT_CHROOT_NAME=bb",
		"SCHROOT_COMMAND=env", "SCHROOT_GID=" + gid, "SCHROOT_GROUP=" + grp, "SCHROOT_SESSION_ID=" + id, "SCHROOT_UID=" + uid,
		"SCHROOT_USER=" + e.me, "SHELL=" + rootShell, "USER=root"}
	if got := withoutNook(out); got != strings.Join(want, "\n")+"\n" {
		t.Errorf("-p -u root environment:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	// autopkgtest's form: no -p, a minimal login environment.
	out, _, _ = e.run("", "/", []string{"TERM=dumb", "FOO=bar", "HOME=/elsewhere"}, "--run-session", "--quiet", "--directory=/", "--chroot", id, "--", "env")
	home, shell := hostHome(e.me), hostShell(e.me)
	want = []string{"HOME=" + home, "LOGNAME=" + e.me, "PATH=/usr/local/bin:/usr/bin:/bin", "SCHROOT_ALIAS_NAME=bb-sbuild", "SCHROOT_CHROOT_NAME=bb",
		"SCHROOT_COMMAND=env", "SCHROOT_GID=" + gid, "SCHROOT_GROUP=" + grp, "SCHROOT_SESSION_ID=" + id, "SCHROOT_UID=" + uid,
		"SCHROOT_USER=" + e.me, "SHELL=" + shell, "TERM=dumb", "USER=" + e.me}
	if os.Getuid() == 0 {
		want[2] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	}
	sort.Strings(want)
	if got := withoutNook(out); got != strings.Join(want, "\n")+"\n" {
		t.Errorf("environment without -p:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}

	// Identity: root, and the caller (who exists inside: the profile
	// copied the host's passwd in).
	if out := e.must("-r", "-c", id, "-d", "/", "-u", "root", "--", "id", "-u"); out != "0\n" {
		t.Errorf("-u root: id -u = %q", out)
	}
	if out := e.must("-r", "-c", id, "-d", "/", "--", "id", "-un"); out != e.me+"\n" {
		t.Errorf("default user: id -un = %q, want %s", out, e.me)
	}
	// personality=linux32: a 32-bit machine, as linux32(8) shows it.
	if out := e.must("-r", "-c", id, "-d", "/", "--", "uname", "-m"); out != "i686\n" {
		t.Errorf("personality=linux32: uname -m = %q", out)
	}
	// Files in and out through stdin and stdout, the exit status back.
	if _, errOut, code := e.run("data\x00\n", "/", nil, "-r", "-c", id, "-d", "/", "-u", "root", "--", "sh", "-c", "cat > /root/f"); code != 0 {
		t.Fatalf("cat > /root/f: %d %s", code, errOut)
	}
	if out := e.must("-r", "-c", id, "-d", "/root", "-u", "root", "--", "cat", "f"); out != "data\x00\n" {
		t.Errorf("cat f in -d /root: %q", out)
	}
	if _, _, code := e.run("", "/", nil, "-r", "-c", id, "-d", "/", "--", "sh", "-c", "exit 7"); code != 7 {
		t.Errorf("exit 7 gave %d", code)
	}
	// schroot's own failures: status 1 and its message.
	checks := []struct {
		dir    string
		args   []string
		stderr string
	}{
		{"/", []string{"-r", "-c", id, "-d", "/not/there", "--", "true"},
			"E: Failed to change to directory ‘/not/there’: No such file or directory\nI: The directory does not exist inside the chroot.  Use the --directory option to run the command in a different directory.\n"},
		{filepath.Join(e.dir, "etc"), []string{"-r", "-c", id, "--", "true"},
			"E: Failed to change to directory ‘" + filepath.Join(e.dir, "etc") + "’: No such file or directory\nI: The directory does not exist inside the chroot.  Use the --directory option to run the command in a different directory.\n"},
		{"/", []string{"-r", "-c", id, "-d", "/", "--", "/no/such/cmd"}, "E: Failed to execute “/no/such/cmd”: No such file or directory\n"},
		{"/", []string{"-r", "-c", id, "-d", "/", "--", "sh", "-c", "kill -TERM $$"}, "E: Child terminated by signal ‘Terminated’\n"},
		{"/", []string{"-r", "-c", id, "-u", "no-such-user-anywhere", "--", "true"}, "E: User ‘no-such-user-anywhere’ not found\n"},
		{"/", []string{"-r", "-c", "session:nosuch", "--", "true"}, "E: session:nosuch: Chroot not found\n"},
	}
	for _, c := range checks {
		if _, errOut, code := e.run("", c.dir, nil, c.args...); code != 1 || errOut != c.stderr {
			t.Errorf("schroot %s: exit %d, stderr %q; want 1 and %q", strings.Join(c.args, " "), code, errOut, c.stderr)
		}
	}

	// The profile: copyfiles, fstab's tmpfs and bind.
	if out := e.must("-r", "-c", id, "-d", "/", "--", "cat", filepath.Join(e.dir, "copied")); out != "copied-in\n" {
		t.Errorf("copyfiles: %q", out)
	}
	mounts := e.must("-r", "-c", id, "-d", "/", "--", "cat", "/proc/self/mounts")
	if !regexp.MustCompile(`(?m)^\S+ /scratch tmpfs `).MatchString(mounts) {
		t.Errorf("fstab tmpfs /scratch missing:\n%s", mounts)
	}
	if out := e.must("-r", "-c", id, "-d", "/", "--", "cat", "/shared/marker"); out != "bound\n" {
		t.Errorf("fstab bind of the caller's directory: %q", out)
	}

	// Network: isolated when asked, or for the commands the definition
	// names; the host's otherwise.
	netDev := func(extra ...string) []string {
		args := append([]string{"-r", "-c", id, "-d", "/"}, extra...)
		out := e.must(append(args, "--", "cat", "/proc/net/dev")...)
		var names []string
		for _, l := range strings.Split(out, "\n")[2:] {
			if n, _, ok := strings.Cut(strings.TrimSpace(l), ":"); ok {
				names = append(names, n)
			}
		}
		return names
	}
	if got := netDev("--isolate-network"); len(got) != 1 || got[0] != "lo" {
		t.Errorf("--isolate-network: interfaces %v, want only lo", got)
	}
	hostIfaces, _ := os.ReadFile("/proc/net/dev")
	if got, want := len(netDev()), strings.Count(string(hostIfaces), ":"); got != want {
		t.Errorf("without isolation: %d interfaces, want the host's %d", got, want)
	}
	// nook.isolate-network-commands=isolated-cmd: a command by that name.
	e.must("-r", "-c", id, "-d", "/", "-u", "root", "--", "sh", "-c", "printf '#!/bin/sh\\nexec \"$@\"\\n' > /bin/isolated-cmd; chmod 755 /bin/isolated-cmd")
	if out := e.must("-r", "-c", id, "-d", "/", "--", "isolated-cmd", "cat", "/proc/net/dev"); strings.Count(out, ":") != 1 {
		t.Errorf("nook.isolate-network-commands: /proc/net/dev inside:\n%s", out)
	}

	e.must("-e", "-c", id)
	if out := e.must("-l", "--all-sessions"); out != "" {
		t.Errorf("sessions after end: %q", out)
	}
	if _, errOut, code := e.run("", "/", nil, "-e", "-c", id); code != 1 || errOut != "E: "+id+": Chroot not found\n" {
		t.Errorf("ending it again: %d %q", code, errOut)
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mi), e.dir) {
		t.Errorf("a mount of the test is left on the host:\n%s", mi)
	}
}

// TestSchrootAutomaticSession: schroot -c NAME CMD begins, runs, ends.
func TestSchrootAutomaticSession(t *testing.T) {
	e := newSchrootEnv(t)
	out, errOut, code := e.run("", "/", nil, "-c", "bb", "-d", "/", "--", "sh", "-c", "echo $SCHROOT_CHROOT_NAME; exit 3")
	if code != 3 || out != "bb\n" {
		t.Errorf("automatic session: exit %d, %q, %s", code, out, errOut)
	}
	if out := e.must("-l", "--all-sessions"); out != "" {
		t.Errorf("the automatic session was left: %q", out)
	}
}

// TestSchrootAccess: schroot's users/groups lists hold for a user; root
// may use every chroot.
func TestSchrootAccess(t *testing.T) {
	e := newSchrootEnv(t)
	out, errOut, code := e.run("", "/", nil, "-c", "locked", "-b")
	if os.Getuid() == 0 {
		if code != 0 {
			t.Errorf("root refused: %d %s", code, errOut)
		}
		e.must("-e", "-c", strings.TrimSpace(out))
		return
	}
	if code != 1 || errOut != "E: Access not authorised\nI: You do not have permission to access the schroot service.\n" {
		t.Errorf("a user not in users=: exit %d, %q", code, errOut)
	}
	if out := e.must("-l", "--all-sessions"); out != "" {
		t.Errorf("a refused begin left a session: %q", out)
	}
}

// squash turns every run of spaces into one.
func squash(s string) string {
	for strings.Contains(s, "  ") {
		s = strings.ReplaceAll(s, "  ", " ")
	}
	return s
}

// withoutNook drops the test's own NOOK_SCHROOT_* variables.
func withoutNook(env string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(env, "\n") {
		if !strings.HasPrefix(l, "NOOK_SCHROOT_") {
			b.WriteString(l)
		}
	}
	return b.String()
}

func hostEntry(name string, field int) string {
	data, _ := os.ReadFile("/etc/passwd")
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Split(l, ":")
		if len(f) == 7 && f[0] == name {
			return f[field]
		}
	}
	return ""
}

func hostShell(name string) string { return hostEntry(name, 6) }
func hostHome(name string) string  { return hostEntry(name, 5) }

// TestSchrootSourceSession: a session of source:NAME replaces the
// chroot's tarball with its tree when it ends (sbuild-update's way of
// updating a chroot); a plain session never does.
func TestSchrootSourceSession(t *testing.T) {
	e := newSchrootEnv(t)
	before, _ := os.ReadFile(e.tarball)
	id := strings.TrimSpace(e.must("-c", "source:bb", "-b"))
	if info := squash(e.must("-i", "-c", "session:"+id)); !strings.Contains(info, " File Repack true\n") {
		t.Errorf("a source session's info:\n%s", info)
	}
	e.must("-r", "-c", id, "-d", "/", "-u", "root", "--", "sh", "-c", "echo updated > /root/update-mark; rm /bin/tr")
	if after, _ := os.ReadFile(e.tarball); !bytes.Equal(before, after) {
		t.Fatalf("the tarball changed before the session ended")
	}
	e.must("-e", "-c", id)
	after, _ := os.ReadFile(e.tarball)
	if bytes.Equal(before, after) || len(after) < 2 || after[0] != 0x1f || after[1] != 0x8b {
		t.Fatalf("the tarball was not replaced by a gzip'ed one (%d bytes, was %d)", len(after), len(before))
	}
	// A new session of the chroot sees the update (the cache notices the
	// new contents); the change of a plain session does not persist.
	id2 := strings.TrimSpace(e.must("-c", "bb", "-b"))
	if out := e.must("-r", "-c", id2, "-d", "/", "-u", "root", "--", "sh", "-c", "cat /root/update-mark; test -e /bin/tr || echo tr-gone; test -x /bin/sh && echo sh-kept; stat -c %u:%g /root"); out != "updated\ntr-gone\nsh-kept\n0:0\n" {
		t.Errorf("after the source session: %q", out)
	}
	e.must("-r", "-c", id2, "-d", "/", "-u", "root", "--", "touch", "/root/plain")
	e.must("-e", "-c", id2)
	if now, _ := os.ReadFile(e.tarball); !bytes.Equal(now, after) {
		t.Errorf("ending a plain session changed the tarball")
	}
	if entries, _ := filepath.Glob(filepath.Join(filepath.Dir(e.tarball), ".*nook-repack*")); len(entries) != 0 {
		t.Errorf("repack leftovers: %v", entries)
	}
}

// TestSchrootSignalsForwarded: the schroot face forwards signals to the
// command, in a session and in an automatic session.
func TestSchrootSignalsForwarded(t *testing.T) {
	e := newSchrootEnv(t)
	id := strings.TrimSpace(e.must("-b", "-c", "bb"))
	for _, c := range []struct {
		name string
		args []string
	}{{"run-session", []string{"-r", "-c", id, "-d", "/", "-u", "root", "--"}}, {"automatic", []string{"-c", "bb", "-d", "/", "-u", "root", "--"}}} {
		for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
			t.Run(c.name+"/"+sigName(sig), func(t *testing.T) {
				checkForwarded(t, sig, func(script string) *exec.Cmd {
					cmd := exec.Command(e.bin, append(append([]string{}, c.args...), "sh", "-c", script)...)
					cmd.Env, cmd.Dir = e.env, "/"
					return cmd
				})
			})
		}
	}
	e.must("-e", "-c", id)
}

// TestSchrootSessionNameTaken: --begin-session with a --session-name in
// use fails as schroot's does ("Failed to lock chroot"), told apart by
// the store's typed error, not its text; the first session is unharmed.
func TestSchrootSessionNameTaken(t *testing.T) {
	e := newSchrootEnv(t)
	if out := e.must("-c", "bb", "-b", "-n", "mine"); out != "mine\n" {
		t.Fatalf("--begin-session -n mine printed %q", out)
	}
	out, errOut, code := e.run("", "/", nil, "-c", "bb", "-b", "-n", "mine")
	if code != 1 || out != "" || !strings.Contains(errOut, "mine: Failed to lock chroot: the session exists already") {
		t.Errorf("a second session named mine: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if out := e.must("-c", "mine", "-r", "--", "echo", "alive"); out != "alive\n" {
		t.Errorf("the first session says %q", out)
	}
	e.must("-c", "mine", "-e")
}
