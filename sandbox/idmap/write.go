package idmap

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"

	"github.com/nook-project/nook/internal/procpid"
)

// NeedsHelper reports whether writing m needs the setuid newuidmap or
// newgidmap. The kernel lets an unprivileged process write a map for a
// child namespace it owns only if the map is a single line that maps the
// writer's own id (hostID) with size 1; root (CAP_SETUID/CAP_SETGID over
// the parent namespace) may write anything. Check the uid and gid maps
// separately and use the helpers if either needs them.
func NeedsHelper(m []syscall.SysProcIDMap, hostID int, isRoot bool) bool {
	if isRoot {
		return false
	}
	return len(m) != 1 || m[0].Size != 1 || m[0].HostID != hostID
}

// Write installs the maps for process pid, which must be in a new user
// namespace whose maps are still unwritten (each map can be written once).
//
// With useHelper it runs newuidmap and newgidmap concurrently, and their
// output becomes part of any error. Otherwise it writes /proc/PID/uid_map,
// then "deny" to /proc/PID/setgroups, then /proc/PID/gid_map: an
// unprivileged writer must deny setgroups before the kernel accepts a
// gid_map, so that the child cannot drop supplementary groups that were
// being used to deny it access. Root skips the deny (it may write gid_map
// anyway, and the child keeps setgroups, as real root inside would expect);
// newgidmap decides about setgroups itself.
func Write(pid int, uidMap, gidMap []syscall.SysProcIDMap, useHelper bool) error {
	if pid <= 0 {
		return fmt.Errorf("idmap: write maps: invalid pid %d", pid)
	}
	for _, m := range []struct {
		name string
		m    []syscall.SysProcIDMap
	}{{"uid", uidMap}, {"gid", gidMap}} {
		if err := validate(m.m); err != nil {
			return fmt.Errorf("idmap: write %s map for pid %d: %w", m.name, pid, err)
		}
	}
	// pid is this process's view; /proc (and newuidmap, which reads
	// the same /proc) may be another pid namespace's.
	procPid, err := procpid.Translate(pid)
	if err != nil {
		return fmt.Errorf("idmap: write maps: %w", err)
	}
	if useHelper {
		return runHelpers(procPid, uidMap, gidMap)
	}
	dir := "/proc/" + strconv.Itoa(procPid)
	if err := writeProcFile(dir+"/uid_map", Format(uidMap)); err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		// Kernels before 3.19 have no setgroups file and no such rule.
		if err := writeProcFile(dir+"/setgroups", "deny"); err != nil && !errors.Is(err, syscall.ENOENT) {
			return err
		}
	}
	return writeProcFile(dir+"/gid_map", Format(gidMap))
}

// writeProcFile writes s with exactly one write(2) at offset 0: the
// kernel parses a map only from a single write and refuses any later one,
// so a retried or split write would fail confusingly, and os.WriteFile's
// O_CREATE|O_TRUNC make no sense for a proc file.
func writeProcFile(path, s string) error {
	fd, err := syscall.Open(path, syscall.O_WRONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("idmap: open %s: %w", path, err)
	}
	n, err := syscall.Write(fd, []byte(s))
	if cerr := syscall.Close(fd); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("idmap: write %s: %w", path, err)
	}
	if n != len(s) {
		return fmt.Errorf("idmap: write %s: short write (%d of %d bytes)", path, n, len(s))
	}
	return nil
}
