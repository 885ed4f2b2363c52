package session

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// chroot add reads a tarball to its end, so an empty, truncated or
// non-tar file is named when it is added, not at the first session begin.
func TestAddNamesBadTarballs(t *testing.T) {
	s := testStore(t)
	dir := t.TempDir()
	plain := busyboxTar(t)
	zst := compressWith(t, Zstd, plain)
	// archive/tar's writer ends plain with exactly the two zero blocks of
	// the end-of-archive marker: without them every entry is whole, and
	// only the missing marker says the copy stopped early.
	unmarked := plain[:len(plain)-1024]
	gnu := gnuTar(t)
	cases := []struct {
		name string
		data []byte
		want string // "" means accepted
	}{
		{"empty", nil, "is empty (0 bytes)"},
		{"truncated zstd", zst[:len(zst)/2], "zstd-compressed tar archive is truncated"},
		{"truncated tar", plain[:len(plain)/2+100], "tar archive is truncated"},
		{"gzip of text", compressWith(t, Gzip, []byte(strings.Repeat("not a tar\n", 100))), "gzip-compressed, but what it holds is not a tar archive"},
		{"text", []byte(strings.Repeat("not a tar\n", 100)), "not a tar archive"},
		{"cut at an entry boundary", unmarked, "tar archive is truncated"},
		{"zstd of a tar cut at an entry boundary", compressWith(t, Zstd, unmarked), "zstd-compressed tar archive is truncated"},
		{"gzip of a tar cut at an entry boundary", compressWith(t, Gzip, unmarked), "gzip-compressed tar archive is truncated"},
		{"one zero block of two", plain[:len(plain)-512], ""},
		{"GNU tar", gnu, ""},
		{"GNU tar, zstd", compressWith(t, Zstd, gnu), ""},
		{"whole zstd", zst, ""},
		{"whole tar", plain, ""},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, c.name)
			if err := os.WriteFile(p, c.data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := s.Registry.Add("c"+string(rune('a'+i)), p, nil, "")
			switch {
			case c.want == "" && err != nil:
				t.Errorf("a whole tarball refused: %v", err)
			case c.want != "" && (!errors.Is(err, ErrBadTarball) || !strings.Contains(err.Error(), c.want)):
				t.Errorf("add: %v; want ErrBadTarball saying %q", err, c.want)
			}
		})
	}
}

// gnuTar is a small tree archived by GNU tar, the tool most chroot
// tarballs come from (mmdebstrap, sbuild-createchroot): its end marker
// and record padding must pass.
func gnuTar(t *testing.T) []byte {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "etc", "hostname"), []byte("nook\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("tar", "-C", dir, "-cf", "-", ".").Output()
	if err != nil {
		t.Fatalf("tar -c: %v", err)
	}
	return out
}
