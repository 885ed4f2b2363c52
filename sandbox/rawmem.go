package sandbox

import (
	"bytes"
	"cmp"
	"os"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"
)

// A pid 1 must have memory of its own, so the raw engine forks it: the
// kernel copies the page tables of all of nook's writable memory,
// write-protects nook's pages, and every page nook or the child writes
// afterwards takes a copy-on-write fault. In a VM
// whose page-table updates are expensive that measured about 1.5 ms in
// clone(2) and 2-3 ms of faults afterwards, per sandbox. The child needs
// only a few dozen pages of that memory (rawProg.childRanges), so for the
// fork nook marks the rest of its anonymous memory MADV_DONTFORK: the child
// gets none of it (it would fault on any of it, which it never touches) and
// nook no copy-on-write faults. forkOnly sets that up; its result undoes it.
//
// Only anonymous, private, writable mappings are marked, except the one
// holding the binary's bss (globals): the Go heap, goroutine stacks, the
// runtime's own structures. Callers hold syscall.ForkLock throughout, so
// no fork of the standard library's (whose child runs on a copy of its
// goroutine's stack) can happen while the marks are there.

// forkOnly marks nook's anonymous memory outside keep as not to be copied
// into a forked child and returns the function that removes the marks.
// With keep empty, or when /proc/self/maps cannot be read, it marks
// nothing.
func forkOnly(keep [][2]uintptr) (undo func()) {
	if len(keep) == 0 {
		return func() {}
	}
	page := uintptr(unix.Getpagesize())
	ks := make([][2]uintptr, 0, len(keep))
	for _, k := range keep {
		ks = append(ks, [2]uintptr{k[0] &^ (page - 1), (k[1] + page - 1) &^ (page - 1)})
	}
	slices.SortFunc(ks, func(a, b [2]uintptr) int { return cmp.Compare(a[0], b[0]) })
	var marked [][2]uintptr
	mark := func(from, to uintptr) {
		if from >= to {
			return
		}
		if madvise(from, to-from, unix.MADV_DONTFORK) == nil {
			marked = append(marked, [2]uintptr{from, to})
		}
	}
	bss := bssAddr()
	for _, m := range anonMappings() {
		if m[0] <= bss && bss < m[1] {
			continue
		}
		at := m[0]
		for _, k := range ks {
			if k[1] <= at || k[0] >= m[1] {
				continue
			}
			mark(at, k[0])
			at = max(at, k[1])
		}
		mark(at, m[1])
	}
	return func() {
		for _, r := range marked {
			madvise(r[0], r[1]-r[0], unix.MADV_DOFORK)
		}
	}
}

// anonMappings lists the anonymous, private, writable mappings of this
// process from /proc/self/maps.
func anonMappings() [][2]uintptr {
	buf, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return nil
	}
	var out [][2]uintptr
	for line := range bytes.Lines(buf) {
		// start-end perms offset dev inode [path]
		f := bytes.Fields(line)
		if len(f) != 5 || len(f[1]) < 4 || f[1][1] != 'w' || f[1][3] != 'p' || string(f[4]) != "0" {
			continue
		}
		lo, hi, ok := bytes.Cut(f[0], []byte("-"))
		if !ok {
			continue
		}
		s, err1 := strconv.ParseUint(string(lo), 16, 64)
		e, err2 := strconv.ParseUint(string(hi), 16, 64)
		if err1 != nil || err2 != nil || s >= e {
			continue
		}
		out = append(out, [2]uintptr{uintptr(s), uintptr(e)})
	}
	return out
}

// madvise is madvise(2) on an address range that is no Go slice.
func madvise(addr, n uintptr, advice int) error {
	_, _, e := unix.Syscall(unix.SYS_MADVISE, addr, n, uintptr(advice))
	if e != 0 {
		return e
	}
	return nil
}
