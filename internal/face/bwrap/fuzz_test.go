package bwrap

import (
	"strings"
	"testing"
)

// fdOptions read from or write to file descriptors the fuzzer cannot
// provide (a read from stdin would block); inputs with them are skipped.
var fdOptions = map[string]bool{"--args": true, "--seccomp": true, "--add-seccomp-fd": true, "--userns": true, "--userns2": true,
	"--pidns": true, "--info-fd": true, "--json-status-fd": true, "--sync-fd": true, "--block-fd": true, "--userns-block-fd": true,
	"--lock-file": true, "--file": true, "--bind-data": true, "--ro-bind-data": true, "--bind-fd": true, "--ro-bind-fd": true}

// FuzzParse: any bwrap command line parses or fails with an error; a
// parsed one builds a spec that validates or fails with an error. Never a
// panic.
func FuzzParse(f *testing.F) {
	f.Add("--ro-bind\x00/\x00/\x00--\x00true")
	f.Add("--unshare-all\x00--share-net\x00--perms\x000700\x00--dir\x00/x\x00--size\x001\x00--tmpfs\x00/t\x00sh")
	f.Add("--overlay-src\x00/a\x00--tmp-overlay\x00/b\x00--symlink\x00x\x00/y\x00--chmod\x00755\x00/y\x00true")
	f.Add("--cap-add\x00ALL\x00--cap-drop\x00CAP_SYS_ADMIN\x00--uid\x000\x00--setenv\x00A\x00B\x00--unsetenv\x00C\x00env")
	f.Fuzz(func(t *testing.T, joined string) {
		args := strings.Split(joined, "\x00")
		for _, a := range args {
			if fdOptions[a] {
				return
			}
		}
		p := newParser(nil)
		cmd, err := p.parse(args)
		if err != nil || p.help || p.version || len(cmd) == 0 {
			return
		}
		spec, err := p.build(cmd, nil)
		if err != nil {
			return
		}
		_ = spec.Validate()
	})
}
