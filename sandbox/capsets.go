package sandbox

import (
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
