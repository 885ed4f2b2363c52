package session

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// User is an entry of a session's /etc/passwd.
type User struct {
	Name  string
	UID   int
	GID   int
	Home  string
	Shell string
	// Groups are the user's supplementary groups in the session's
	// /etc/group (as initgroups finds them).
	Groups []int
}

// memberOf returns the gids of the groups in the group file data that
// list name as a member.
func memberOf(data []byte, name string) []int {
	var out []int
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) < 4 {
			continue
		}
		gid, err := strconv.Atoi(f[2])
		if err != nil {
			continue
		}
		for _, m := range strings.Split(f[3], ",") {
			if strings.TrimSpace(m) == name {
				out = append(out, gid)
				break
			}
		}
	}
	return out
}

// readLayered reads file rel (e.g. "etc/passwd") as a command in the
// session would see it, without mounting anything: from the overlay's upper
// directory when it is there (copy-up copies whole files), not at all when
// the upper holds a whiteout for it or an opaque parent, else from the
// lower layer. Paths are resolved inside each layer, so a symlink in a
// hostile chroot cannot make nook read a host file.
func readLayered(upper, lower, rel string) ([]byte, error) {
	if upper != "" {
		b, err := readInRoot(upper, rel)
		switch {
		case err == nil:
			return b, nil
		case errors.Is(err, errWhiteout):
			return nil, fs.ErrNotExist
		case !errors.Is(err, fs.ErrNotExist):
			return nil, err
		}
		if opaqueParent(upper, rel) {
			return nil, fs.ErrNotExist
		}
	}
	return readInRoot(lower, rel)
}

var errWhiteout = errors.New("whiteout")

func readInRoot(root, rel string) ([]byte, error) {
	h, err := pathrs.OpenInRoot(root, rel)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(h.Fd()), &st); err != nil {
		return nil, &os.PathError{Op: "stat", Path: path.Join(root, rel), Err: err}
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFCHR:
		if st.Rdev == 0 {
			return nil, errWhiteout
		}
		return nil, fmt.Errorf("%s is a device, not a file", path.Join(root, rel))
	case unix.S_IFREG:
	default:
		return nil, fmt.Errorf("%s is not a regular file", path.Join(root, rel))
	}
	f, err := pathrs.Reopen(h, unix.O_RDONLY|unix.O_CLOEXEC)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, 64<<20))
}

// opaqueParent reports whether a directory on the way to rel in the upper
// layer is marked opaque (it hides the lower layer's directory) or is
// itself a whiteout.
func opaqueParent(upper, rel string) bool {
	dir := path.Dir(rel)
	for dir != "." && dir != "/" {
		h, err := pathrs.OpenInRoot(upper, dir)
		if err == nil {
			for _, x := range []string{"user.overlay.opaque", "trusted.overlay.opaque"} {
				buf := make([]byte, 8)
				n, err := unix.Getxattr(fmt.Sprintf("/proc/self/fd/%d", h.Fd()), x, buf)
				if err == nil && n > 0 && buf[0] == 'y' {
					h.Close()
					return true
				}
			}
			var st unix.Stat_t
			if unix.Fstat(int(h.Fd()), &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0 {
				h.Close()
				return true
			}
			h.Close()
		}
		dir = path.Dir(dir)
	}
	return false
}

// parsePasswd finds name (or, when name is a number, that uid) in a
// passwd file.
func parsePasswd(data []byte, name string) (User, bool) {
	num, numErr := strconv.Atoi(name)
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) < 7 {
			continue
		}
		uid, err1 := strconv.Atoi(f[2])
		gid, err2 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil {
			continue
		}
		if f[0] == name || (numErr == nil && uid == num) {
			return User{Name: f[0], UID: uid, GID: gid, Home: f[5], Shell: f[6]}, true
		}
	}
	return User{}, false
}

// usedIDs returns the ids in column col (2 for passwd uids and group
// gids) and the names in column 0.
func usedIDs(data []byte, col int) (ids map[int]bool, names map[string]int) {
	ids, names = map[int]bool{}, map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) <= col {
			continue
		}
		if id, err := strconv.Atoi(f[col]); err == nil {
			ids[id] = true
			names[f[0]] = id
		}
	}
	return ids, names
}

// pickID returns want when it is free and below 65536, else the first free
// id from 1000.
func pickID(used map[int]bool, want int) int {
	if want > 0 && want < 65536 && !used[want] {
		return want
	}
	for id := 1000; ; id++ {
		if !used[id] {
			return id
		}
	}
}

// helperAddUser runs inside a session's overlay, mounted at root, as root
// of the session's mapping: it appends the user (and a group of the same
// name unless the gid's group exists) to passwd, group and shadow, and
// makes the home directory. args: ROOT NAME UID GID HOME.
func helperAddUser(args []string) error {
	root, name, home := args[0], args[1], args[4]
	uid, err1 := strconv.Atoi(args[2])
	gid, err2 := strconv.Atoi(args[3])
	if err1 != nil || err2 != nil {
		return fmt.Errorf("adduser: bad ids %q %q", args[2], args[3])
	}
	grp, err := readInRoot(root, "etc/group")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read /etc/group: %w", err)
	}
	gids, _ := usedIDs(grp, 2)
	if !gids[gid] {
		if err := appendInRoot(root, "etc/group", fmt.Sprintf("%s:x:%d:\n", name, gid), 0o644); err != nil {
			return err
		}
	}
	if err := appendInRoot(root, "etc/passwd", fmt.Sprintf("%s:x:%d:%d::%s:/bin/sh\n", name, uid, gid, home), 0o644); err != nil {
		return err
	}
	if _, err := readInRoot(root, "etc/shadow"); err == nil {
		if err := appendInRoot(root, "etc/shadow", name+":!:19000:0:99999:7:::\n", 0o640); err != nil {
			return err
		}
	}
	rootDir, err := os.OpenFile(root, os.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open the session root: %w", err)
	}
	defer rootDir.Close()
	h, err := pathrs.MkdirAllHandle(rootDir, strings.TrimPrefix(home, "/"), 0o755)
	if err != nil {
		return fmt.Errorf("create home %s: %w", home, err)
	}
	defer h.Close()
	if err := unix.Fchownat(int(h.Fd()), "", uid, gid, unix.AT_EMPTY_PATH); err != nil {
		return fmt.Errorf("give home %s to %s: %w", home, name, err)
	}
	return nil
}

// appendInRoot appends text to rel inside root, creating it with mode when
// missing, without following a symlink out of root.
func appendInRoot(root, rel, text string, mode uint32) error {
	dir, err := pathrs.OpenInRoot(root, path.Dir(rel))
	if err != nil {
		return fmt.Errorf("open /%s: %w", path.Dir(rel), err)
	}
	defer dir.Close()
	fd, err := unix.Openat(int(dir.Fd()), path.Base(rel), unix.O_RDWR|unix.O_APPEND|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC, mode)
	if err != nil {
		return fmt.Errorf("open /%s to add a user: %w", rel, err)
	}
	f := os.NewFile(uintptr(fd), rel)
	defer f.Close()
	// A file whose last line has no newline would swallow the new line.
	var st unix.Stat_t
	if unix.Fstat(fd, &st) == nil && st.Size > 0 {
		last := make([]byte, 1)
		if n, _ := unix.Pread(fd, last, st.Size-1); n == 1 && last[0] != '\n' {
			text = "\n" + text
		}
	}
	if _, err := f.WriteString(text); err != nil {
		return fmt.Errorf("add a user to /%s: %w", rel, err)
	}
	return nil
}
