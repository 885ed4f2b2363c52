package sandbox

import (
	"errors"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// overflowID is what stat shows for an id this process's user namespace
// does not map (the sysctl at sysctl, 65534 by default), or -1 when the
// namespace maps every id (map, this process's uid_map or gid_map, is the
// initial namespace's "0 0 4294967295") and nothing is unmapped.
func overflowID(mapFile, sysctl string) int64 {
	if b, err := os.ReadFile("/proc/self/" + mapFile); err == nil {
		if f := strings.Fields(string(b)); len(f) == 3 && f[0] == "0" && f[1] == "0" && f[2] == "4294967295" {
			return -1
		}
	}
	if b, err := os.ReadFile(sysctl); err == nil {
		if v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil {
			return v
		}
	}
	return 65534
}

// hasACL: the file behind fd has a POSIX access ACL. An error other than
// "no such attribute" or "not supported" counts as one: a relay is the
// safe side.
func hasACL(fd int) bool {
	_, err := unix.Fgetxattr(fd, "system.posix_acl_access", nil)
	return err == nil || !(errors.Is(err, unix.ENODATA) || errors.Is(err, unix.EOPNOTSUPP))
}
