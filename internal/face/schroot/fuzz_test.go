package schroot

import (
	"slices"
	"strings"
	"testing"
)

// FuzzParse: any command line parses or fails with an error, never a
// panic; a parsed one names only words it was given, and at most one
// action.
func FuzzParse(f *testing.F) {
	f.Add("-d\x00/\x00-c\x00S\x00--run-session\x00-q\x00-u\x00root\x00-p\x00--\x00getent\x00group\x00sbuild")
	f.Add("--run-session\x00--quiet\x00--directory=/\x00--chroot\x00S\x00--user=root\x00--\x00mktemp")
	f.Add("-cS\x00-qp\x00-r\x00ls\x00-v")
	f.Add("--begin\x00--chroot=chroot:N\x00--session-name\x00X")
	f.Add("--al\x00-lc\x00x\x00--chroot=\x00-o")
	f.Fuzz(func(t *testing.T, joined string) {
		args := strings.Split(joined, "\x00")
		o, err := parse(args)
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("empty error for %q", args)
			}
			return
		}
		for _, c := range o.command {
			if !slices.Contains(args, c) {
				t.Fatalf("command word %q was not given (%q)", c, args)
			}
		}
		for _, c := range o.chroots {
			found := false
			for _, a := range args {
				if strings.Contains(a, c) {
					found = true
				}
			}
			if !found {
				t.Fatalf("chroot %q was not given (%q)", c, args)
			}
		}
		if o.action < actAutomatic || o.action > actEnd {
			t.Fatalf("action %d", o.action)
		}
	})
}
