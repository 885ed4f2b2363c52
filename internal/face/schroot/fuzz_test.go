package schroot

import (
	"regexp"
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

// FuzzEnvFilter: the default environment-filter without a regexp matches
// what the regexp matches.
func FuzzEnvFilter(f *testing.F) {
	for _, k := range envFilterCases {
		f.Add(k)
	}
	re := regexp.MustCompile(defaultEnvFilter)
	f.Fuzz(func(t *testing.T, k string) {
		if got, want := defaultEnvFiltered(k), re.MatchString(k); got != want {
			t.Fatalf("defaultEnvFiltered(%q) = %v, the regexp says %v", k, got, want)
		}
	})
}

var envFilterCases = []string{"BASH_ENV", "CDPATH", "ENV", "HOSTALIASES", "IFS", "KRB5_CONFIG", "KRBCONFDIR",
	"KRBTKFILE", "KRB_CONF", "LD_PRELOAD", "LD_", "LD_LIBRARY_PATH", "LOCALDOMAIN", "NLSPATH", "PATH_LOCALE",
	"RES_OPTIONS", "TERMINFO", "TERMINFO_DIRS", "TERMPATH", "PATH", "HOME", "ENVX", "XENV", "LD", "ld_preload",
	"LD_\nX", "LD_X\n", "TERMINFO\n", "\nIFS", "LD_\xff", "TERM", "KRB5_CONFIGS", ""}

// TestEnvFilter: the default filter's names, and another filter compiled.
func TestEnvFilter(t *testing.T) {
	re := regexp.MustCompile(defaultEnvFilter)
	f, err := envFilter(defaultEnvFilter)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range envFilterCases {
		if got, want := f(k), re.MatchString(k); got != want {
			t.Errorf("default filter on %q = %v, the regexp says %v", k, got, want)
		}
	}
	g, err := envFilter("^FOO")
	if err != nil || !g("FOOBAR") || g("BAR") {
		t.Errorf("a custom filter: %v", err)
	}
	if _, err := envFilter("("); err == nil {
		t.Error("a broken filter compiled")
	}
}
