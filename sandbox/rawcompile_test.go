package sandbox

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestRawMountsNeedNoExtraSyscall: a mount (move_mount) or a chmod that
// succeeds jumps past its failure handling itself; no getpid runs on the
// success path just to jump, so more mounts and chmods add none.
func TestRawMountsNeedNoExtraSyscall(t *testing.T) {
	// Only compiled, never run: the raw engine's program whatever engine
	// the suite forces.
	t.Setenv("NOOK_ENGINE", "raw")
	getpids := func(extra []Mount) int {
		mode := uint32(0o700)
		s := &Spec{Mounts: append([]Mount{
			{Op: OpBind, Source: "/", Dest: "/", ReadOnly: true},
			{Op: OpTmpfs, Dest: "/tmp"},
			{Op: OpChmod, Dest: "/tmp", Mode: &mode},
		}, extra...), Args: []string{"true"}, Env: []string{"PATH=/usr/bin:/bin"}}
		id := &identity{userns: true, mode: "self", switchUID: -1, switchGID: -1}
		rs := &rawSetup{spec: s, id: id, errFd: 100, statusFd: 101, syncFd: -1, pidFd: -1, ttyFd: -1, console: -1,
			selfMaps: true, uidMapLine: "0 1000 1\n", gidMapLine: "0 1000 1\n", shareMemory: true,
			moves: []fdMove{{0, 0}, {1, 1}, {2, 2}}}
		p, err := compileRaw(rs)
		if err != nil {
			t.Fatalf("compile: %v", err)
		}
		n := 0
		for _, in := range p.insns {
			if in.kind == rkSyscall && in.nr == unix.SYS_GETPID {
				n++
			}
		}
		return n
	}
	mode := uint32(0o755)
	base := getpids(nil)
	more := getpids([]Mount{
		{Op: OpTmpfs, Dest: "/tmp/a"}, {Op: OpTmpfs, Dest: "/tmp/b"}, {Op: OpTmpfs, Dest: "/tmp/c"},
		{Op: OpChmod, Dest: "/tmp/a", Mode: &mode}, {Op: OpChmod, Dest: "/tmp/b", Mode: &mode},
	})
	if more != base {
		t.Errorf("three more tmpfs mounts and two chmods add %d getpid instructions, want none", more-base)
	}
}

// rawCString is the NUL-terminated string at addr in one of p's kept byte
// slices, or "" with false.
func rawCString(p *rawProg, addr uintptr) (string, bool) {
	for _, k := range p.keep {
		b, ok := k.([]byte)
		if !ok || len(b) == 0 {
			continue
		}
		start := addrOf(b)
		if addr < start || addr >= start+uintptr(len(b)) {
			continue
		}
		s := b[addr-start:]
		for i, c := range s {
			if c == 0 {
				return string(s[:i]), true
			}
		}
	}
	return "", false
}

// TestRawOverlayIndexOff: the raw engine's overlay gives index=off and
// metacopy=off to overlayfs in every way it tries exactly when IndexOff
// asks (the kernel here keeps no index by default, so a mount cannot show
// the difference: TestOverlayIndexOff).
func TestRawOverlayIndexOff(t *testing.T) {
	t.Setenv("NOOK_ENGINE", "raw")
	count := func(indexOff bool) (offs, attempts int) {
		s := &Spec{Mounts: []Mount{
			{Op: OpBind, Source: "/", Dest: "/", ReadOnly: true},
			{Op: OpTmpfs, Dest: "/tmp"},
			{Op: OpOverlay, Lower: []string{"/usr"}, TmpfsUpper: true, Dest: "/tmp/o", IndexOff: indexOff},
		}, Args: []string{"true"}, Env: []string{"PATH=/usr/bin:/bin"}}
		id := &identity{userns: true, mode: "self", switchUID: -1, switchGID: -1}
		rs := &rawSetup{spec: s, id: id, errFd: 100, statusFd: 101, syncFd: -1, pidFd: -1, ttyFd: -1, console: -1,
			selfMaps: true, uidMapLine: "0 1000 1\n", gidMapLine: "0 1000 1\n", shareMemory: true,
			moves: []fdMove{{0, 0}, {1, 1}, {2, 2}}}
		p, err := compileRaw(rs)
		if err != nil {
			t.Fatalf("compile: %v", err)
		}
		for _, in := range p.insns {
			if in.kind == rkSyscall && in.nr == unix.SYS_FSOPEN {
				if fs, _ := rawCString(p, in.args[0]); fs == "overlay" {
					attempts++
				}
			}
			if in.kind != rkSyscall || in.nr != unix.SYS_FSCONFIG {
				continue
			}
			switch in.args[1] {
			case unix.FSCONFIG_SET_STRING:
				key, _ := rawCString(p, in.args[2])
				val, _ := rawCString(p, in.args[3])
				if (key == "index" || key == "metacopy") && val == "off" {
					offs++
				}
			}
		}
		return offs, attempts
	}
	if offs, _ := count(false); offs != 0 {
		t.Errorf("without IndexOff: %d index/metacopy=off options", offs)
	}
	// Every attempt (a new overlay context each) sets both.
	if offs, attempts := count(true); attempts == 0 || offs != 2*attempts {
		t.Errorf("IndexOff: %d index/metacopy=off options for %d overlay attempts", offs, attempts)
	}
}
