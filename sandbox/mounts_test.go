package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func u32(v uint32) *uint32 { return &v }

// hostDir makes a directory the test users can read (t.TempDir may sit in a
// directory only the caller can enter, which is fine: the sandbox runs as
// the caller).
func hostDir(t *testing.T, files map[string]string) string {
	t.Helper()
	d := t.TempDir()
	for name, content := range files {
		p := filepath.Join(d, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if strings.HasPrefix(content, "->") {
			if err := os.Symlink(strings.TrimPrefix(content, "->"), p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if content == "/" {
			os.MkdirAll(p, 0o755)
			continue
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func TestBinds(t *testing.T) {
	src := hostDir(t, map[string]string{"a.txt": "hello", "sub/b.txt": "b"})
	s := baseSpec()
	s.Mounts = append(s.Mounts,
		Mount{Op: OpBind, Source: src, Dest: "/srv/rw"},
		Mount{Op: OpBind, Source: src, Dest: "/srv/ro", ReadOnly: true},
		Mount{Op: OpBind, Source: filepath.Join(src, "a.txt"), Dest: "/srv/file", ReadOnly: true},
		Mount{Op: OpBind, Source: "/nonexistent-nook-src", Dest: "/srv/try", Try: true},
		Mount{Op: OpDevBind, Source: "/dev/null", Dest: "/srv/null"},
	)
	r, _ := runReport(t, s, reportOpts{
		do:   []string{"write:/srv/rw/new.txt", "write:/srv/ro/new2.txt", "read:/srv/null"},
		stat: []string{"/srv/rw/a.txt", "/srv/ro/sub/b.txt", "/srv/file", "/srv/try", "/srv/null"},
	})
	if f := r.Files["/srv/rw/a.txt"]; f == nil || f.Content != "hello" {
		t.Errorf("bind content: %+v", f)
	}
	if f := r.Files["/srv/ro/sub/b.txt"]; f == nil || f.Content != "b" {
		t.Errorf("ro-bind content: %+v", f)
	}
	if f := r.Files["/srv/file"]; f == nil || f.Type != "file" || f.Content != "hello" {
		t.Errorf("file bind: %+v", f)
	}
	if r.Files["/srv/try"] != nil {
		t.Errorf("bind-try of a missing source made %+v", r.Files["/srv/try"])
	}
	if r.Do["write:/srv/rw/new.txt"] != "ok" {
		t.Errorf("write to rw bind: %s", r.Do["write:/srv/rw/new.txt"])
	}
	if b, err := os.ReadFile(filepath.Join(src, "new.txt")); err != nil || string(b) != "written inside\n" {
		t.Errorf("write through rw bind did not reach the host: %v", err)
	}
	if !strings.Contains(r.Do["write:/srv/ro/new2.txt"], "read-only") {
		t.Errorf("write to ro bind: %s", r.Do["write:/srv/ro/new2.txt"])
	}
	if r.Do["read:/srv/null"] != "ok" || r.Files["/srv/null"].Type != "char" {
		t.Errorf("dev-bind of /dev/null: %s %+v", r.Do["read:/srv/null"], r.Files["/srv/null"])
	}
	if m := r.mount("/srv/ro"); m == nil || !strings.Contains(m.Opts, "ro") {
		t.Errorf("mount of /srv/ro: %+v", m)
	}
	if _, err := os.Stat(filepath.Join(src, "new2.txt")); err == nil {
		t.Errorf("write through ro bind reached the host")
	}
}

func TestBindMissingSourceFails(t *testing.T) {
	s := baseSpec()
	s.Mounts = append(s.Mounts, Mount{Op: OpBind, Source: "/nonexistent-nook-src", Dest: "/x"})
	_, _, err := tryReport(t, s, reportOpts{})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent-nook-src") {
		t.Errorf("err = %v, want an error naming the source", err)
	}
}

func TestTmpfsDirSymlinkWrite(t *testing.T) {
	s := baseSpec()
	s.Mounts = append(s.Mounts,
		Mount{Op: OpTmpfs, Dest: "/scratch", Mode: u32(0o700), Size: 1 << 20},
		Mount{Op: OpDir, Dest: "/scratch/a/b/c"},
		Mount{Op: OpDir, Dest: "/scratch/perm", Mode: u32(0o750)},
		Mount{Op: OpDir, Dest: "/scratch/x/tmp"},
		Mount{Op: OpSymlink, Source: "a/b", Dest: "/scratch/link"},
		Mount{Op: OpSymlink, Source: "a/b", Dest: "/scratch/link"}, // idempotent
		Mount{Op: OpWrite, Dest: "/scratch/w.txt", Data: []byte("data\n"), Mode: u32(0o600)},
		Mount{Op: OpWrite, Dest: "/etc/nook-written", Data: []byte("over ro\n")},
		Mount{Op: OpChmod, Dest: "/scratch/a", Mode: u32(0o711)},
	)
	r, _ := runReport(t, s, reportOpts{stat: []string{"/scratch", "/scratch/a", "/scratch/a/b", "/scratch/a/b/c",
		"/scratch/perm", "/scratch/x/tmp", "/scratch/link", "/scratch/w.txt", "/etc/nook-written"}})
	m := r.mount("/scratch")
	if m == nil || m.FSType != "tmpfs" || !strings.Contains(m.Opts, "nodev") {
		t.Fatalf("tmpfs mount: %+v", m)
	}
	want := map[string]fileFact{
		"/scratch":          {Type: "dir", Mode: 0o700},
		"/scratch/a":        {Type: "dir", Mode: 0o711},
		"/scratch/a/b":      {Type: "dir", Mode: 0o755},
		"/scratch/a/b/c":    {Type: "dir", Mode: 0o755},
		"/scratch/perm":     {Type: "dir", Mode: 0o750},
		"/scratch/x/tmp":    {Type: "dir", Mode: 0o1777},
		"/scratch/link":     {Type: "symlink", Mode: 0o777, Target: "a/b"},
		"/scratch/w.txt":    {Type: "file", Mode: 0o600, Content: "data\n"},
		"/etc/nook-written": {Type: "file", Mode: 0o644, Content: "over ro\n"},
	}
	for p, w := range want {
		got := r.Files[p]
		if got == nil || got.Type != w.Type || got.Mode != w.Mode || got.Target != w.Target || got.Content != w.Content {
			t.Errorf("%s = %+v, want %+v", p, got, w)
		}
	}
	if _, err := os.Stat("/etc/nook-written"); err == nil {
		t.Errorf("--write over a read-only host directory created a host file")
	}
}

func TestTmpfsSize(t *testing.T) {
	s := baseSpec()
	s.Mounts = append(s.Mounts, Mount{Op: OpTmpfs, Dest: "/small", Size: 64 << 10})
	s.Args = []string{"/bin/sh", "-c", "head -c 200000 /dev/zero > /small/f"}
	st, err := Run(withExe(t, s))
	if err != nil {
		t.Fatal(err)
	}
	if st.ExitCode() == 0 {
		t.Errorf("writing 200 kB into a 64 kB tmpfs succeeded")
	}
}

// withExe is for specs that run a host command instead of the reporter.
func withExe(t *testing.T, s *Spec) *Spec {
	s.Env = append(s.Env, "PATH=/usr/bin:/bin")
	return s
}

func TestDev(t *testing.T) {
	r, _ := runReport(t, baseSpec(), reportOpts{do: []string{"read:/dev/urandom", "write:/dev/null"},
		stat: []string{"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty",
			"/dev/ptmx", "/dev/pts", "/dev/pts/ptmx", "/dev/shm", "/dev/fd", "/dev/stdin", "/dev/stdout", "/dev/stderr"}})
	for _, n := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
		if f := r.Files["/dev/"+n]; f == nil || f.Type != "char" {
			t.Errorf("/dev/%s = %+v", n, f)
		}
	}
	if f := r.Files["/dev/ptmx"]; f == nil || f.Target != "pts/ptmx" {
		t.Errorf("/dev/ptmx = %+v", f)
	}
	if f := r.Files["/dev/shm"]; f == nil || f.Mode != 0o1777 {
		t.Errorf("/dev/shm = %+v", f)
	}
	if f := r.Files["/dev/fd"]; f == nil || f.Target != "/proc/self/fd" {
		t.Errorf("/dev/fd = %+v", f)
	}
	if f := r.Files["/dev/stderr"]; f == nil || f.Target != "/proc/self/fd/2" {
		t.Errorf("/dev/stderr = %+v", f)
	}
	if m := r.mount("/dev/pts"); m == nil || m.FSType != "devpts" {
		t.Errorf("/dev/pts mount = %+v", m)
	}
	if r.Do["read:/dev/urandom"] != "ok" || r.Do["write:/dev/null"] != "ok" {
		t.Errorf("device use: %v", r.Do)
	}
}

func TestMqueueAndRemountRO(t *testing.T) {
	s := baseSpec()
	s.Namespaces.IPC = true
	s.Mounts = append(s.Mounts,
		Mount{Op: OpMqueue, Dest: "/dev/mqueue"},
		Mount{Op: OpTmpfs, Dest: "/frozen"},
		Mount{Op: OpDir, Dest: "/frozen/inside"},
		Mount{Op: OpRemountRO, Dest: "/frozen"},
	)
	r, _ := runReport(t, s, reportOpts{do: []string{"write:/frozen/x"}, stat: []string{"/frozen/inside"}})
	if m := r.mount("/dev/mqueue"); m == nil || m.FSType != "mqueue" {
		t.Errorf("mqueue mount = %+v", m)
	}
	if r.Files["/frozen/inside"] == nil {
		t.Errorf("directory made before remount-ro is missing")
	}
	if !strings.Contains(r.Do["write:/frozen/x"], "read-only") {
		t.Errorf("write after remount-ro: %s", r.Do["write:/frozen/x"])
	}
}

func TestProcNeedsPIDNamespace(t *testing.T) {
	if isRoot() {
		t.Skip("real root may mount the host's procfs; the unprivileged runs check the message")
	}
	s := baseSpec()
	s.Namespaces.PID = false
	_, _, err := tryReport(t, s, reportOpts{})
	if err == nil || !strings.Contains(err.Error(), "--unshare-pid") {
		t.Errorf("err = %v, want advice to add --unshare-pid", err)
	}
}

func TestOverlay(t *testing.T) {
	lower1 := hostDir(t, map[string]string{"l1.txt": "1", "both.txt": "from lower1"})
	lower2 := hostDir(t, map[string]string{"l2.txt": "2", "both.txt": "from lower2"})
	rw := hostDir(t, map[string]string{"upper/": "/", "work/": "/"})
	upper, work := filepath.Join(rw, "upper"), filepath.Join(rw, "work")
	s := baseSpec()
	s.Mounts = append(s.Mounts,
		Mount{Op: OpOverlay, Lower: []string{lower2, lower1}, Upper: upper, Work: work, Dest: "/ovl/host"},
		Mount{Op: OpOverlay, Lower: []string{lower1}, TmpfsUpper: true, Dest: "/ovl/tmp"},
		Mount{Op: OpOverlay, Lower: []string{lower2, lower1}, Dest: "/ovl/ro"},
	)
	r, _ := runReport(t, s, reportOpts{
		do:   []string{"write:/ovl/host/new.txt", "write:/ovl/tmp/new.txt", "write:/ovl/ro/new.txt"},
		stat: []string{"/ovl/host/both.txt", "/ovl/host/l1.txt", "/ovl/host/l2.txt", "/ovl/ro/both.txt", "/ovl/tmp/l1.txt"},
	})
	if f := r.Files["/ovl/host/both.txt"]; f == nil || f.Content != "from lower2" {
		t.Errorf("uppermost lower must win: %+v", f)
	}
	for _, p := range []string{"/ovl/host/l1.txt", "/ovl/host/l2.txt", "/ovl/tmp/l1.txt", "/ovl/ro/both.txt"} {
		if r.Files[p] == nil {
			t.Errorf("%s missing", p)
		}
	}
	if r.Do["write:/ovl/host/new.txt"] != "ok" || r.Do["write:/ovl/tmp/new.txt"] != "ok" {
		t.Errorf("writes to overlays: %v", r.Do)
	}
	if r.Do["write:/ovl/ro/new.txt"] == "ok" {
		t.Errorf("write to a read-only overlay succeeded")
	}
	if _, err := os.Stat(filepath.Join(upper, "new.txt")); err != nil {
		t.Errorf("write did not land in the host upper dir: %v", err)
	}
	if _, err := os.Stat(filepath.Join(lower1, "new.txt")); err == nil {
		t.Errorf("write reached a lower dir")
	}
}

// TestVolatileOverlay: a volatile overlay is mounted so (no sync of the
// upper filesystem at its unmount), leaves overlayfs's mark in its work
// directory, and mounts again over that mark only with ClearVolatileMark,
// which keeps what the upper holds.
func TestVolatileOverlay(t *testing.T) {
	lower := hostDir(t, map[string]string{"l.txt": "lower"})
	rw := hostDir(t, map[string]string{"upper/": "/", "work/": "/"})
	upper, work := filepath.Join(rw, "upper"), filepath.Join(rw, "work")
	spec := func(volatile, clear bool) *Spec {
		s := baseSpec()
		s.Mounts = append(s.Mounts, Mount{Op: OpOverlay, Lower: []string{lower}, Upper: upper, Work: work, Dest: "/ovl",
			Volatile: volatile, ClearVolatileMark: clear})
		return s
	}
	// Linux 6.x shows the option as fsync=volatile, 5.10 as volatile.
	isVolatile := func(m *mountFact) bool {
		o := "," + m.SuperOpts + ","
		return strings.Contains(o, ",volatile,") || strings.Contains(o, ",fsync=volatile,")
	}
	r, _ := runReport(t, spec(true, true), reportOpts{do: []string{"write:/ovl/one.txt"}})
	if m := r.mount("/ovl"); m == nil || !isVolatile(m) {
		t.Fatalf("the overlay is not volatile: %+v", m)
	}
	if r.Do["write:/ovl/one.txt"] != "ok" {
		t.Fatalf("write through the volatile overlay: %v", r.Do)
	}
	if _, _, err := tryReport(t, spec(true, false), reportOpts{}); err == nil {
		t.Errorf("a second volatile mount over the mark succeeded without ClearVolatileMark; " +
			"overlayfs refuses it (is the mark still made where clearVolatileMark looks?)")
	}
	// A mark half gone (a crash between its two removals): an empty
	// incompat directory, which overlayfs cleans up itself.
	inner := filepath.Join(work, "work")
	if err := os.Chmod(inner, 0o700); err != nil {
		t.Fatalf("the work directory's inner directory: %v", err)
	}
	os.Chmod(filepath.Join(inner, "incompat"), 0o700)
	os.Chmod(filepath.Join(inner, "incompat", "volatile"), 0o700)
	if err := os.RemoveAll(filepath.Join(inner, "incompat", "volatile")); err != nil {
		t.Fatalf("remove the mark by hand: %v", err)
	}
	os.Chmod(filepath.Join(inner, "incompat"), 0)
	os.Chmod(inner, 0)
	if _, _, err := tryReport(t, spec(true, true), reportOpts{}); err != nil {
		t.Errorf("a volatile mount over an empty incompat directory: %v", err)
	}
	// Cleared: volatile again, then a plain overlay (a --sync command).
	for _, volatile := range []bool{true, false} {
		r, _ = runReport(t, spec(volatile, true), reportOpts{stat: []string{"/ovl/one.txt", "/ovl/l.txt"}})
		if r.Files["/ovl/one.txt"] == nil || r.Files["/ovl/l.txt"] == nil {
			t.Errorf("volatile %v after the mark was cleared: the upper's or the lower's file is missing", volatile)
		}
		if m := r.mount("/ovl"); m == nil || isVolatile(m) != volatile {
			t.Errorf("volatile %v: the mount has %+v", volatile, m)
		}
	}
	if err := (&Spec{Mounts: []Mount{{Op: OpOverlay, Lower: []string{lower}, TmpfsUpper: true, Dest: "/x", Volatile: true}}}).Validate(); err == nil {
		t.Error("a volatile overlay without a host upper passed Validate")
	}
}

func TestMountPointUnderReadOnlyBind(t *testing.T) {
	name := "nook-test-mountpoint-" + filepath.Base(t.TempDir())
	s := baseSpec()
	s.Mounts = append(s.Mounts,
		Mount{Op: OpTmpfs, Dest: "/" + name},
		Mount{Op: OpDir, Dest: "/usr/share/" + name + "/deep"},
		Mount{Op: OpSymlink, Source: "/etc", Dest: "/" + name + "-link"},
	)
	r, _ := runReport(t, s, reportOpts{do: []string{"write:/usr/x-" + name},
		stat: []string{"/" + name, "/usr/share/" + name + "/deep", "/" + name + "-link", "/usr/bin", "/etc/passwd"}})
	if m := r.mount("/" + name); m == nil || m.FSType != "tmpfs" {
		t.Errorf("tmpfs under the read-only root: %+v", m)
	}
	if r.Files["/usr/share/"+name+"/deep"] == nil || r.Files["/"+name+"-link"] == nil {
		t.Errorf("dir or symlink under read-only binds missing")
	}
	if r.Files["/usr/bin"] == nil || r.Files["/etc/passwd"] == nil {
		t.Errorf("host files hidden by making the mount point")
	}
	if r.Do["write:/usr/x-"+name] == "ok" {
		t.Errorf("the read-only root became writable")
	}
	for _, p := range []string{"/" + name, "/usr/share/" + name, "/" + name + "-link"} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("host path %s was created", p)
		}
	}
}

// TestSymlinkedDestinationsStayInside plants symlinks in a "chroot" that
// point at host paths; every operation must land inside the new root.
func TestSymlinkedDestinationsStayInside(t *testing.T) {
	for _, follow := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "follow-dest"}[follow], func(t *testing.T) {
			symlinkedDestinations(t, follow)
		})
	}
}

// symlinkedDestinations is TestSymlinkedDestinationsStayInside, with
// Mount.FollowDest on every operation but the symlinks where follow is
// set: links are then followed to their last component, still inside the
// new root.
func symlinkedDestinations(t *testing.T, follow bool) {
	victim := t.TempDir()
	root := hostDir(t, map[string]string{
		"abs":         "->" + victim,
		"rel":         "->../../../../../../../../" + victim,
		"etc/":        "/",
		"etc/passwd2": "->" + filepath.Join(victim, "passwd"),
	})
	s := &Spec{SortMounts: true, Namespaces: Namespaces{PID: true}}
	s.Mounts = []Mount{
		{Op: OpBind, Source: root, Dest: "/"},
		{Op: OpBind, Source: "/usr", Dest: "/usr", ReadOnly: true},
		{Op: OpSymlink, Source: "usr/bin", Dest: "/bin"},
		{Op: OpSymlink, Source: "usr/lib", Dest: "/lib"},
		{Op: OpSymlink, Source: "usr/lib64", Dest: "/lib64"},
		{Op: OpProc, Dest: "/proc"},
		{Op: OpTmpfs, Dest: "/abs/tmpfs"},
		{Op: OpDir, Dest: "/rel/dir"},
		{Op: OpWrite, Dest: "/abs/written", Data: []byte("x")},
		{Op: OpSymlink, Source: "x", Dest: "/rel/link"},
		{Op: OpBind, Source: "/etc/hostname", Dest: "/abs/bound"},
		{Op: OpWrite, Dest: "/etc/passwd2", Data: []byte("x")},
		{Op: OpOverlay, Lower: []string{"/usr/share"}, TmpfsUpper: true, Dest: "/rel/ovl"},
		{Op: OpChmod, Dest: "/abs", Mode: u32(0o700)},
	}
	if follow {
		s.SortMounts = false
		for i := range s.Mounts {
			if s.Mounts[i].Op != OpSymlink && s.Mounts[i].Dest != "/" {
				s.Mounts[i].FollowDest = true
			}
		}
		// At the links themselves, too.
		s.Mounts = append(s.Mounts,
			Mount{Op: OpDir, Dest: "/abs", FollowDest: true},
			Mount{Op: OpTmpfs, Dest: "/rel", FollowDest: true},
			Mount{Op: OpChmod, Dest: "/abs", Mode: u32(0o700), FollowDest: true},
			// Last: onto the directory the others made, it is refused.
			Mount{Op: OpWrite, Dest: "/rel", Data: []byte("x"), FollowDest: true})
	}
	r, _, err := tryReport(t, s, reportOpts{})
	if err != nil {
		t.Logf("setup refused: %v", err)
	} else if r == nil {
		t.Fatal("no report")
	}
	ents, _ := os.ReadDir(victim)
	if len(ents) != 0 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("operations escaped onto the host directory: %v", names)
	}
	if st, _ := os.Stat(victim); st.Mode().Perm() == 0o700 {
		t.Errorf("chmod followed a symlink onto the host")
	}
	// The symlinks in the chroot itself are untouched on the host.
	if l, _ := os.Readlink(filepath.Join(root, "abs")); l != victim {
		t.Errorf("chroot symlink changed: %q", l)
	}
}

func TestNoPivotRootFallback(t *testing.T) {
	s := noPivotRootSpec()
	r, _ := runReport(t, s, reportOpts{do: []string{"write:/tmp/ok"}, stat: []string{"/etc/passwd"}})
	if r.Files["/etc/passwd"] == nil || r.Do["write:/tmp/ok"] != "ok" {
		t.Errorf("MS_MOVE fallback sandbox is not usable: %+v", r.Do)
	}
	if m := r.mount("/tmp"); m == nil || m.FSType != "tmpfs" {
		t.Errorf("/tmp = %+v", m)
	}
}

func TestSortedOrderIndependence(t *testing.T) {
	src := hostDir(t, map[string]string{"f": "x"})
	ops := []Mount{
		{Op: OpBind, Source: src, Dest: "/tmp/deep/bound", ReadOnly: true},
		{Op: OpDir, Dest: "/tmp/deep"},
		{Op: OpTmpfs, Dest: "/tmp"},
		{Op: OpProc, Dest: "/proc"},
		{Op: OpDev, Dest: "/dev"},
		{Op: OpBind, Source: "/", Dest: "/", ReadOnly: true},
	}
	s := &Spec{SortMounts: true, Namespaces: Namespaces{PID: true}, Mounts: ops}
	r, _ := runReport(t, s, reportOpts{stat: []string{"/tmp/deep/bound/f"}})
	if f := r.Files["/tmp/deep/bound/f"]; f == nil || f.Content != "x" {
		t.Errorf("reverse-ordered options: %+v", f)
	}
}

// TestChmodRefusesSymlinksAndDevices: a chroot's symlink must not let a
// chmod reach a host inode that is bound into the root.
func TestChmodRefusesSymlinksAndDevices(t *testing.T) {
	secret := hostDir(t, map[string]string{"secret": "s"})
	os.Chmod(filepath.Join(secret, "secret"), 0o600)
	for _, c := range []struct{ dest string }{{"/tmp/link"}, {"/dev/null"}} {
		s := baseSpec()
		s.Mounts = append(s.Mounts,
			Mount{Op: OpBind, Source: secret, Dest: "/data"},
			Mount{Op: OpSymlink, Source: "/data/secret", Dest: "/tmp/link"},
			Mount{Op: OpChmod, Dest: c.dest, Mode: u32(0o666)},
		)
		_, _, err := tryReport(t, s, reportOpts{})
		if err == nil {
			t.Errorf("chmod %s was accepted", c.dest)
		}
	}
	if st, _ := os.Stat(filepath.Join(secret, "secret")); st.Mode().Perm() != 0o600 {
		t.Errorf("host file mode changed to %o", st.Mode().Perm())
	}
}

// TestFallbackDropsChrootEscapes: after MS_MOVE + chroot the command must
// not keep what would let it climb back to the old tree.
func TestFallbackDropsChrootEscapes(t *testing.T) {
	s := noPivotRootSpec()
	r, _ := runReport(t, s, reportOpts{do: []string{"mount-tmpfs:/tmp/m"}})
	if r.Do["mount-tmpfs:/tmp/m"] == "ok" {
		t.Errorf("mount still possible after the MS_MOVE fallback")
	}
	// The capabilities taken from the command stay with pid 1 (until it
	// drops them on every thread): a command that may trace pid 1 must
	// not get them back from there. In a build with cgo pid 1 cannot
	// reach its other threads, and fails closed.
	s = baseSpec()
	s.NoPivotRoot = true
	r, st, err := tryReport(t, s, reportOpts{do: []string{"pid1threads:1"}})
	var se *StartError
	switch {
	case !allThreadsSyscall():
		if !errors.As(err, &se) || se.Code != ExitSetupFailed || !strings.Contains(se.Msg, "built with cgo") {
			t.Errorf("cgo build: a command keeping CAP_SYS_PTRACE beside a pid 1 that keeps CAP_SYS_ADMIN on its other threads: %v, status %+v, want refused", err, st)
		}
	case err != nil:
		t.Fatal(err)
	case r.Do["pid1threads:1"] != "ok":
		t.Errorf("pid 1 under a MS_MOVE root: %s", r.Do["pid1threads:1"])
	}
}

// TestWriteNeverThroughHostFiles: --write and --file into a directory nook
// made write in place, but never through what stands at the name: a host
// file bound there, or a symlink to a host file. Those get a staged copy
// bound over them instead.
func TestWriteNeverThroughHostFiles(t *testing.T) {
	dir := hostDir(t, map[string]string{"bound": "host\n", "rw/f": "host\n"})
	src, err := os.CreateTemp(t.TempDir(), "src")
	if err != nil {
		t.Fatal(err)
	}
	src.WriteString("from fd\n")
	src.Seek(0, 0)
	defer src.Close()
	s := baseSpec()
	// In the order given: the sorted plan would run the writes first and
	// the binds over them.
	s.SortMounts = false
	s.Mounts = append(s.Mounts,
		Mount{Op: OpTmpfs, Dest: "/tmp/scratch"},
		Mount{Op: OpBind, Source: filepath.Join(dir, "bound"), Dest: "/tmp/scratch/bound"},
		Mount{Op: OpBind, Source: filepath.Join(dir, "rw"), Dest: "/tmp/scratch/rw"},
		Mount{Op: OpSymlink, Source: "/tmp/scratch/rw/f", Dest: "/tmp/scratch/l"},
		Mount{Op: OpWrite, Dest: "/tmp/scratch/bound", Data: []byte("new\n")},
		Mount{Op: OpWrite, Dest: "/tmp/scratch/l", Data: []byte("new2\n")},
		Mount{Op: OpWrite, Dest: "/tmp/scratch/plain", Data: []byte("plain\n"), Mode: u32(0o600)},
		Mount{Op: OpFile, Dest: "/tmp/scratch/fromfd", FD: int(src.Fd())},
	)
	r, st := runReport(t, s, reportOpts{stat: []string{"/tmp/scratch/bound", "/tmp/scratch/rw/f", "/tmp/scratch/plain", "/tmp/scratch/fromfd"}})
	if st.ExitCode() != 0 {
		t.Fatalf("status %+v", st)
	}
	for p, want := range map[string]string{"/tmp/scratch/bound": "new\n", "/tmp/scratch/rw/f": "new2\n", "/tmp/scratch/plain": "plain\n", "/tmp/scratch/fromfd": "from fd\n"} {
		if f := r.Files[p]; f == nil || f.Content != want {
			t.Errorf("%s inside = %+v, want %q", p, f, want)
		}
	}
	if f := r.Files["/tmp/scratch/plain"]; f != nil && f.Mode != 0o600 {
		t.Errorf("/tmp/scratch/plain mode %o, want 600", f.Mode)
	}
	for _, name := range []string{"bound", "rw/f"} {
		if b, _ := os.ReadFile(filepath.Join(dir, name)); string(b) != "host\n" {
			t.Errorf("host file %s now holds %q: written through", name, b)
		}
	}
	if m := r.mount("/tmp/scratch/plain"); m != nil {
		t.Errorf("/tmp/scratch/plain is a mount (%+v), want a plain file on the tmpfs", m)
	}
}

// TestRemountROCoversSplices: --bind / / --dir /newdir --remount-ro / must
// leave nothing of the host writable. An unprivileged caller cannot create
// /newdir in the host's /, so nook splices / (a tmpfs copy whose entries are
// binds of the host's); the non-recursive remount of / must cover those
// binds too, or the host's /tmp would stay writable under a "read-only" /.
func TestRemountROCoversSplices(t *testing.T) {
	if isRoot() {
		t.Skip("root can create /newdir in the host's / (no splice): the unprivileged runs cover this")
	}
	probe := filepath.Join("/var/tmp", fmt.Sprintf("nook-splice-probe-%d", os.Getpid()))
	defer os.Remove(probe)
	s := baseSpec()
	s.SortMounts = false
	s.Mounts = []Mount{
		{Op: OpBind, Source: "/", Dest: "/"},
		{Op: OpDir, Dest: "/nook-splice-newdir"},
		{Op: OpProc, Dest: "/proc"},
		{Op: OpRemountRO, Dest: "/"},
	}
	r, st := runReport(t, s, reportOpts{do: []string{"write:" + probe, "mkdir:/nook-splice-other"}, stat: []string{"/nook-splice-newdir"}})
	if st.ExitCode() != 0 {
		t.Fatalf("status %+v", st)
	}
	if f := r.Files["/nook-splice-newdir"]; f == nil || f.Type != "dir" {
		t.Errorf("/nook-splice-newdir inside = %+v, want a directory", f)
	}
	if r.Do["write:"+probe] == "ok" {
		t.Errorf("wrote %s on the host through a spliced entry of a read-only /", probe)
	}
	if r.Do["mkdir:/nook-splice-other"] == "ok" {
		t.Errorf("created a directory in the spliced / after --remount-ro /")
	}
	if _, err := os.Stat(probe); err == nil {
		t.Errorf("%s exists on the host", probe)
	}
	if _, err := os.Stat("/nook-splice-newdir"); err == nil {
		t.Errorf("/nook-splice-newdir was created on the host")
	}
}

// TestOverlayOptionsFallBack: the order in which the Go engine drops
// overlayfs options for an older kernel (this machine's kernel has them
// all, so the order is checked here): a kernel before 6.5 refuses each
// unknown option with EINVAL at create, so a 6.1 kernel, which knows
// userxattr and volatile but not lowerdir+, must get the next try without
// lowerdir+ and with the rest.
func TestOverlayOptionsFallBack(t *testing.T) {
	all := ovlOptions{plus: true, userxattr: true, volatile: true}
	var seq []ovlOptions
	for o, ok := all, true; ok; o, ok = o.without(unix.EINVAL) {
		seq = append(seq, o)
	}
	want := []ovlOptions{all, {userxattr: true, volatile: true}, {volatile: true}, {}}
	if !reflect.DeepEqual(seq, want) {
		t.Errorf("after EINVALs: %+v, want %+v", seq, want)
	}
	// Another error (a filesystem without user xattrs, say) drops only
	// userxattr, then ends the tries.
	o, ok := all.without(unix.EOPNOTSUPP)
	if !ok || o != (ovlOptions{plus: true, volatile: true}) {
		t.Errorf("after EOPNOTSUPP: %+v, %v", o, ok)
	}
	if _, ok := o.without(unix.EOPNOTSUPP); ok {
		t.Error("a second EOPNOTSUPP was retried")
	}
	if _, ok := (ovlOptions{}).without(unix.EINVAL); ok {
		t.Error("nothing left to drop, yet retried")
	}
}
