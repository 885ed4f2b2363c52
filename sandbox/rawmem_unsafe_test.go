package sandbox

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"github.com/nook-project/nook/internal/phase"
)

// vmFlags returns the VmFlags of the mapping of this process that holds
// addr, from /proc/self/smaps ("dc" is MADV_DONTFORK).
func vmFlags(t *testing.T, addr uintptr) []string {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	in := false
	for sc.Scan() {
		l := sc.Text()
		if lo, hi, ok := mapsRange(l); ok {
			in = lo <= addr && addr < hi
			continue
		}
		if in && strings.HasPrefix(l, "VmFlags:") {
			return strings.Fields(strings.TrimPrefix(l, "VmFlags:"))
		}
	}
	t.Fatalf("no mapping holds %#x", addr)
	return nil
}

// mapsRange parses the range of a maps or smaps mapping line.
func mapsRange(l string) (lo, hi uintptr, ok bool) {
	f := strings.Fields(l)
	if len(f) < 5 {
		return 0, 0, false
	}
	a, b, ok := strings.Cut(f[0], "-")
	if !ok {
		return 0, 0, false
	}
	x, err1 := strconv.ParseUint(a, 16, 64)
	y, err2 := strconv.ParseUint(b, 16, 64)
	return uintptr(x), uintptr(y), err1 == nil && err2 == nil
}

func has(flags []string, f string) bool {
	for _, x := range flags {
		if x == f {
			return true
		}
	}
	return false
}

// TestForkOnlyMarks: forkOnly marks nook's anonymous memory not to be
// copied, except the ranges to keep and the binary's globals, and its
// result takes every mark off again.
func TestForkOnlyMarks(t *testing.T) {
	buf := make([]byte, 1<<20)
	for i := range buf {
		buf[i] = 1
	}
	base := uintptr(unsafe.Pointer(&buf[0]))
	page := uintptr(os.Getpagesize())
	kept := (base + 512<<10) &^ (page - 1)
	undo := forkOnly([][2]uintptr{{kept + 10, kept + 20}})
	if !has(vmFlags(t, base), "dc") {
		t.Errorf("the heap outside the kept range is not marked dontfork (VmFlags %v)", vmFlags(t, base))
	}
	if has(vmFlags(t, kept), "dc") {
		t.Errorf("the kept page is marked dontfork")
	}
	if has(vmFlags(t, bssAddr()), "dc") {
		t.Errorf("the binary's bss is marked dontfork")
	}
	undo()
	for _, a := range []uintptr{base, kept, base + 1<<20 - 1} {
		if has(vmFlags(t, a), "dc") {
			t.Errorf("%#x is still marked dontfork after undo", a)
		}
	}
	if forkOnly(nil); has(vmFlags(t, base), "dc") {
		t.Errorf("forkOnly(nil) marked memory")
	}
}

// TestPID1HoldsNoHeap: the raw engine forks pid 1 with only the memory it
// runs on, so nook's heap (here a buffer of 4 MiB) is not mapped in it;
// NOOK_RAW_FULL_FORK=1, the old way, maps it (which shows the check can
// see it). Reading the maps of the non-dumpable pid 1 needs root.
func TestPID1HoldsNoHeap(t *testing.T) {
	if engineForced {
		t.Skip("NOOK_ENGINE=init: the Go init's pid 1 is nook re-executed, with a heap of its own")
	}
	if !haveCloneVM || !useCloneVM {
		t.Skip("this architecture (or NOOK_RAW_NO_VM=1) forks raw children whole")
	}
	if !phase.TestHooks {
		t.Skip("SKIPPED LOUDLY: built without -tags nooktest, so NOOK_RAW_FULL_FORK (the other half of this test) does nothing (test/all.sh builds with it)")
	}
	if !isRoot() {
		t.Skip("reading the maps of a non-dumpable pid 1 needs root (this runs in CI as root)")
	}
	secret := make([]byte, 4<<20)
	for i := range secret {
		secret[i] = 'n'
	}
	addr := uintptr(unsafe.Pointer(&secret[2<<20]))
	mapped := func(full bool) bool {
		if full {
			t.Setenv("NOOK_RAW_FULL_FORK", "1")
		} else {
			os.Unsetenv("NOOK_RAW_FULL_FORK")
		}
		s := baseSpec()
		s.Args = []string{"/bin/sleep", "60"}
		p, err := Start(s)
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			p.Signal(syscall.SIGKILL)
			p.Wait()
		}()
		// Start returns once the command runs: pid 1 is in its wait loop.
		maps, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", p.Pid))
		if err != nil {
			t.Fatalf("read the maps of pid 1: %v", err)
		}
		for _, l := range strings.Split(string(maps), "\n") {
			if lo, hi, ok := mapsRange(l); ok && lo <= addr && addr < hi {
				return true
			}
		}
		return false
	}
	if mapped(false) {
		t.Errorf("pid 1 maps nook's heap (a buffer at %#x)", addr)
	}
	if !mapped(true) {
		t.Errorf("with NOOK_RAW_FULL_FORK=1 pid 1 does not map nook's heap either: the check sees nothing")
	}
	runtime.KeepAlive(secret)
}

// TestForkOnlyCrashFallsBack: a raw child forked without memory it needs
// (here: without its own program) crashes before the command starts; the
// sandbox starts anyway, forked whole, and later ones are forked whole too.
func TestForkOnlyCrashFallsBack(t *testing.T) {
	if engineForced || !haveCloneVM || !useCloneVM {
		t.Skip("only the raw engine with rawCloneVM forks with forkOnly")
	}
	t.Cleanup(func() {
		childRangesHook = nil
		forkOnlyOff.Store(false)
	})
	childRangesHook = func(keep [][2]uintptr) [][2]uintptr {
		return keep[len(keep)-1:] // the thread's TLS only
	}
	s := baseSpec()
	s.Args = []string{"/bin/sh", "-c", "exit 7"}
	st, err := Run(s)
	if err != nil || st.ExitCode() != 7 {
		t.Fatalf("status %+v, error %v: want the command's exit 7 after the retry", st, err)
	}
	if !forkOnlyOff.Load() {
		t.Errorf("the crash did not turn forkOnly off")
	}
}
