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
