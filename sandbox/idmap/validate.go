package idmap

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"syscall"
)

// MaxLines is the most lines the kernel accepts in one uid_map or gid_map
// (UID_GID_MAP_MAX_EXTENTS, 340 since Linux 4.15; older kernels took 5).
const MaxLines = 340

// maxMapBytes bounds the text of a map: the kernel takes a map in a single
// write() shorter than one page, and newuidmap/newgidmap write exactly the
// text Format produces. 4096 is the smallest page size Linux uses, so this
// holds on every architecture.
const maxMapBytes = 4096 - 1

// ErrInvalidMap is wrapped by every error Validate returns.
var ErrInvalidMap = errors.New("invalid id map")

// Validate checks what the kernel would check, before anything is written:
// at least one line, at most MaxLines, every line non-empty and inside the
// valid id space, and no two lines overlapping on the inside or on the
// outside (the kernel rejects both, since a mapping must be a bijection).
// It also checks the rendered text fits one write.
func Validate(m []syscall.SysProcIDMap) error {
	if err := validate(m); err != nil {
		return fmt.Errorf("idmap: %w", err)
	}
	return nil
}

// validate is Validate without the package prefix, for callers that add
// their own context.
func validate(m []syscall.SysProcIDMap) error {
	if len(m) == 0 {
		return fmt.Errorf("%w: no lines", ErrInvalidMap)
	}
	if len(m) > MaxLines {
		return fmt.Errorf("%w: %d lines, the kernel accepts at most %d; use fewer, larger subordinate ranges",
			ErrInvalidMap, len(m), MaxLines)
	}
	for i, e := range m {
		if e.Size < 1 || e.ContainerID < 0 || e.HostID < 0 ||
			int64(e.ContainerID)+int64(e.Size)-1 > maxID || int64(e.HostID)+int64(e.Size)-1 > maxID {
			return fmt.Errorf("%w: line %d (%d %d %d) is empty or outside ids 0..%d",
				ErrInvalidMap, i+1, e.ContainerID, e.HostID, e.Size, int64(maxID))
		}
	}
	if err := checkOverlap(m, "inside", func(e syscall.SysProcIDMap) int { return e.ContainerID }); err != nil {
		return err
	}
	if err := checkOverlap(m, "outside", func(e syscall.SysProcIDMap) int { return e.HostID }); err != nil {
		return err
	}
	if n := len(Format(m)); n > maxMapBytes {
		return fmt.Errorf("%w: map text is %d bytes, the kernel takes at most %d in one write; use fewer, larger subordinate ranges",
			ErrInvalidMap, n, maxMapBytes)
	}
	return nil
}

// checkOverlap sorts the lines by the start that side picks and compares
// neighbours, O(n log n) rather than all pairs.
func checkOverlap(m []syscall.SysProcIDMap, side string, start func(syscall.SysProcIDMap) int) error {
	s := slices.Clone(m)
	slices.SortFunc(s, func(a, b syscall.SysProcIDMap) int { return cmp.Compare(start(a), start(b)) })
	for i := 1; i < len(s); i++ {
		prev, cur := s[i-1], s[i]
		if int64(start(prev))+int64(prev.Size) > int64(start(cur)) {
			return fmt.Errorf("%w: lines (%d %d %d) and (%d %d %d) overlap on the %s",
				ErrInvalidMap, prev.ContainerID, prev.HostID, prev.Size, cur.ContainerID, cur.HostID, cur.Size, side)
		}
	}
	return nil
}
