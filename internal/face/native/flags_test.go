package native

import (
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"
)

// TestFlagSetMatchesPflag parses the same words with flagSet and with
// spf13/pflag (which the verbs used before; only this test links it) set up
// alike, and wants the same values, operands and errors.
func TestFlagSetMatchesPflag(t *testing.T) {
	type result struct {
		Err      string
		Args     []string
		User     string
		Preserve bool
		Sync     bool
		Binds    []string
		Help     bool
	}
	ours := func(interspersed bool, words []string) result {
		var r result
		fs := newFlagSet("x")
		fs.interspersed = interspersed
		fs.StringVarP(&r.User, "user", "u")
		fs.BoolVarP(&r.Preserve, "preserve-environment", "p")
		fs.BoolVarP(&r.Sync, "sync", "")
		fs.StringArrayVar(&r.Binds, "bind")
		fs.BoolVarP(&r.Help, "help", "h")
		if err := fs.Parse(words); err != nil {
			r.Err = err.Error()
		}
		r.Args = fs.Args()
		return r
	}
	theirs := func(interspersed bool, words []string) result {
		var r result
		fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
		fs.SetOutput(io.Discard)
		fs.SetInterspersed(interspersed)
		fs.StringVarP(&r.User, "user", "u", "", "")
		fs.BoolVarP(&r.Preserve, "preserve-environment", "p", false, "")
		fs.BoolVar(&r.Sync, "sync", false, "")
		fs.StringArrayVar(&r.Binds, "bind", nil, "")
		fs.BoolVarP(&r.Help, "help", "h", false, "")
		if err := fs.Parse(words); err != nil {
			r.Err = err.Error()
		}
		r.Args = fs.Args()
		return r
	}
	for _, line := range []string{
		"", "a b", "-u root cmd", "-uroot cmd", "-u=root", "--user root", "--user=root", "--user=", "--user",
		"-u", "-pu root", "-pup", "-ph", "-p=false", "-p=x", "--sync=false", "--sync=1", "--sync=maybe",
		"--bind a --bind b:c", "--bind=a=b", "a --sync b", "a -- --sync", "-- -u x", "- -p", "-x", "-px", "--nope",
		"--nope=1", "---x", "--=x", "-test.v a", "--help", "-h", "a -h", "-u -p", "--sync -- -h",
	} {
		words := strings.Fields(line)
		for _, inter := range []bool{true, false} {
			got, want := ours(inter, words), theirs(inter, words)
			if len(want.Args) == 0 {
				want.Args = nil
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%q (interspersed %v): flagSet differs from pflag (-pflag +ours):\n%s", line, inter, diff)
			}
		}
	}
}
