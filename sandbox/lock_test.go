package sandbox

import (
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestLockMaps: the outer namespace maps the host ids of an identity onto
// themselves, and ids named during set-up are translated into them.
func TestLockMaps(t *testing.T) {
	subidsRoot := []syscall.SysProcIDMap{{ContainerID: 0, HostID: 1000, Size: 1}, {ContainerID: 1, HostID: 100000, Size: 65535}}
	for _, c := range []struct {
		name  string
		in    []syscall.SysProcIDMap
		outer []syscall.SysProcIDMap
		ids   map[int]int // inside → outer
	}{
		{"root", []syscall.SysProcIDMap{{ContainerID: 0, HostID: 1000, Size: 1}},
			[]syscall.SysProcIDMap{{ContainerID: 1000, HostID: 1000, Size: 1}}, map[int]int{0: 1000, 5: 5}},
		{"self", []syscall.SysProcIDMap{{ContainerID: 1000, HostID: 1000, Size: 1}},
			[]syscall.SysProcIDMap{{ContainerID: 1000, HostID: 1000, Size: 1}}, map[int]int{1000: 1000, 5: 5}},
		{"subids-root", subidsRoot,
			[]syscall.SysProcIDMap{{ContainerID: 1000, HostID: 1000, Size: 1}, {ContainerID: 100000, HostID: 100000, Size: 65535}},
			map[int]int{0: 1000, 1: 100000, 5: 100004, 65535: 165534, 65536: 65536}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if d := cmp.Diff(c.outer, identityMaps(c.in)); d != "" {
				t.Errorf("identityMaps (-want +got):\n%s", d)
			}
			for in, want := range c.ids {
				if got := outerID(c.in, in); got != want {
					t.Errorf("outerID(%d) = %d, want %d", in, got, want)
				}
			}
		})
	}
}
