package sandbox

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// capNames are the capability names by number (capabilities(7)).
var capNames = []string{
	"chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill", "setgid", "setuid",
	"setpcap", "linux_immutable", "net_bind_service", "net_broadcast", "net_admin", "net_raw",
	"ipc_lock", "ipc_owner", "sys_module", "sys_rawio", "sys_chroot", "sys_ptrace", "sys_pacct",
	"sys_admin", "sys_boot", "sys_nice", "sys_resource", "sys_time", "sys_tty_config", "mknod",
	"lease", "audit_write", "audit_control", "setfcap", "mac_override", "mac_admin", "syslog",
	"wake_alarm", "block_suspend", "audit_read", "perfmon", "bpf", "checkpoint_restore",
}

// lastCap is the highest capability the running kernel knows, read once.
var lastCap = sync.OnceValue(func() int {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			return n
		}
	}
	return len(capNames) - 1
})

// ParseCap turns "CAP_SYS_ADMIN", "sys_admin" or a number into a capability
// number.
func ParseCap(name string) (int, error) {
	n := strings.ToLower(strings.TrimPrefix(strings.ToUpper(name), "CAP_"))
	for i, c := range capNames {
		if c == n {
			return i, nil
		}
	}
	if i, err := strconv.Atoi(n); err == nil && i >= 0 && i < 64 {
		return i, nil
	}
	return 0, fmt.Errorf("unknown capability %q (see capabilities(7))", name)
}

// CapName is the CAP_ name of capability c.
func CapName(c int) string {
	if c >= 0 && c < len(capNames) {
		return "CAP_" + strings.ToUpper(capNames[c])
	}
	return "CAP_" + strconv.Itoa(c)
}

const (
	capSysChroot = 18
	capSysAdmin  = 21
)

// commandCaps is the set the command keeps: Caps applied to the full set,
// or, for real root switching to another uid without a user namespace
// (which loses every capability at the switch), only what Add names.
func commandCaps(s *Spec, id *identity) (capSet, error) {
	if !id.userns && id.switchUID > 0 {
		return addedCaps(s.Caps)
	}
	return keptCaps(s.Caps)
}

// addedCaps is only what Add names (for a process that starts from none).
func addedCaps(c Capabilities) (capSet, error) {
	return keptCaps(Capabilities{Drop: []string{"ALL"}, Add: c.Add})
}

// capSet is a set of capabilities as a bit mask.
type capSet uint64

// keptCaps applies drop and add (in that order) to the full set.
func keptCaps(c Capabilities) (capSet, error) {
	all := capSet(1)<<(uint(lastCap())+1) - 1
	set := all
	edit := func(names []string, add bool) error {
		for _, n := range names {
			var bits capSet
			if strings.EqualFold(n, "ALL") {
				bits = all
			} else {
				i, err := ParseCap(n)
				if err != nil {
					return err
				}
				bits = 1 << uint(i)
			}
			if add {
				set |= bits
			} else {
				set &^= bits
			}
		}
		return nil
	}
	if err := edit(c.Drop, false); err != nil {
		return 0, err
	}
	if err := edit(c.Add, true); err != nil {
		return 0, err
	}
	return set & all, nil
}

// applyCaps leaves the calling thread with exactly keep in its bounding,
// permitted, effective and inheritable sets, and, when the command runs as a
// non-root uid (which loses every capability at execve), in the ambient set
// too. Must run on the thread that will exec.
func applyCaps(keep capSet, nonRoot bool) error {
	last := lastCap()
	for c := 0; c <= last; c++ {
		if keep&(1<<uint(c)) != 0 {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil {
			return fmt.Errorf("drop %s from the bounding set: %w", CapName(c), err)
		}
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return os.NewSyscallError("capget", err)
	}
	lo, hi := uint32(keep), uint32(keep>>32)
	data[0].Effective &= lo
	data[0].Permitted &= lo
	data[0].Inheritable = data[0].Permitted
	data[1].Effective &= hi
	data[1].Permitted &= hi
	data[1].Inheritable = data[1].Permitted
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return os.NewSyscallError("capset", err)
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return os.NewSyscallError("clear ambient capabilities", err)
	}
	if !nonRoot {
		return nil
	}
	have := capSet(data[0].Permitted) | capSet(data[1].Permitted)<<32
	for c := 0; c <= last; c++ {
		if have&(1<<uint(c)) == 0 {
			continue
		}
		if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(c), 0, 0); err != nil {
			return fmt.Errorf("raise %s into the ambient set: %w", CapName(c), err)
		}
	}
	return nil
}
