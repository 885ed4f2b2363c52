package sandbox

import (
	"errors"
	"strings"
	"testing"
)

// fuzzMounts turns fuzz input into a list of operations: each byte pair
// picks an operation and a destination from small alphabets, with path
// spellings that stress cleaning and component-wise ordering.
func fuzzMounts(data []byte) []Mount {
	paths := []string{"/", "/a", "/a/b", "/a/b/c", "/a-b", "/a-b/c", "/a/b-c", "/a.b", "/b", "/b/c",
		"a/b/", "/a/./b", "/a//b/c/", "/a/../b", "/tmp", "/tmp/x", "/dev", "/proc"}
	ops := []Op{OpBind, OpDevBind, OpTmpfs, OpProc, OpDev, OpMqueue, OpDir, OpSymlink, OpWrite, OpFile, OpChmod, OpRemountRO, OpOverlay}
	var out []Mount
	for i := 0; i+1 < len(data) && len(out) < 24; i += 2 {
		m := Mount{Op: ops[int(data[i])%len(ops)], Dest: paths[int(data[i+1])%len(paths)]}
		flags := data[i] / byte(len(ops))
		switch m.Op {
		case OpBind, OpDevBind:
			m.Source = Clean(paths[int(data[i+1]/byte(len(paths)))%len(paths)])
			m.ReadOnly = flags&1 != 0
			m.Try = flags&2 != 0
			m.NoFollow = flags&4 != 0
			m.DestNoFollow = flags&8 != 0
		case OpDev:
			m.Fuse = flags&1 != 0
		case OpChmod:
			mode := uint32(0o700 + uint32(flags&1)*0o55)
			m.Mode = &mode
		case OpSymlink:
			m.Source = "target"
			m.Replace = flags&1 != 0
		case OpOverlay:
			m.Lower = []string{"/"}
			m.TmpfsUpper = flags&1 != 0
			m.IndexOff = flags&2 != 0
		case OpWrite:
			m.Data = []byte{flags}
		}
		out = append(out, m)
	}
	return out
}

func FuzzPlan(f *testing.F) {
	f.Add([]byte{0, 0, 2, 14, 6, 15})
	f.Add([]byte{1, 3, 2, 1, 11, 0, 10, 2, 7, 4})
	f.Add([]byte{0, 1, 0, 1, 2, 2, 2, 2, 12, 5})
	f.Fuzz(func(t *testing.T, data []byte) {
		checkPlanProperties(t, fuzzMounts(data))
	})
}

// FuzzCompileRaw: whatever the operations, the raw compiler either refuses
// (and the Go init takes the spec) or emits a program whose every jump,
// register and step stays in bounds: the child follows it blindly.
func FuzzCompileRaw(f *testing.F) {
	f.Add([]byte{0, 0, 2, 14, 6, 15}, uint8(0))
	f.Add([]byte{4, 16, 3, 17, 2, 14, 7, 15, 8, 1}, uint8(7))
	f.Add([]byte{12, 14, 9, 15, 10, 3}, uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, flags uint8) {
		s := &Spec{
			Args:       []string{"true"},
			Env:        []string{"PATH=/usr/bin:/bin"},
			Mounts:     fuzzMounts(data),
			SortMounts: flags&1 != 0,
			Namespaces: Namespaces{PID: flags&2 != 0, Net: flags&4 != 0},
			Hostname:   strings.Repeat("h", int(flags>>5)),
			PackFds:    flags&8 != 0,
			AsPID1:     flags&16 != 0,
			// The flags' bits are all taken.
			SharedPropagation: len(data)&1 != 0,
		}
		id := &identity{userns: true, mode: "self", switchUID: -1, switchGID: -1}
		rs := &rawSetup{spec: s, id: id, errFd: 100, statusFd: 101, syncFd: -1, pidFd: -1, ttyFd: -1, console: -1,
			selfMaps: true, uidMapLine: "0 1000 1\n", gidMapLine: "0 1000 1\n", shareMemory: true,
			moves: []fdMove{{0, 0}, {1, 1}, {2, 2}}}
		p, err := compileRaw(rs)
		if err != nil {
			if !errors.Is(err, errRawUnsupported) {
				t.Fatalf("compile: %v", err)
			}
			return
		}
		n := int32(len(p.insns))
		for i, in := range p.insns {
			for _, target := range []int32{in.onOK, in.onSoft} {
				if target < -1 || target > n {
					t.Fatalf("instruction %d jumps to %d of %d", i, target, n)
				}
			}
			if in.out >= rawRegs || in.out < -1 {
				t.Fatalf("instruction %d writes register %d", i, in.out)
			}
			for a := 0; a < 6; a++ {
				if (in.argReg|in.argAddr)&(1<<a) != 0 && in.args[a] >= rawRegs {
					t.Fatalf("instruction %d reads register %d", i, in.args[a])
				}
			}
			if in.step < 0 || int(in.step) >= len(p.steps) {
				t.Fatalf("instruction %d names step %d of %d", i, in.step, len(p.steps))
			}
		}
		last := p.insns[n-1].kind
		if last != rkExec && last != rkWaitLoop {
			t.Fatalf("program ends with kind %d, not exec or pid 1's loop", last)
		}
	})
}
