package session

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Filesystems an overlay's upper directory cannot live on (they lack what
// overlayfs needs of an upper: xattrs, whiteouts, RENAME_WHITEOUT) or that
// are themselves overlays; from statfs(2)'s f_type.
func noUpperFS(fsType int64) (name string, bad bool) {
	switch fsType {
	case 0x794c7630:
		return "overlayfs", true
	case 0x6969:
		return "NFS", true
	case 0x65735546:
		return "FUSE", true
	case 0xff534d42:
		return "CIFS", true
	case 0xfe534d42:
		return "SMB2", true
	case 0x517b:
		return "SMB", true
	case 0x01021997:
		return "9p", true
	case 0x73717368:
		return "squashfs", true
	case 0x9fa0:
		return "proc", true
	}
	return "", false
}

// overlayRefusal says why overlay sessions cannot work here, or "" when
// they can as far as can be told without mounting: the kernel must allow
// overlayfs in a user namespace (Linux 5.11) unless the caller is real
// root, and the sessions directory must be on a filesystem that can hold
// an upper directory. Begin then makes a copy session instead: checking
// costs a uname and a statfs, so begin stays O(1).
func overlayRefusal(release string, fsType int64, realRoot bool) string {
	if name, bad := noUpperFS(fsType); bad {
		return fmt.Sprintf("the sessions directory is on %s, which cannot hold an overlay's upper directory", name)
	}
	if !realRoot && !kernelAtLeast(release, 5, 11) {
		return fmt.Sprintf("kernel %s does not allow overlayfs in a user namespace (Linux 5.11 does)", release)
	}
	return ""
}

func kernelAtLeast(release string, major, minor int) bool {
	f := strings.FieldsFunc(release, func(r rune) bool { return r == '.' || r == '-' })
	if len(f) < 2 {
		return true // unknown: let the mount decide
	}
	ma, err1 := strconv.Atoi(f[0])
	mi, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil {
		return true
	}
	return ma > major || ma == major && mi >= minor
}

// overlayRefusedHere runs overlayRefusal for dir on this machine.
func overlayRefusedHere(dir string, realRoot bool) string {
	var u unix.Utsname
	var st unix.Statfs_t
	if unix.Uname(&u) != nil || unix.Statfs(dir, &st) != nil {
		return ""
	}
	return overlayRefusal(unix.ByteSliceToString(u.Release[:]), int64(st.Type), realRoot)
}
