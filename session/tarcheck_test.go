package session

import (
	"errors"
	"os"
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
