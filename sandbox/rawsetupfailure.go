package sandbox

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// pcFlag marks the last field of a set-up error record as the index of the
// failing instruction (its phase is in the program the parent keeps).
const pcFlag = 1 << 30

// setupFailure is the failed filesystem operation an error record names,
// or nil when the failing instruction belongs to none. f is the error pipe,
// where a failed --symlink's record is followed by what is in the way.
func (p *rawProg) setupFailure(rec [5]uint32, f *os.File) *SetupFailure {
	step, errno := int(rec[1]), unix.Errno(rec[2])
	if rec[4]&pcFlag == 0 || step < 0 || step >= len(p.steps) || p.steps[step].mount == nil {
		return nil
	}
	pc := int(rec[4] &^ pcFlag)
	if pc >= len(p.insns) || p.insns[pc].phase == 0 {
		return nil
	}
	m := p.steps[step].mount
	sf := &SetupFailure{Op: m.Op, AsBind: m.AsBind, Dest: m.Dest, Source: m.Source,
		Phase: SetupPhase(p.insns[pc].phase), Errno: errno}
	if m.Op == OpChmod && m.Mode != nil {
		sf.Mode = *m.Mode
	}
	if p.insns[pc].kind == rkKindCheck && m.Op == OpSymlink && errno == unix.EISDIR {
		// A Replace symlink onto a directory (symlinkReplacing): no
		// symlink is there, as the Go init reports it.
		sf.NotSymlink = true
	}
	if p.insns[pc].kind == rkReadlinkEq {
		switch errno {
		case unix.EEXIST:
			sf.Existing = readText(f)
		case unix.EINVAL:
			sf.NotSymlink = true
		default:
			sf.ReadlinkErrno = errno // what is there could not be read
		}
	}
	return sf.normal()
}

// readText reads the recText record after an error record and the bytes
// it announces.
func readText(f *os.File) string {
	if f == nil {
		return ""
	}
	rec, n, err := readRecord(f)
	if err != nil || n != recSize || rec[0] != recText || rec[1] > 4096 {
		return ""
	}
	buf := make([]byte, rec[1])
	if _, err := io.ReadFull(f, buf); err != nil {
		return ""
	}
	return string(buf)
}
