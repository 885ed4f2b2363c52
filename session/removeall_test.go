package session

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRemoveAllDeep: a tree far deeper than the fds the process may open
// goes, symlinks in it are removed and never followed, and names the
// remover uses for moved directories may already exist.
func TestRemoveAllDeep(t *testing.T) {
	base := t.TempDir()
	outside := filepath.Join(base, "outside")
	if err := os.MkdirAll(filepath.Join(outside, "keep"), 0o755); err != nil {
		t.Fatal(err)
	}
	top := filepath.Join(base, "top")
	if err := os.MkdirAll(filepath.Join(top, ".nook-deep-0", "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(top, ".nook-deep-1"), []byte("taken"), 0o644)
	// Deep: built with fds (paths that long exceed PATH_MAX).
	const depth = 1000
	fd, err := unix.Open(top, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < depth; i++ {
		if i%100 == 0 {
			unix.Symlinkat(outside, fd, "link")
			f, _ := unix.Openat(fd, "file", unix.O_CREAT|unix.O_WRONLY, 0o600)
			unix.Close(f)
		}
		if err := unix.Mkdirat(fd, "d", 0o700); err != nil {
			t.Fatal(err)
		}
		next, err := unix.Openat(fd, "d", unix.O_RDONLY|unix.O_DIRECTORY, 0)
		unix.Close(fd)
		if err != nil {
			t.Fatal(err)
		}
		fd = next
	}
	unix.Close(fd)

	// Far fewer fds than levels.
	var old unix.Rlimit
	unix.Getrlimit(unix.RLIMIT_NOFILE, &old)
	ents, _ := os.ReadDir("/proc/self/fd")
	lim := old
	lim.Cur = uint64(len(ents) + maxHeldDirs + 16)
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	err = removeAll(top)
	unix.Setrlimit(unix.RLIMIT_NOFILE, &old)
	if err != nil {
		if len(err.Error()) > 500 {
			t.Errorf("error message of %d bytes", len(err.Error()))
		}
		t.Fatalf("removeAll: %.500v", err)
	}
	if _, err := os.Lstat(top); !os.IsNotExist(err) {
		t.Errorf("%s still there: %v", top, err)
	}
	if _, err := os.Stat(filepath.Join(outside, "keep")); err != nil {
		t.Errorf("a symlink was followed: %v", err)
	}
	if ents, _ := os.ReadDir(base); len(ents) != 1 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("left in %s: %s", base, strings.Join(names, " "))
	}
}

func TestRemoveAllOddPaths(t *testing.T) {
	base := t.TempDir()
	if err := removeAll(filepath.Join(base, "missing")); err != nil {
		t.Errorf("missing path: %v", err)
	}
	f := filepath.Join(base, "file")
	os.WriteFile(f, nil, 0o644)
	if err := removeAll(f); err != nil {
		t.Errorf("a file: %v", err)
	}
	dir := filepath.Join(base, "dir")
	os.Mkdir(dir, 0o755)
	l := filepath.Join(base, "link")
	os.Symlink(dir, l)
	if err := removeAll(l); err != nil {
		t.Errorf("a symlink: %v", err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("the symlink's target went: %v", err)
	}
}
