package sandbox

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Capability sets as lists, for faces that compute what to keep.

// AllCaps lists the capabilities the running kernel knows, by number.
func AllCaps() []int {
	out := make([]int, 0, lastCap()+1)
	for c := 0; c <= lastCap(); c++ {
		out = append(out, c)
	}
	return out
}

// EffectiveCaps lists the capabilities in the calling thread's effective set.
func EffectiveCaps() ([]int, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return nil, os.NewSyscallError("capget", err)
	}
	eff := uint64(data[0].Effective) | uint64(data[1].Effective)<<32
	var out []int
	for _, c := range AllCaps() {
		if eff&(1<<uint(c)) != 0 {
			out = append(out, c)
		}
	}
	return out, nil
}

// applyCapsAs is applyCaps with the ways of leaving the sets that
// s.Caps can ask for. The bounding set is kept only under no_new_privs:
// otherwise a root command's next exec could regain what keep left out.
func applyCapsAs(s *Spec, keep capSet, nonRoot bool) error {
	c := s.Caps
	if !c.AmbientAlways && !c.KeepBounding && !c.LeaveSets {
		return applyCaps(keep, nonRoot)
	}
	last := lastCap()
	if !c.KeepBounding || !s.NoNewPrivs {
		for cp := 0; cp <= last; cp++ {
			if keep&(1<<uint(cp)) == 0 {
				if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(cp), 0, 0, 0); err != nil {
					return fmt.Errorf("drop %s from the bounding set: %w", CapName(cp), err)
				}
			}
		}
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return os.NewSyscallError("capget", err)
	}
	for i, half := range []uint32{uint32(keep), uint32(keep >> 32)} {
		data[i].Effective &= half
		data[i].Permitted &= half
		data[i].Inheritable = data[i].Permitted
		if c.LeaveSets {
			data[i].Inheritable = 0
		}
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return os.NewSyscallError("capset", err)
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return os.NewSyscallError("clear ambient capabilities", err)
	}
	if c.LeaveSets || !nonRoot && !c.AmbientAlways {
		return nil
	}
	have := capSet(data[0].Permitted) | capSet(data[1].Permitted)<<32
	for cp := 0; cp <= last; cp++ {
		if have&(1<<uint(cp)) != 0 {
			if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(cp), 0, 0); err != nil {
				return fmt.Errorf("raise %s into the ambient set: %w", CapName(cp), err)
			}
		}
	}
	return nil
}
