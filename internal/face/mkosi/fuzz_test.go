package mkosi

import (
	"strings"
	"testing"
)

// FuzzParse: any mkosi-sandbox command line parses or fails with a
// UsageError; a parsed one orders its operations (+SRC binds last, the
// rest by destination) and builds a spec or fails with an error. Never a
// panic.
func FuzzParse(f *testing.F) {
	f.Add("--ro-bind\x00/\x00/\x00--\x00true")
	f.Add("--bind\x00+usr\x00/u\x00--ro-bind-nofollow\x00/l\x00/l\x00--tmpfs\x00/tmp\x00--dir\x00rel\x00sh")
	f.Add("--overlay-lowerdir\x00/a\x00--overlay-upperdir\x00tmpfs\x00--overlay\x00/o\x00--symlink\x00x\x00/y\x00--write\x00d\x00/w")
	f.Add("--setenv\x00A\x00--bind\x00--unsetenv\x00C\x00--become-root\x00--suppress-chown\x00--pack-fds\x00--exec-fd\x003")
	f.Fuzz(func(t *testing.T, joined string) {
		o, err := parse(strings.Split(joined, "\x00"), "/cwd")
		if err != nil {
			if _, ok := err.(*UsageError); !ok {
				t.Fatalf("parse: %T %v", err, err)
			}
			return
		}
		if o.help || o.version {
			return
		}
		ops := order(o.ops)
		for i := 1; i < len(ops); i++ {
			if ops[i-1].relative != ops[i].relative {
				if ops[i-1].relative {
					t.Fatalf("a +SRC bind before another operation: %+v before %+v", ops[i-1], ops[i])
				}
				continue
			}
			if ops[i-1].relative == ops[i].relative && strings.Compare(strings.Join(splitPath(ops[i-1].dst), "\x00"), strings.Join(splitPath(ops[i].dst), "\x00")) > 0 {
				t.Fatalf("out of order: %+v before %+v", ops[i-1], ops[i])
			}
		}
		// build validates what it returns; a panic is what this looks for.
		_, _ = build(o, host{uid: 1000, effCaps: map[int]bool{}}, nil)
	})
}
