package native

import (
	"strings"
	"testing"
)

// FuzzParseRun: any argument list parses or fails with an error; a parsed
// one builds a spec that validates or fails with an error. Never a panic.
func FuzzParseRun(f *testing.F) {
	f.Add("--ro-bind\x00/\x00/\x00--\x00true")
	f.Add("--tmpfs\x00/tmp\x00--size\x001024\x00--perms\x000700\x00--dir\x00/x")
	f.Add("--unshare-all\x00--share-net\x00--uid\x001\x00--setenv\x00A\x00B\x00sh")
	f.Add("--perms\x00--perms\x00--file\x003\x00/f")
	f.Fuzz(func(t *testing.T, joined string) {
		args := strings.Split(joined, "\x00")
		r, cmd, err := parseRun(args)
		if err != nil || r.help || r.version {
			return
		}
		spec, err := r.build(cmd, nil)
		if err != nil {
			return
		}
		_ = spec.Validate()
	})
}
