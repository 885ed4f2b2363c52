package unpack

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nook-project/nook/internal/tartest"
	"golang.org/x/sys/unix"
)

type ent = tartest.Entry

func makeTar(t *testing.T, ents []ent) []byte { return tartest.Make(t, ents) }

// attackDirs makes a sandbox for an attack: dest (the extraction
// directory) and outside (a sibling the attack aims at), with a file there
// the attack must not reach.
func attackDirs(t *testing.T) (dest, outside string) {
	base := t.TempDir()
	dest, outside = filepath.Join(base, "dest"), filepath.Join(base, "outside")
	os.Mkdir(dest, 0o755)
	os.Mkdir(outside, 0o755)
	os.WriteFile(filepath.Join(outside, "victim"), []byte("original"), 0o644)
	return dest, outside
}

// checkOutside fails the test if the attack changed anything outside.
func checkOutside(t *testing.T, outside string) {
	t.Helper()
	ents, _ := os.ReadDir(outside)
	if len(ents) != 1 || ents[0].Name() != "victim" {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("the attack created entries outside the destination: %v", names)
	}
	b, err := os.ReadFile(filepath.Join(outside, "victim"))
	if err != nil || string(b) != "original" {
		t.Errorf("the attack changed outside/victim: %q, %v", b, err)
	}
	var st unix.Stat_t
	if unix.Stat(filepath.Join(outside, "victim"), &st) == nil && st.Nlink != 1 {
		t.Errorf("the attack made a hard link to outside/victim (%d links)", st.Nlink)
	}
}

func TestExtractAttacks(t *testing.T) {
	cases := []struct {
		name string
		// ents get "OUT" replaced by the outside directory's path.
		ents []ent
		// wantErr: the archive must be refused; otherwise it must unpack
		// with everything inside.
		wantErr bool
		// inside lists paths that must exist inside dest afterwards.
		inside []string
		// either: refusing is as good as landing inside (securejoin will
		// not make directories through a dangling symlink).
		either bool
	}{
		{name: "dot-dot", ents: []ent{{Name: "../outside/evil", Type: tar.TypeReg, Body: "x"}}, wantErr: true},
		{name: "dot-dot-deep", ents: []ent{{Name: "a/b/../../../outside/evil", Type: tar.TypeReg, Body: "x"}}, wantErr: true},
		{name: "absolute", ents: []ent{{Name: "OUT/evil", Type: tar.TypeReg, Body: "x"}}, inside: []string{"OUT/evil"}},
		{name: "symlinked-parent-absolute", ents: []ent{
			{Name: "link", Type: tar.TypeSymlink, Link: "OUT"},
			{Name: "link/evil", Type: tar.TypeReg, Body: "x"},
		}, inside: []string{"OUT/evil"}, either: true},
		{name: "symlinked-parent-relative", ents: []ent{
			{Name: "link", Type: tar.TypeSymlink, Link: "../outside"},
			{Name: "link/evil", Type: tar.TypeReg, Body: "x"},
		}, inside: []string{"evil"}, either: true},
		{name: "symlinked-parent-root", ents: []ent{
			{Name: "sub/link", Type: tar.TypeSymlink, Link: "/"},
			{Name: "sub/link/evil", Type: tar.TypeReg, Body: "x"},
		}, inside: []string{"evil"}},
		{name: "write-through-symlink", ents: []ent{
			{Name: "victim", Type: tar.TypeSymlink, Link: "OUT/victim"},
			{Name: "victim", Type: tar.TypeReg, Body: "overwritten"},
		}, inside: []string{"victim"}},
		{name: "write-through-relative-symlink", ents: []ent{
			{Name: "victim", Type: tar.TypeSymlink, Link: "../outside/victim"},
			{Name: "victim", Type: tar.TypeReg, Body: "overwritten"},
		}, inside: []string{"victim"}},
		{name: "hardlink-dot-dot", ents: []ent{{Name: "h", Type: tar.TypeLink, Link: "../outside/victim"}}, wantErr: true},
		{name: "hardlink-absolute", ents: []ent{{Name: "h", Type: tar.TypeLink, Link: "OUT/victim"}}, wantErr: true},
		{name: "hardlink-through-symlink", ents: []ent{
			{Name: "l", Type: tar.TypeSymlink, Link: "OUT"},
			{Name: "h", Type: tar.TypeLink, Link: "l/victim"},
		}, wantErr: true},
		{name: "hardlink-to-symlink-then-write", ents: []ent{
			{Name: "l", Type: tar.TypeSymlink, Link: "OUT/victim"},
			{Name: "h", Type: tar.TypeLink, Link: "l"},
			{Name: "h", Type: tar.TypeReg, Body: "overwritten"},
		}, inside: []string{"h", "l"}},
		{name: "dir-over-symlink", ents: []ent{
			{Name: "d", Type: tar.TypeSymlink, Link: "OUT"},
			{Name: "d", Type: tar.TypeDir},
			{Name: "d/evil", Type: tar.TypeReg, Body: "x"},
		}, inside: []string{"d/evil"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dest, outside := attackDirs(t)
			var ents []ent
			for _, e := range c.ents {
				e.Name = replaceOut(e.Name, outside)
				e.Link = replaceOut(e.Link, outside)
				ents = append(ents, e)
			}
			_, err := extract(bytes.NewReader(makeTar(t, ents)), dest, false, nil)
			if c.wantErr && err == nil {
				t.Errorf("hostile archive was accepted")
			}
			if !c.wantErr && !c.either && err != nil {
				t.Errorf("extract: %v", err)
			}
			checkOutside(t, outside)
			if err != nil {
				return
			}
			for _, p := range c.inside {
				p = replaceOut(p, outside)
				if _, err := os.Lstat(filepath.Join(dest, p)); err != nil {
					t.Errorf("%s was not made inside: %v", p, err)
				}
			}
		})
	}
}

func replaceOut(s, outside string) string {
	if len(s) >= 3 && s[:3] == "OUT" {
		return outside + s[3:]
	}
	return s
}

func TestExtractKeepsMetadata(t *testing.T) {
	dest := t.TempDir()
	// The archive makes a read-only directory; let the cleanup in.
	t.Cleanup(func() { os.Chmod(filepath.Join(dest, "ro"), 0o755) })
	mt := time.Unix(1234567890, 0)
	ents := []ent{
		{Name: "./", Type: tar.TypeDir, Mode: 0o755},
		{Name: "./bin/", Type: tar.TypeDir, Mode: 0o755, MTime: mt},
		{Name: "./bin/su", Type: tar.TypeReg, Mode: 0o4755, Body: "setuid", MTime: mt},
		{Name: "./bin/sg", Type: tar.TypeReg, Mode: 0o2711, Body: "setgid"},
		{Name: "./bin/ln", Type: tar.TypeLink, Link: "./bin/su"},
		{Name: "./bin/sym", Type: tar.TypeSymlink, Link: "su", MTime: mt},
		{Name: "./etc/x", Type: tar.TypeReg, Body: "implied parent", Xattrs: map[string]string{"user.nook": "kept"}},
		{Name: "./dev/null", Type: tar.TypeChar, Mode: 0o666},
		{Name: "./dev/zero", Type: tar.TypeChar, Mode: 0o666},
		{Name: "./fifo", Type: tar.TypeFifo, Mode: 0o600},
		{Name: "./ro/", Type: tar.TypeDir, Mode: 0o555},
		{Name: "./ro/inside", Type: tar.TypeReg, Body: "in a read-only dir"},
	}
	stats, err := extract(bytes.NewReader(makeTar(t, ents)), dest, false, nil)
	if err != nil {
		t.Fatalf("extract: %v", err)
	}
	if stats.Devices != 2 {
		t.Errorf("devices skipped: %d, want 2", stats.Devices)
	}
	if _, err := os.Lstat(filepath.Join(dest, "dev/null")); err == nil {
		t.Errorf("a device node was made")
	}
	for p, want := range map[string]os.FileMode{"bin/su": 0o755 | os.ModeSetuid, "bin/sg": 0o711 | os.ModeSetgid, "ro": 0o555 | os.ModeDir, "fifo": 0o600 | os.ModeNamedPipe} {
		fi, err := os.Lstat(filepath.Join(dest, p))
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode(), want)
		}
	}
	var a, b unix.Stat_t
	unix.Stat(filepath.Join(dest, "bin/su"), &a)
	unix.Stat(filepath.Join(dest, "bin/ln"), &b)
	if a.Ino != b.Ino || a.Nlink != 2 {
		t.Errorf("hard link not kept: inodes %d %d, links %d", a.Ino, b.Ino, a.Nlink)
	}
	if int64(a.Mtim.Sec) != mt.Unix() {
		t.Errorf("bin/su mtime %d, want %d", a.Mtim.Sec, mt.Unix())
	}
	var d unix.Stat_t
	unix.Stat(filepath.Join(dest, "bin"), &d)
	if int64(d.Mtim.Sec) != mt.Unix() {
		t.Errorf("bin/ mtime %d, want %d (directory times must be set after their entries)", d.Mtim.Sec, mt.Unix())
	}
	var l unix.Stat_t
	unix.Lstat(filepath.Join(dest, "bin/sym"), &l)
	if int64(l.Mtim.Sec) != mt.Unix() {
		t.Errorf("symlink mtime %d, want %d", l.Mtim.Sec, mt.Unix())
	}
	buf := make([]byte, 16)
	n, err := unix.Getxattr(filepath.Join(dest, "etc/x"), "user.nook", buf)
	if err != nil && !errors.Is(err, unix.ENOTSUP) {
		t.Errorf("xattr user.nook: %v", err)
	} else if err == nil && string(buf[:n]) != "kept" {
		t.Errorf("xattr user.nook = %q", buf[:n])
	}
}

func TestCleanName(t *testing.T) {
	for in, want := range map[string]string{"./": ".", "/": ".", "./a/b": "a/b", "/abs/x": "abs/x", "a//b/./c": "a/b/c", "a/": "a"} {
		got, err := cleanName(in)
		if err != nil || got != want {
			t.Errorf("cleanName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"..", "../x", "a/../b", "a/.."} {
		if _, err := cleanName(bad); !errors.Is(err, ErrUnsafeEntry) {
			t.Errorf("cleanName(%q): %v, want ErrUnsafeEntry", bad, err)
		}
	}
}

// An archive cut off where an entry ends (a copy interrupted there) has
// no end-of-archive blocks: refused, even when its last file ends in
// zeros. One block of zeros is an end, as GNU tar takes it.
func TestExtractCutOff(t *testing.T) {
	full := makeTar(t, []ent{
		{Name: "./", Type: tar.TypeDir},
		{Name: "./a", Type: tar.TypeReg, Body: "first"},
		{Name: "./zeros", Type: tar.TypeReg, Body: "x" + strings.Repeat("\x00", 1500)},
	})
	for _, c := range []struct {
		cut  int
		fail bool
	}{{0, false}, {512, false}, {1024, true}} {
		_, err := extract(bytes.NewReader(full[:len(full)-c.cut]), t.TempDir(), false, nil)
		if c.fail != (err != nil && strings.Contains(err.Error(), "cut off")) {
			t.Errorf("archive without its last %d bytes: %v", c.cut, err)
		}
	}
	// Cut right after the first file: the header of the next entry and
	// everything after it gone.
	first := makeTar(t, []ent{{Name: "./", Type: tar.TypeDir}, {Name: "./a", Type: tar.TypeReg, Body: "first"}})
	if _, err := extract(bytes.NewReader(full[:len(first)-1024]), t.TempDir(), false, nil); err == nil || !strings.Contains(err.Error(), "cut off") {
		t.Errorf("archive cut after its second entry: %v", err)
	}
}

// sparseArchive makes, with GNU tar --sparse (PAX format 1.0), an archive
// of one file "img" of size bytes holding data at the given offsets and
// holes elsewhere, and returns it open. It skips when the tools or the
// filesystem cannot.
func sparseArchive(t *testing.T, size int64, data map[int64]string) *os.File {
	t.Helper()
	tarBin, err := exec.LookPath("tar")
	if err != nil {
		t.Skip("GNU tar is not installed: cannot make a sparse archive")
	}
	src := t.TempDir()
	f, err := os.Create(filepath.Join(src, "img"))
	if err != nil {
		t.Fatal(err)
	}
	for off, d := range data {
		f.WriteAt([]byte(d), off)
	}
	err = f.Truncate(size)
	f.Close()
	if err != nil {
		t.Skipf("this filesystem cannot hold a sparse file of %d bytes: %v", size, err)
	}
	archive := filepath.Join(t.TempDir(), "sparse.tar")
	if out, err := exec.Command(tarBin, "--sparse", "--format=posix", "-cf", archive, "-C", src, "img").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v: %s", err, out)
	}
	af, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { af.Close() })
	return af
}

// A sparse file comes out with its holes, not as zeros written out.
func TestExtractSparse(t *testing.T) {
	const hole = 1 << 30
	// A run of data over several pages, not page-aligned, in the middle.
	run := strings.Repeat("0123456789abcdef", 1000)
	af := sparseArchive(t, hole+4, map[int64]string{0: "head", 1<<20 + 100: run, hole: "tail"})
	dest := t.TempDir()
	if _, err := extract(af, dest, false, nil); err != nil {
		t.Fatalf("extract: %v", err)
	}
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(dest, "img"), &st); err != nil {
		t.Fatal(err)
	}
	if st.Size != hole+4 {
		t.Errorf("size %d, want %d", st.Size, hole+4)
	}
	if st.Blocks*512 > 1<<20 {
		t.Errorf("%d bytes allocated for a file of 16 KB of data: holes written out", st.Blocks*512)
	}
	g, err := os.Open(filepath.Join(dest, "img"))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	got := make([]byte, len(run))
	if _, err := g.ReadAt(got, 1<<20+100); err != nil || string(got) != run {
		t.Errorf("the run of data over several pages came out changed (%v)", err)
	}
	buf := make([]byte, 4)
	for off, want := range map[int64]string{0: "head", hole: "tail", 4096: "\x00\x00\x00\x00"} {
		if _, err := g.ReadAt(buf, off); err != nil || string(buf) != want {
			t.Errorf("at %d: %q %v, want %q", off, buf, err, want)
		}
	}
}

// An entry that replaces a symlink the extractor went through for an
// entry before it sends what follows where the new symlink points, as tar
// does: directly (b -> a, b/y, b -> c, b/z) or anywhere on a chain
// (b -> x -> a, b/y, x -> c, b/z).
func TestExtractReplacedParent(t *testing.T) {
	dirs := []ent{{Name: "a/", Type: tar.TypeDir}, {Name: "c/", Type: tar.TypeDir}}
	link := func(name, to string) ent { return ent{Name: name, Type: tar.TypeSymlink, Link: to} }
	file := func(name string) ent { return ent{Name: name, Type: tar.TypeReg, Body: name} }
	for name, ents := range map[string][]ent{
		"direct": {link("b", "a"), file("b/y"), link("b", "c"), file("b/z")},
		"chain":  {link("x", "a"), link("b", "x"), file("b/y"), link("x", "c"), file("b/z")},
	} {
		dest := t.TempDir()
		if _, err := extract(bytes.NewReader(makeTar(t, append(dirs, ents...))), dest, false, nil); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for p, want := range map[string]bool{"a/y": true, "c/z": true, "a/z": false} {
			if _, err := os.Lstat(filepath.Join(dest, p)); (err == nil) != want {
				t.Errorf("%s: %s exists: %v, want %v", name, p, err == nil, want)
			}
		}
	}
}

// A sparse entry larger than the whole filesystem it lands on is refused
// before its holes are read (every zero of a hole passes through the
// extractor: terabytes would take hours).
func TestExtractSparseTooLarge(t *testing.T) {
	var fs unix.Statfs_t
	if err := unix.Statfs(t.TempDir(), &fs); err != nil {
		t.Fatal(err)
	}
	af := sparseArchive(t, int64(fs.Blocks)*int64(fs.Bsize)+1<<30, nil)
	_, err := extract(af, t.TempDir(), false, nil)
	if !errors.Is(err, ErrUnsafeEntry) || !strings.Contains(err.Error(), "sparse") {
		t.Errorf("a sparse file larger than the filesystem: %v", err)
	}
}
