package attack

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// store is a private set of nook directories (XDG_*) below base: nothing
// touches the user's own sessions, and everything goes with the test.
type store struct {
	t    *testing.T
	base string
	env  []string
}

func newStore(t *testing.T, base string) *store {
	t.Helper()
	s := &store{t: t, base: base}
	s.env = append(os.Environ(), "XDG_CONFIG_HOME="+base+"/config", "XDG_CACHE_HOME="+base+"/cache",
		"XDG_STATE_HOME="+base+"/state")
	t.Cleanup(func() {
		// Files of subordinate ids are only removable through nook.
		s.nook("session", "end", "--all")
		s.nook("cache", "prune")
	})
	return s
}

func (s *store) nook(args ...string) result {
	s.t.Helper()
	return nookWith(s.t, runOpts{env: s.env}, args...)
}

func (s *store) must(args ...string) string {
	s.t.Helper()
	r := s.nook(args...)
	if r.code != 0 {
		s.t.Fatalf("nook %s: %s", strings.Join(args, " "), r)
	}
	return r.out
}

// ent is one tarball entry.
type ent struct {
	name, link string
	typ        byte
	mode       int64
	uid        int
	body       []byte
	major      int64
}

// chrootEntries is a minimal chroot: busybox and this test binary as
// /attack.
func chrootEntries(t *testing.T) []ent {
	needStaticSelf(t)
	bb, err := os.ReadFile("/bin/busybox")
	must(t, err)
	self, err := os.ReadFile(selfBin)
	must(t, err)
	es := []ent{}
	for _, d := range []string{"bin", "etc", "root", "tmp", "proc", "sys", "dev", "mnt"} {
		es = append(es, ent{name: d + "/", typ: tar.TypeDir, mode: 0o755})
	}
	es = append(es, ent{name: "bin/busybox", typ: tar.TypeReg, mode: 0o755, body: bb},
		ent{name: "attack", typ: tar.TypeReg, mode: 0o755, body: self},
		ent{name: "etc/passwd", typ: tar.TypeReg, mode: 0o644, body: []byte("root:x:0:0:root:/root:/bin/sh\n")},
		ent{name: "etc/group", typ: tar.TypeReg, mode: 0o644, body: []byte("root:x:0:\n")})
	for _, a := range []string{"sh", "cat", "echo", "id", "ls", "touch", "ln", "mkdir", "rm", "test", "chmod", "sleep"} {
		es = append(es, ent{name: "bin/" + a, link: "busybox", typ: tar.TypeSymlink})
	}
	return es
}

func writeTar(t *testing.T, path string, ents []ent) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range ents {
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: e.mode, Uid: e.uid,
			ModTime: time.Unix(1700000000, 0), Format: tar.FormatPAX}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if e.typ == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if e.typ == tar.TypeChar || e.typ == tar.TypeBlock {
			h.Devmajor, h.Devminor = e.major, 1
		}
		must(t, tw.WriteHeader(h))
		if e.typ == tar.TypeReg {
			tw.Write(e.body)
		}
	}
	must(t, tw.Close())
	must(t, zw.Close())
	must(t, os.WriteFile(path, buf.Bytes(), 0o644))
}

// hostileChroot adds a chroot whose tarball holds the base entries and
// then extra, and returns a session begun on it (or "" when begin
// refused, which is fine: the checks are on the host).
func hostileChroot(t *testing.T, s *store, name string, extra []ent, copyMode bool) (string, result) {
	t.Helper()
	tarball := filepath.Join(s.base, name+".tar.gz")
	writeTar(t, tarball, append(chrootEntries(t), extra...))
	s.must("chroot", "add", name, tarball)
	args := []string{"session", "begin", name}
	if copyMode {
		args = append(args, "--copy")
	}
	r := s.nook(args...)
	if r.code != 0 {
		return "", r
	}
	return strings.TrimSpace(r.out), r
}

func rel(p string) string { return strings.TrimPrefix(p, "/") }

// TestHostileTarball: tarball entries that aim outside the unpack tree —
// "..", absolute names, symlinked parents, hard links out, hard links to
// symlinks — through nook session begin (and a command that then writes
// to every planted name, in overlay and copy sessions). The victim must be
// unchanged: contents, modes, link counts.
func TestHostileTarball(t *testing.T) {
	cases := []struct {
		name string
		ents func(v *victim) []ent
	}{
		{"dotdot-names", func(v *victim) []ent {
			up := strings.Repeat("../", 16)
			return []ent{
				{name: up + rel(v.file), typ: tar.TypeReg, body: []byte("PWNED\n")},
				{name: up + rel(v.dir) + "/new", typ: tar.TypeReg, body: []byte("PWNED\n")},
				{name: "etc/../../" + up + rel(v.sub) + "/", typ: tar.TypeDir, mode: 0o777},
			}
		}},
		{"absolute-names", func(v *victim) []ent {
			return []ent{
				{name: v.file, typ: tar.TypeReg, body: []byte("PWNED\n")},
				{name: v.dir + "/new", typ: tar.TypeReg, body: []byte("PWNED\n")},
				{name: v.sub + "/", typ: tar.TypeDir, mode: 0o777},
				{name: v.dir + "/newlink", link: "/", typ: tar.TypeSymlink},
			}
		}},
		{"symlinked-parents", func(v *victim) []ent {
			return []ent{
				{name: "abs", link: v.dir, typ: tar.TypeSymlink},
				{name: "rel", link: strings.Repeat("../", 16) + rel(v.dir), typ: tar.TypeSymlink},
				{name: "abs/file", typ: tar.TypeReg, body: []byte("PWNED\n")},
				{name: "abs/new", typ: tar.TypeReg, body: []byte("PWNED\n")},
				{name: "rel/file", typ: tar.TypeReg, body: []byte("PWNED\n")},
				{name: "rel/sub/", typ: tar.TypeDir, mode: 0o777},
				{name: "abs/sub/new", typ: tar.TypeSymlink, link: "/"},
				{name: "abs/fifo", typ: tar.TypeFifo},
			}
		}},
		{"symlink-then-file-of-its-name", func(v *victim) []ent {
			// A symlink to the victim, then a regular file (and a
			// directory) of the same name: written through the link?
			return []ent{
				{name: "f", link: v.file, typ: tar.TypeSymlink},
				{name: "f", typ: tar.TypeReg, body: []byte("PWNED\n"), mode: 0o777},
				{name: "d", link: v.sub, typ: tar.TypeSymlink},
				{name: "d/", typ: tar.TypeDir, mode: 0o777},
			}
		}},
		{"hardlinks-out", func(v *victim) []ent {
			return []ent{
				{name: "h1", link: v.file, typ: tar.TypeLink},
				{name: "h2", link: strings.Repeat("../", 16) + rel(v.file), typ: tar.TypeLink},
				{name: "abs", link: v.dir, typ: tar.TypeSymlink},
				{name: "h3", link: "abs/file", typ: tar.TypeLink},
				{name: "h1", typ: tar.TypeReg, body: []byte("PWNED\n")},
			}
		}},
		{"hardlinks-to-symlinks", func(v *victim) []ent {
			return []ent{
				{name: "sl", link: v.file, typ: tar.TypeSymlink},
				{name: "hs", link: "sl", typ: tar.TypeLink},
				{name: "dl", link: v.dir, typ: tar.TypeSymlink},
				{name: "hd", link: "dl", typ: tar.TypeLink},
				{name: "hd/new", typ: tar.TypeReg, body: []byte("PWNED\n")},
				{name: "hs", typ: tar.TypeReg, body: []byte("PWNED\n")},
			}
		}},
	}
	// Inside, the command writes to every planted name too: a hard link
	// that reached the host would be written through in a copy session.
	script := `for f in /h1 /h2 /h3 /hs /hd/new /sl /dl/file /abs/file /rel/file /f /d/x /new; do echo PWNED >> $f; done 2>/dev/null; chmod 777 /abs /abs/sub /d 2>/dev/null; true`
	for _, c := range cases {
		for _, copyMode := range []bool{false, true} {
			name := c.name
			if copyMode {
				name += "/copy-session"
			}
			t.Run(name, func(t *testing.T) {
				base := tempDir(t)
				v := newVictim(t, base)
				s := newStore(t, base)
				id, r := hostileChroot(t, s, "evil", c.ents(v), copyMode)
				v.check(t, "unpacking the tarball ("+r.String()+")")
				if id != "" {
					rr := s.nook("session", "run", id, "--", "/bin/sh", "-c", script)
					v.check(t, "writing to the planted names ("+rr.String()+")")
					s.nook("session", "end", id)
				}
				v.check(t, "ending the session")
			})
		}
	}
}

// walkDevicesAndSetuid lists device nodes, and setuid or setgid files
// owned by uid 0, below dir.
func walkDevicesAndSetuid(dir string) (devs, suidRoot []string) {
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return nil
		}
		if fi.Mode()&fs.ModeDevice != 0 {
			devs = append(devs, p)
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid == 0 && fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid) != 0 {
			suidRoot = append(suidRoot, p)
		}
		return nil
	})
	return
}

// TestChrootDevicesAndSetuid: device nodes in a chroot tarball are never
// made (not in the cache, not in a copy session, not inside); a setuid-root
// binary in a chroot gives no host privilege: for a user it is not a
// setuid-root file on the host and files it makes are the caller's; for
// real root the trees that hold it are closed to other users.
func TestChrootDevicesAndSetuid(t *testing.T) {
	for _, copyMode := range []bool{false, true} {
		name := "overlay-session"
		if copyMode {
			name = "copy-session"
		}
		t.Run(name, func(t *testing.T) {
			base := tempDir(t)
			s := newStore(t, base)
			self, err := os.ReadFile(selfBin)
			must(t, err)
			extra := []ent{
				{name: "dev/mem", typ: tar.TypeChar, major: 1, mode: 0o666},
				{name: "evil-disk", typ: tar.TypeBlock, major: 8, mode: 0o666},
				{name: "evil-kmsg", typ: tar.TypeChar, major: 1, mode: 0o666},
				{name: "suid", typ: tar.TypeReg, mode: 0o4755, uid: 0, body: self},
				{name: "sgid", typ: tar.TypeReg, mode: 0o2755, uid: 0, body: self},
			}
			id, r := hostileChroot(t, s, "devs", extra, copyMode)
			if id == "" {
				t.Fatalf("begin: %s", r)
			}
			devs, suid := walkDevicesAndSetuid(base)
			if len(devs) > 0 {
				t.Errorf("device nodes from the tarball were made on the host: %v", devs)
			}
			if isRoot() {
				// Real root keeps the chroot's setuid files (its sessions
				// use the host's ids); no other user may reach them.
				for _, d := range []string{base + "/cache/nook", base + "/state/nook/sessions"} {
					if fi, err := os.Stat(d); err == nil && fi.Mode().Perm()&0o077 != 0 {
						t.Errorf("%s is %v: other users can reach the chroot's setuid-root files", d, fi.Mode())
					}
				}
			} else if len(suid) > 0 {
				t.Errorf("a user's session made setuid-root files on the host: %v", suid)
			}
			rr := s.nook("session", "run", id, "--", "/bin/sh", "-c",
				"for d in /dev/mem /evil-disk /evil-kmsg; do test -b $d -o -c $d && echo DEVICE $d; done; cat /evil-disk /dev/mem 2>/dev/null | head -c 1 | wc -c")
			if strings.Contains(rr.out, "DEVICE /evil") {
				t.Errorf("a device node from the tarball is there inside: %s", rr)
			}
			// The setuid binary, run by a non-root user inside, makes a
			// file in a host directory bound in: its host owner must be
			// the caller (never host root for a user).
			out := tempDir(t)
			os.Chmod(out, 0o777)
			rr = s.nook("session", "run", id, "-u", "1000", "--bind", out+":/out", "--", "/suid", "-attack-helper", "ids", "/out/made")
			fi, err := os.Lstat(filepath.Join(out, "made"))
			if err != nil {
				t.Fatalf("the setuid helper made no file: %s", rr)
			}
			if owner := fi.Sys().(*syscall.Stat_t).Uid; !isRoot() && owner != uint32(os.Getuid()) {
				t.Errorf("a file made by a setuid-root binary in the chroot is owned by host uid %d, not the caller's %d (%s)", owner, os.Getuid(), rr)
			}
		})
	}
}

// TestSessionEndWithSymlinksOut: a session whose tree holds symlinks (and
// directories full of them) to the caller's files when it ends: ending it
// deletes nothing outside the session.
func TestSessionEndWithSymlinksOut(t *testing.T) {
	for _, mode := range []string{"overlay", "copy", "directory-chroot", "host"} {
		t.Run(mode, func(t *testing.T) {
			base := tempDir(t)
			v := newVictim(t, base)
			s := newStore(t, base)
			var id string
			switch mode {
			case "directory-chroot":
				root := attackerRoot(t, base)
				s.must("chroot", "add", "dirc", root)
				id = strings.TrimSpace(s.must("session", "begin", "dirc"))
			case "host":
				id = strings.TrimSpace(s.must("session", "begin", "host"))
			default:
				var r result
				id, r = hostileChroot(t, s, "plain", nil, mode == "copy")
				if id == "" {
					t.Fatalf("begin: %s", r)
				}
			}
			script := "cd /tmp && ln -s " + v.dir + " l1; ln -s " + v.file + " l2; ln -s / l3; ln -s " + strings.Repeat("../", 12) + rel(v.dir) + " l4; " +
				"mkdir -p deep/a/b && ln -s " + v.dir + " deep/a/b/c; mkdir ro && ln -s " + v.sub + " ro/x && chmod 0 ro; " +
				"ln -s " + v.dir + " /root/victim 2>/dev/null; true"
			rr := s.nook("session", "run", id, "--", "/bin/sh", "-c", script)
			if rr.code != 0 {
				t.Fatalf("planting symlinks: %s", rr)
			}
			r := s.nook("session", "end", id)
			if r.code != 0 {
				t.Errorf("end: %s", r)
			}
			v.check(t, "ending a session full of symlinks to it")
		})
	}
}

// TestHostileNames: session ids, chroot names and --name values with "/",
// "..", and other oddities are refused; nothing is created, read or
// removed outside nook's directories.
func TestHostileNames(t *testing.T) {
	base := tempDir(t)
	v := newVictim(t, base)
	s := newStore(t, base)
	// Files a traversal from nook's directories would reach.
	for _, p := range []string{v.dir + "/state.json", v.dir + "/sneaky.json", v.sub + "/lock"} {
		must(t, os.WriteFile(p, []byte("{}"), 0o644))
	}
	v.before = snapshot(t, v.dir)
	_, r := hostileChroot(t, s, "good", nil, false)
	_ = r
	// From sessions/ID, config/nook/chroot.d/NAME.json and the cache,
	// "../../../victim" is the victim.
	bad := []string{"../../../victim", "../../../victim/sub", "../../../victim/sneaky", "..", ".", "a/b", "/" + rel(v.dir),
		v.dir, "evil\nname", "-evil", " evil", "evil;touch x", "évil", strings.Repeat("e", 300), "", ".hidden", "x/../../../../victim"}
	for _, n := range bad {
		t.Run(strconv.Quote(n), func(t *testing.T) {
			checks := [][]string{
				{"session", "begin", "good", "--name", n},
				{"session", "begin", "good", "-n", n},
				{"session", "run", n, "--", "true"},
				{"session", "info", n},
				{"session", "end", n},
				{"chroot", "add", n, filepath.Join(base, "good.tar.gz")},
				{"chroot", "info", n},
				{"chroot", "remove", n},
				{"session", "begin", n},
			}
			for _, args := range checks {
				r := s.nook(args...)
				if args[1] == "begin" && r.code == 0 {
					id := strings.TrimSpace(r.out)
					if strings.ContainsAny(id, "/\n") || id == ".." || id == "." {
						t.Errorf("nook %q made session %q", args, id)
					}
				}
				if args[0] == "chroot" && args[1] == "add" && r.code == 0 {
					t.Errorf("nook chroot add accepted the name %q", n)
				}
				v.check(t, "nook "+strings.Join(args, " "))
			}
		})
	}
	// Nothing named by the attacks exists anywhere below base.
	filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.Contains(filepath.Base(p), "evil") {
			t.Errorf("made %s", p)
		}
		return nil
	})
}

// TestHostileStateFiles: a session's state file truncated, empty, not
// JSON, or rewritten to name things outside the store (its id, its cache
// entry, its lower directory): nook refuses or ends the session cleanly,
// and deletes or renames nothing outside nook's directories.
func TestHostileStateFiles(t *testing.T) {
	type variant struct {
		name string
		edit func(state []byte, v *victim, entries string) []byte
	}
	variants := []variant{
		{"truncated", func(b []byte, _ *victim, _ string) []byte { return b[:len(b)/2] }},
		{"empty", func([]byte, *victim, string) []byte { return nil }},
		{"null", func([]byte, *victim, string) []byte { return []byte("null") }},
		{"binary", func([]byte, *victim, string) []byte { return []byte("\x00\xff\xfe{[") }},
		{"huge-string", func([]byte, *victim, string) []byte {
			return []byte(`{"id":"` + strings.Repeat("A", 1<<20) + `"}`)
		}},
		{"id-climbs-out", func(b []byte, v *victim, _ string) []byte {
			return setJSON(b, "id", "../../../"+strings.Repeat("../", 8)+rel(v.sub))
		}},
		{"entry-climbs-out", func(b []byte, v *victim, entries string) []byte {
			r, _ := filepath.Rel(entries, v.dir)
			return setJSON(b, "entry", "x-/../"+r)
		}},
		{"entry-absolute", func(b []byte, v *victim, _ string) []byte { return setJSON(b, "entry", v.dir) }},
		{"lower-is-victim", func(b []byte, v *victim, _ string) []byte { return setJSON(b, "lower", v.dir) }},
		{"source-is-victim", func(b []byte, v *victim, _ string) []byte { return setJSON(b, "source", v.file) }},
	}
	for _, vr := range variants {
		t.Run(vr.name, func(t *testing.T) {
			base := tempDir(t)
			v := newVictim(t, base)
			s := newStore(t, base)
			id, r := hostileChroot(t, s, "plain", nil, false)
			if id == "" {
				t.Fatalf("begin: %s", r)
			}
			// The victim looks like a cache entry (say, another store's):
			// a traversal through the entry name would take it for one.
			real, _ := filepath.Glob(filepath.Join(base, "cache", "nook", "unpack", "entries", "*", "entry.json"))
			if len(real) != 1 {
				t.Fatalf("cache entries: %v", real)
			}
			b, err := os.ReadFile(real[0])
			must(t, err)
			must(t, os.WriteFile(filepath.Join(v.dir, "entry.json"), setJSON(b, "source", v.dir+"/gone.tar"), 0o644))
			v.before = snapshot(t, v.dir)
			other := strings.TrimSpace(s.must("session", "begin", "plain"))
			entries, _ := filepath.Glob(filepath.Join(base, "cache", "nook", "unpack", "entries"))
			if len(entries) != 1 {
				t.Fatalf("no cache entries directory below %s", base)
			}
			statePath := filepath.Join(base, "state", "nook", "sessions", id, "state.json")
			b, err = os.ReadFile(statePath)
			must(t, err)
			must(t, os.WriteFile(statePath, vr.edit(b, v, entries[0]), 0o600))
			for _, args := range [][]string{
				{"session", "list"}, {"session", "info", id},
				{"session", "run", id, "--", "/bin/sh", "-c", "echo PWNED > /file; rm -rf /sub 2>/dev/null; true"},
				{"session", "end", id}, {"session", "end", id}, {"cache", "prune"}, {"session", "list"},
			} {
				r := s.nook(args...)
				v.check(t, "nook "+strings.Join(args, " ")+" on a "+vr.name+" state file ("+r.String()+")")
			}
			// The other session is unharmed.
			if r := s.nook("session", "run", other, "--", "/bin/sh", "-c", "echo ok"); r.code != 0 || r.out != "ok\n" {
				t.Errorf("another session broke: %s", r)
			}
		})
	}
}

// setJSON sets key to a string value in a JSON object.
func setJSON(b []byte, key, val string) []byte {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		m = map[string]any{}
	}
	m[key] = val
	out, _ := json.Marshal(m)
	return out
}

// TestUserNSHolderUnreachable: the process that keeps a session's user
// namespace alive between commands (subordinate ids only) holds nothing a
// command could use — no fd but /dev/null, / as its directory, a session
// of its own — and no command of the session can see, signal or trace it.
func TestUserNSHolderUnreachable(t *testing.T) {
	if isRoot() {
		t.Skip("SKIP (real root): root's sessions have no user namespace to hold")
	}
	base := tempDir(t)
	s := newStore(t, base)
	id, r := hostileChroot(t, s, "plain", nil, false)
	if id == "" {
		t.Fatalf("session begin: %s", r)
	}
	s.must("session", "run", id, "--", "/attack", "-attack-helper", "look", "no-such-marker")
	rec, err := os.ReadFile(filepath.Join(base, "state/nook/sessions", id, "userns"))
	if err != nil {
		if os.Getenv("NOOK_TEST_EXPECT_SUBIDS") == "1" {
			t.Fatalf("a session with subordinate ids holds no user namespace: %v", err)
		}
		t.Skip("SKIP (no subordinate ids): single-id sessions hold no user namespace")
	}
	f := strings.Fields(string(rec))
	pid := f[0]
	// Its fds: /dev/null as 0, 1 and 2, and the cgroup files the Go
	// runtime opens read-only at every start (to follow the CPU limit).
	fds, _ := os.ReadDir("/proc/" + pid + "/fd")
	for _, d := range fds {
		l, _ := os.Readlink("/proc/" + pid + "/fd/" + d.Name())
		info, _ := os.ReadFile("/proc/" + pid + "/fdinfo/" + d.Name())
		switch {
		case l == "/dev/null" && (d.Name() == "0" || d.Name() == "1" || d.Name() == "2"):
		case strings.HasPrefix(l, "/sys/fs/cgroup/"):
			if fl := fdFlags(string(info)); fl < 0 || fl&3 != 0 { // O_ACCMODE: O_RDONLY is 0
				t.Errorf("the holder holds %s open for writing", l)
			}
		default:
			t.Errorf("the holder holds fd %s: %s", d.Name(), l)
		}
	}
	for _, l := range []string{"cwd", "root"} {
		if target, _ := os.Readlink("/proc/" + pid + "/" + l); target != "/" {
			t.Errorf("the holder's %s is %q", l, target)
		}
	}
	stat := func() []string {
		b, _ := os.ReadFile("/proc/" + pid + "/stat")
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 {
			return nil
		}
		return strings.Fields(string(b)[i+2:])
	}
	if st := stat(); len(st) < 20 || st[3] != pid {
		t.Errorf("the holder is not in a session of its own: %v", st)
	}
	r = nookWith(t, runOpts{env: s.env}, "session", "run", id, "--", "/attack", "-attack-helper", "look", "nook-userns-holder")
	noHarm(t, "seeing the holder", r)
	r = nookWith(t, runOpts{env: s.env}, "session", "run", id, "--", "/attack", "-attack-helper", "reach", pid)
	noHarm(t, "reaching the holder", r)
	st := stat()
	if len(st) < 20 || st[0] == "T" || st[0] == "t" || st[0] == "Z" || st[19] != f[1] {
		t.Errorf("the holder was harmed from inside (state %v, recorded start %s)", st, f[1])
	}
	if b, _ := os.ReadFile("/proc/" + pid + "/status"); !strings.Contains(string(b), "TracerPid:\t0\n") {
		t.Errorf("the holder is traced:\n%s", b)
	}
	s.must("session", "end", id)
	if _, err := os.Stat("/proc/" + pid); err == nil {
		if st := stat(); len(st) > 0 && st[0] != "Z" {
			t.Errorf("the holder %s outlived session end", pid)
		}
	}
}

// fdFlags is the flags field of an fdinfo file (octal).
func fdFlags(info string) int64 {
	for _, l := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(l, "flags:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 8, 64)
			return n
		}
	}
	return -1
}
