package attack

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
)

// undoKind is a sandbox to run helperUndo in.
type undoKind struct {
	name string
	args []string // nook's arguments before "--"
	env  []string
	// checks are helperUndo's after-attempt checks.
	checks []string
	// caps: the command keeps CAP_SYS_ADMIN, so it must still be able to
	// mount for itself (mkosi's reason for keeping capabilities).
	caps bool
}

// TestCommandCannotUndoSandbox: the command, holding every capability it
// is given, cannot remount nook's read-only mounts read-write (the host
// root, binds, /sys), unmount or move away a covering mount (a --tmpfs over
// a secret, the fresh /proc, /dev), in the default layout of nook run (as
// the caller, --become-root, --identity subids-root), on both engines, nook
// as bwrap with --cap-add ALL, the command as pid 1 (--as-pid-1, both
// engines, both faces), and session commands as the caller and as
// root inside; and it can still make and undo mounts of its own. The harm
// is judged on the host too: a victim directory under the read-only host
// root is unchanged.
func TestCommandCannotUndoSandbox(t *testing.T) {
	needStaticSelf(t)
	base := tempDir(t)
	for _, p := range []string{base, selfBin} {
		if p == "/tmp" || strings.HasPrefix(p, "/tmp/") {
			t.Fatalf("%s is under /tmp, which the default layout hides: run with TMPDIR and the test binary elsewhere (test/all.sh uses /var/tmp)", p)
		}
	}
	secret := filepath.Join(base, "secret")
	must(t, os.MkdirAll(secret, 0o755))
	must(t, os.WriteFile(filepath.Join(secret, "key"), []byte("s3cret"), 0o644))
	work := filepath.Join(base, "work")
	must(t, os.MkdirAll(work, 0o777))

	// One victim directory per kind, under the read-only host root.
	victimDir := filepath.Join(base, "victim")
	hostChecks := []string{"write:" + filepath.Join(victimDir, "victim"), "hidden:" + filepath.Join(secret, "key"), "proc"}
	run := append([]string{"run"}, userns()...)
	run = append(run, "--tmpfs", secret)
	kinds := []undoKind{
		{name: "run", args: run, checks: hostChecks, caps: true},
		{name: "run-go-init", args: run, env: []string{"NOOK_ENGINE=init"}, checks: hostChecks, caps: true},
		{name: "run-become-root", args: append(append([]string{}, run...), "--become-root"), checks: hostChecks, caps: true},
		{name: "run-share-pid", args: append(append([]string{}, run...), "--share-pid"), checks: hostChecks[:2], caps: true},
		{name: "bwrap-cap-add-all", args: []string{"bwrap", "--unshare-user", "--unshare-pid", "--ro-bind", "/", "/",
			"--tmpfs", secret, "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--bind", work, work, "--cap-add", "ALL"},
			checks: hostChecks, caps: true},
		{name: "bwrap", args: []string{"bwrap", "--unshare-user", "--unshare-pid", "--ro-bind", "/", "/",
			"--tmpfs", secret, "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--bind", work, work},
			checks: hostChecks},
	}
	// The command as pid 1 of its pid namespace, on both engines and
	// through the bwrap face (the Go init left it unlocked before
	// 2026-12-03).
	asPID1 := append(append([]string{}, run...), "--as-pid-1")
	bwrapAsPID1 := []string{"bwrap", "--unshare-user", "--unshare-pid", "--as-pid-1", "--ro-bind", "/", "/",
		"--tmpfs", secret, "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--bind", work, work, "--cap-add", "ALL"}
	kinds = append(kinds,
		undoKind{name: "run-as-pid-1", args: asPID1, checks: hostChecks, caps: true},
		undoKind{name: "run-go-init-as-pid-1", args: asPID1, env: []string{"NOOK_ENGINE=init"}, checks: hostChecks, caps: true},
		undoKind{name: "bwrap-as-pid-1", args: bwrapAsPID1, checks: hostChecks, caps: true},
		undoKind{name: "bwrap-go-init-as-pid-1", args: bwrapAsPID1, env: []string{"NOOK_ENGINE=init"}, checks: hostChecks, caps: true})
	// Shared propagation (mkosi-sandbox's default, issue 19) is made in
	// the command's nested namespace and must leave the locks as they are.
	shared := append(append([]string{}, run...), "--propagation", "shared")
	kinds = append(kinds,
		undoKind{name: "run-shared", args: shared, checks: hostChecks, caps: true},
		undoKind{name: "run-go-init-shared", args: shared, env: []string{"NOOK_ENGINE=init"}, checks: hostChecks, caps: true},
		undoKind{name: "run-as-pid-1-shared", args: append(append([]string{}, shared...), "--as-pid-1"), checks: hostChecks, caps: true})
	if hasSubIDs(t) {
		kinds = append(kinds, undoKind{name: "run-subids-root", args: append(append([]string{}, run...), "--identity", "subids-root"),
			checks: hostChecks, caps: true})
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			os.RemoveAll(victimDir)
			victim := newVictim(t, victimDir)
			args := append(append(append([]string{}, k.args...), "--", selfBin, "-attack-helper", "undo"), k.checks...)
			r := nookWith(t, runOpts{dir: work, env: append(os.Environ(), k.env...)}, args...)
			judgeUndo(t, k, r)
			victim.check(t, k.name)
		})
	}

	// Session commands, in a chroot the attacker controls.
	t.Run("session", func(t *testing.T) {
		if isRoot() {
			t.Skip("SKIP (by design): real root's sessions use the host's ids and no user namespace; root inside is root, as with schroot")
		}
		s := newStore(t, base)
		id, r := hostileChroot(t, s, "plain", nil, false)
		if id == "" {
			t.Fatalf("session begin: %s", r)
		}
		// As root inside (session run's default, which keeps its capabilities)
		// and as a build user (who has none).
		for _, who := range [][]string{nil, {"-u", "1000"}} {
			args := append(append([]string{"session", "run", id}, who...), "--", "/attack", "-attack-helper", "undo", "proc")
			r := nookWith(t, runOpts{env: s.env}, args...)
			judgeUndo(t, undoKind{name: "session " + strings.Join(who, " "), caps: who == nil}, r)
		}
	})
}

func judgeUndo(t *testing.T, k undoKind, r result) {
	t.Helper()
	noHarm(t, k.name, r)
	if k.caps && !strings.Contains(r.out, "own mount ok") {
		t.Errorf("%s: the command cannot mount for itself any more: %s", k.name, r)
	}
}

// hasSubIDs: this user can have a subordinate-id sandbox (CI says so for
// nook-ci-sub; root always can).
func hasSubIDs(t *testing.T) bool {
	if isRoot() || os.Getenv("NOOK_TEST_EXPECT_SUBIDS") == "1" {
		return true
	}
	r := nook(t, "run", "--identity", "subids-root", "--", "true")
	return r.code == 0
}

// TestNestedSandboxStillWorks: what mkosi keeps capabilities for still
// works inside a locked sandbox: a nook run inside nook run (default
// layout, twice nested, and with subordinate ids outside where there are),
// and a tmpfs mounted by the command over a directory nook bound
// read-only.
func TestNestedSandboxStillWorks(t *testing.T) {
	base := tempDir(t)
	for _, p := range []string{base, nookBin} {
		if p == "/tmp" || strings.HasPrefix(p, "/tmp/") {
			t.Fatalf("%s is under /tmp, which the default layout hides: run with TMPDIR and nook elsewhere (test/all.sh uses /var/tmp)", p)
		}
	}
	outer := append([]string{"run"}, userns()...)
	inner := nookBin + " run -- " + nookBin + " run -- sh -c 'mkdir -p /tmp/m && mount -t tmpfs x /tmp/m && touch /tmp/m/f && echo nested ok'"
	variants := map[string][]string{"self": nil, "become-root": {"--become-root"}}
	if hasSubIDs(t) {
		variants["subids-root"] = []string{"--identity", "subids-root"}
	}
	for name, extra := range variants {
		t.Run(name, func(t *testing.T) {
			args := append(append(append([]string{}, outer...), extra...), "--", "sh", "-c", inner)
			r := nookWith(t, runOpts{dir: base}, args...)
			if r.code != 0 || !strings.Contains(r.out, "nested ok") {
				t.Errorf("nook run inside nook run inside nook run: %s", r)
			}
			// The command mounts over a read-only bind of nook's (its own
			// mount, in its own namespace) and unmounts it again.
			r = nookWith(t, runOpts{dir: base}, append(append(append([]string{}, outer...), extra...), "--ro-bind", base, base, "--",
				"sh", "-c", "mount -t tmpfs x "+base+" && touch "+base+"/f && umount "+base+" && echo own ok")...)
			if r.code != 0 || !strings.Contains(r.out, "own ok") {
				t.Errorf("a tmpfs of the command's over a read-only bind: %s", r)
			}
			if _, err := os.Stat(filepath.Join(base, "f")); err == nil {
				t.Errorf("the command's tmpfs wrote to the host directory below it")
			}
		})
	}
}

// unpackFlag is session.UnpackFlag: how nook calls its unpack helper.
const unpackFlag = "--nook-unpack=1"

// hostileUnpackHelper is this binary standing in for nook-unpack: it
// tries to undo the helper sandbox and to write the victim beside itself.
func hostileUnpackHelper() {
	// nook reads the helper's stdout as its protocol; stderr is what it
	// shows of a failed helper.
	os.Stdout = os.Stderr
	exe, err := os.Executable()
	if err != nil {
		fmt.Println("executable:", err)
		return
	}
	helperUndo([]string{"write:" + filepath.Join(filepath.Dir(exe), "victim", "victim"), "proc"})
}

// TestHelpersLocked: nook's own helpers run in a sandbox that holds
// against them too. nook-unpack, named by NOOK_UNPACK, is replaced by a
// hostile one (this binary): while unpacking a chroot for session begin
// it cannot remount, unmount or move any mount of its sandbox, nor write
// the victim directory under the read-only host root.
func TestHelpersLocked(t *testing.T) {
	needStaticSelf(t)
	if isRoot() {
		// Real root's sessions use the host's ids without a user
		// namespace, their helpers too (Go code: the decompressors are
		// Go libraries, not C); running root's helpers in a user
		// namespace of their own is issue 16's open remainder.
		t.Skip("SKIP (root): real root's session helpers run as the host's root, without a user namespace to lock")
	}
	base := tempDir(t)
	helperDir := filepath.Join(base, "helper")
	victim := newVictim(t, helperDir)
	helperBin := filepath.Join(helperDir, "nook-unpack")
	copyFile(t, selfBin, helperBin, 0o755)
	s := newStore(t, base)
	tarball := filepath.Join(base, "c.tar.gz")
	writeTar(t, tarball, chrootEntries(t))
	// chroot add reads the tarball through the helper too (a check that
	// it is whole): with the hostile one it may fail, never harm.
	withHelper := append(append([]string(nil), s.env...), "NOOK_UNPACK="+helperBin)
	r := nookWith(t, runOpts{env: withHelper}, "chroot", "add", "hostile", tarball)
	noHarm(t, "hostile unpack helper checking the tarball", result{out: r.out + r.err, code: r.code})
	victim.check(t, "the unpack helper's check at chroot add")
	s.must("chroot", "add", "c", tarball)
	s.env = withHelper
	r = s.nook("session", "begin", "c")
	all := result{out: r.out + r.err, code: r.code}
	noHarm(t, "hostile unpack helper", all)
	if r.code == 0 {
		t.Errorf("a session was begun although the helper unpacked nothing: %s", r)
	}
	victim.check(t, "the unpack helper")
}

// TestSchrootFaceLocked: nook as schroot, with a profile whose fstab binds
// a host directory read-only into the chroot: a command run as root inside
// (-u root) and as the caller cannot undo any mount (the bind,ro included)
// nor write the host directory.
func TestSchrootFaceLocked(t *testing.T) {
	needStaticSelf(t)
	if isRoot() {
		t.Skip("SKIP (by design): real root's schroot sessions use the host's ids and no user namespace; root inside is root, as with schroot")
	}
	base := tempDir(t)
	victim := newVictim(t, filepath.Join(base, "shared"))
	tarball := filepath.Join(base, "c.tar.gz")
	writeTar(t, tarball, chrootEntries(t))
	etc := filepath.Join(base, "etc")
	must(t, os.MkdirAll(filepath.Join(etc, "chroot.d"), 0o755))
	must(t, os.MkdirAll(filepath.Join(etc, "prof"), 0o755))
	must(t, os.WriteFile(filepath.Join(etc, "prof", "fstab"), []byte(
		"/proc /proc none rw,bind 0 0\n"+victim.dir+" /victim none bind,ro 0 0\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(etc, "chroot.d", "c"), []byte(fmt.Sprintf(
		"[c]\ntype=file\nfile=%s\nprofile=prof\nroot-users=%s\n", tarball, currentUser(t))), 0o644))
	home := filepath.Join(base, "home")
	must(t, os.MkdirAll(home, 0o700))
	bin := filepath.Join(base, "bin", "schroot")
	must(t, os.MkdirAll(filepath.Dir(bin), 0o755))
	must(t, os.Symlink(nookBin, bin))
	env := append(os.Environ(), "NOOK_SCHROOT_ETC="+etc, "NOOK_SCHROOT_HOME="+home)
	for _, who := range [][]string{{"-u", "root"}, nil} {
		args := append(append([]string{"-c", "c", "-d", "/"}, who...), "--", "/attack", "-attack-helper", "undo", "write:/victim", "proc")
		r := nookWith(t, runOpts{env: env, bin: bin}, args...)
		judgeUndo(t, undoKind{name: "schroot " + strings.Join(who, " "), caps: who != nil}, r)
		victim.check(t, "schroot "+strings.Join(who, " "))
	}
}

func currentUser(t *testing.T) string {
	t.Helper()
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	return u.Username
}
