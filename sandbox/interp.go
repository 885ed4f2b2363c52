package sandbox

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
)

// execve(2) fails with ENOENT both when the file is missing and when the
// interpreter it names is: an ELF file's PT_INTERP (fs/binfmt_elf.c opens
// it with open_exec and returns that error) or a script's "#!" line
// (fs/binfmt_script.c). A shell then says "command not found" about a
// file that is plainly there; nook names the missing interpreter instead.

// interpFlag marks an exec record's candidate index as "the file is
// there, its interpreter is not" (the raw engine's rawExec).
const interpFlag = 1 << 31

// interpreterOf returns the interpreter file names: its ELF PT_INTERP or
// the path of its "#!" line; "" when it names none or cannot be read.
func interpreterOf(file string) string {
	// Without blocking and only a regular file: the name may lead, on
	// the host, to a FIFO or a device (found by review: a FIFO held nook
	// in open(2) for good), and this is only a message.
	f, err := os.OpenFile(file, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return ""
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return ""
	}
	var head [64]byte
	n, _ := f.ReadAt(head[:], 0)
	if n >= 2 && head[0] == '#' && head[1] == '!' {
		line, _, _ := bytes.Cut(head[2:n], []byte("\n"))
		if fields := strings.Fields(string(line)); len(fields) > 0 {
			return fields[0]
		}
		return ""
	}
	if n < 52 || string(head[:4]) != "\x7fELF" {
		return ""
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if head[5] == 2 {
		bo = binary.BigEndian
	}
	var phoff int64
	var phentsize, phnum int
	switch head[4] {
	case 1: // ELFCLASS32
		phoff, phentsize, phnum = int64(bo.Uint32(head[28:])), int(bo.Uint16(head[42:])), int(bo.Uint16(head[44:]))
	case 2: // ELFCLASS64
		if n < 64 {
			return ""
		}
		phoff, phentsize, phnum = int64(bo.Uint64(head[32:])), int(bo.Uint16(head[54:])), int(bo.Uint16(head[56:]))
	default:
		return ""
	}
	if phentsize < 32 || phnum > 256 {
		return ""
	}
	ph := make([]byte, phentsize)
	for i := 0; i < phnum; i++ {
		if _, err := f.ReadAt(ph, phoff+int64(i*phentsize)); err != nil {
			return ""
		}
		if bo.Uint32(ph) != 3 { // PT_INTERP
			continue
		}
		var off, size int64
		if head[4] == 1 {
			off, size = int64(bo.Uint32(ph[4:])), int64(bo.Uint32(ph[16:]))
		} else {
			off, size = int64(bo.Uint64(ph[8:])), int64(bo.Uint64(ph[32:]))
		}
		if size <= 0 || size > 4096 {
			return ""
		}
		buf := make([]byte, size)
		if _, err := f.ReadAt(buf, off); err != nil {
			return ""
		}
		return string(bytes.TrimRight(buf, "\x00"))
	}
	return ""
}

// missingInterpreter is the error for file, found but not executed because
// the interpreter interp (maybe "", not known) is missing.
func missingInterpreter(file, interp string) *execError {
	if interp == "" {
		return &execError{code: ExitNotFound, msg: fmt.Sprintf("execute %s: the file is there, but the interpreter it names (ELF PT_INTERP or #! line) is missing", file)}
	}
	return &execError{code: ExitNotFound, msg: fmt.Sprintf("execute %s: the file is there, but its interpreter %s is missing", file, interp)}
}

// hostPathOf maps a path inside the sandbox to the host file that a bind
// put there, for reading a file the sandbox no longer shows (the raw
// engine's command failed after its child was gone). "" when the
// innermost mount covering it is not a plain bind (a tmpfs, an overlay).
func hostPathOf(mounts []Mount, p string) string {
	best, host := -1, ""
	p = path.Clean(p)
	for _, m := range mounts {
		switch m.Op {
		case OpBind, OpDevBind, OpTmpfs, OpOverlay, OpProc, OpDev, OpMqueue:
		default:
			continue // makes a file or changes one: no new tree
		}
		d := path.Clean(m.Dest)
		rel, ok := strings.CutPrefix(p, d)
		if !ok || (rel != "" && rel[0] != '/' && d != "/") || len(d) < best {
			continue
		}
		best, host = len(d), ""
		if (m.Op == OpBind || m.Op == OpDevBind) && !m.SourceInRoot && !m.FromFD && m.Source != "" {
			host = filepath.Join(m.Source, rel)
		}
	}
	return host
}
