package virtnook

import (
	"archive/tar"
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

type entry struct {
	name, link string
	typ        byte
	mode       int64
	data       string
	major      int64
}

func tarOf(t *testing.T, es []entry) *bytes.Buffer {
	t.Helper()
	var b bytes.Buffer
	w := tar.NewWriter(&b)
	for _, e := range es {
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: e.mode, Size: int64(len(e.data)), Devmajor: e.major, Format: tar.FormatGNU}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		if err := w.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			io.WriteString(w, e.data)
		}
	}
	w.Close()
	return &b
}

// What a testbed sends for copyup is the testbed's to choose (root inside
// may replace its tar), and the host unpacks it, as root when the server
// runs as root. A member named through a symlink, with "..", an absolute
// name or an absolute hard link target stays inside the destination; a
// device node or fifo is not made; no setuid or setgid bit arrives. An
// ordinary archive's files, modes (0600, 0755, a 0555 directory with a
// file in it) and symlinks arrive as sent.
func TestCopyUpExtractHostile(t *testing.T) {
	top := t.TempDir()
	dst := filepath.Join(top, "dst")
	os.Mkdir(dst, 0o755)
	os.Mkdir(filepath.Join(top, "outside"), 0o755)
	os.WriteFile(filepath.Join(top, "victim"), []byte("v"), 0o644)
	hostile := tarOf(t, []entry{
		{name: "./esc", typ: tar.TypeSymlink, link: filepath.Join(top, "outside")},
		{name: "./esc/x", typ: tar.TypeReg, mode: 0o644, data: "through the symlink"},
		{name: "../up", typ: tar.TypeReg, mode: 0o644, data: "dot dot"},
		{name: filepath.Join(top, "abs"), typ: tar.TypeReg, mode: 0o644, data: "absolute"},
		{name: "./hl", typ: tar.TypeLink, link: filepath.Join(top, "victim")},
		{name: "./hl2", typ: tar.TypeLink, link: "esc/../../victim"},
		{name: "./suid", typ: tar.TypeReg, mode: 0o4755, data: "#!/bin/sh\n"},
		{name: "./sgid", typ: tar.TypeReg, mode: 0o2755, data: "#!/bin/sh\n"},
		{name: "./disk", typ: tar.TypeBlock, mode: 0o666, major: 8},
		{name: "./null", typ: tar.TypeChar, mode: 0o666, major: 1},
		{name: "./fifo", typ: tar.TypeFifo, mode: 0o666},
	})
	extractUp(dst, hostile, io.Discard)
	for _, n := range []string{"up", "abs", "outside/x", "tmp"} {
		if _, err := os.Lstat(filepath.Join(top, n)); err == nil {
			t.Errorf("%s was written outside the destination", n)
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(top, "outside")); len(ents) != 0 {
		t.Errorf("written through the symlink into %s: %v", filepath.Join(top, "outside"), ents)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(top, "victim"), &st); err != nil || st.Nlink != 1 {
		t.Errorf("the host's file outside was hard linked into the destination (links %d, %v)", st.Nlink, err)
	}
	filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return nil
		}
		switch m := fi.Mode(); {
		case m&(fs.ModeDevice|fs.ModeCharDevice|fs.ModeNamedPipe|fs.ModeSocket) != 0:
			t.Errorf("%s: made on the host as %v", p, m)
		case m&(fs.ModeSetuid|fs.ModeSetgid) != 0:
			t.Errorf("%s: arrived with mode %v", p, m)
		}
		return nil
	})

	ok := filepath.Join(top, "ok")
	os.Mkdir(ok, 0o755)
	err := extractUp(ok, tarOf(t, []entry{
		{name: "./", typ: tar.TypeDir, mode: 0o755},
		{name: "./ro/", typ: tar.TypeDir, mode: 0o555},
		{name: "./ro/f", typ: tar.TypeReg, mode: 0o600, data: "secret"},
		{name: "./run.sh", typ: tar.TypeReg, mode: 0o755, data: "#!/bin/sh\n"},
		{name: "./same", typ: tar.TypeLink, link: "./run.sh"},
		{name: "./ln", typ: tar.TypeSymlink, link: "ro/f"},
	}), io.Discard)
	if err != nil {
		t.Errorf("an ordinary archive: %v", err)
	}
	for n, want := range map[string]fs.FileMode{"ro": fs.ModeDir | 0o555, "ro/f": 0o600, "run.sh": 0o755, "same": 0o755} {
		if fi, err := os.Lstat(filepath.Join(ok, n)); err != nil || fi.Mode() != want {
			t.Errorf("%s: %v %v, want mode %v", n, fi, err, want)
		}
	}
	if b, err := os.ReadFile(filepath.Join(ok, "ln")); err != nil || string(b) != "secret" {
		t.Errorf("through the symlink ln: %q %v", b, err)
	}
	os.Chmod(filepath.Join(ok, "ro"), 0o755)
}
