package native

import (
	"fmt"
	"strconv"
	"strings"
)

// flagSet parses the options of the session, chroot and cache verbs with
// the GNU-style rules of spf13/pflag, which parsed them before: --name
// VALUE, --name=VALUE, -n VALUE, -nVALUE, -n=VALUE, bundled boolean
// shorthands (-ph), a boolean's optional =VALUE, "--" and "-" as in
// getopt, and pflag's error messages. It is nook's own because pflag
// imports net, whose package initialisation every nook invocation (nook run
// too) paid for before main; this is the subset the verbs use.
type flagSet struct {
	name         string
	interspersed bool // options may follow operands (pflag's default)
	flags        []*flagDef
	args         []string
}

// flagDef is one option; exactly one of b, s and list is set.
type flagDef struct {
	long, short string
	b           *bool
	s           *string
	list        *[]string
}

func newFlagSet(name string) *flagSet { return &flagSet{name: name, interspersed: true} }

func (fs *flagSet) add(d *flagDef) { fs.flags = append(fs.flags, d) }

// BoolVarP defines a boolean option; short may be "".
func (fs *flagSet) BoolVarP(p *bool, long, short string) {
	fs.add(&flagDef{long: long, short: short, b: p})
}

// StringVarP defines an option with a value; short may be "".
func (fs *flagSet) StringVarP(p *string, long, short string) {
	fs.add(&flagDef{long: long, short: short, s: p})
}

// StringArrayVar defines a repeatable option: each use appends its value.
func (fs *flagSet) StringArrayVar(p *[]string, long string) { fs.add(&flagDef{long: long, list: p}) }

// Name is the verb the set belongs to, for messages.
func (fs *flagSet) Name() string { return fs.name }

// Args are the operands left after Parse.
func (fs *flagSet) Args() []string { return fs.args }

// NArg is len(Args()).
func (fs *flagSet) NArg() int { return len(fs.args) }

// Arg is the i-th operand, or "".
func (fs *flagSet) Arg(i int) string {
	if i < 0 || i >= len(fs.args) {
		return ""
	}
	return fs.args[i]
}

// visit calls f with each option's long name and shorthand.
func (fs *flagSet) visit(f func(long, short string)) {
	for _, d := range fs.flags {
		f(d.long, d.short)
	}
}

func (fs *flagSet) lookup(long, short string) *flagDef {
	for _, d := range fs.flags {
		if long != "" && d.long == long || short != "" && d.short == short {
			return d
		}
	}
	return nil
}

// set gives d its value.
func (d *flagDef) set(value string) error {
	switch {
	case d.b != nil:
		v, err := strconv.ParseBool(value)
		if err != nil { // pflag's words
			name := "--" + d.long
			if d.short != "" {
				name = "-" + d.short + ", " + name
			}
			return fmt.Errorf("invalid argument %q for %q flag: must be true or false", value, name)
		}
		*d.b = v
	case d.s != nil:
		*d.s = value
	default:
		*d.list = append(*d.list, value)
	}
	return nil
}

// Parse reads args; the operands are then in Args.
func (fs *flagSet) Parse(args []string) error {
	for len(args) > 0 {
		s := args[0]
		args = args[1:]
		if len(s) < 2 || s[0] != '-' {
			fs.args = append(fs.args, s)
			if !fs.interspersed {
				fs.args = append(fs.args, args...)
				return nil
			}
			continue
		}
		var err error
		switch {
		case s == "--":
			fs.args = append(fs.args, args...)
			return nil
		case s[1] == '-':
			args, err = fs.parseLong(s, args)
		default:
			args, err = fs.parseShorts(s, args)
			if err != nil {
				err = fs.oneDash(s, err)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// oneDash adds to err, from a word of shorthands that did not parse, that
// the word is a long option written with one dash (-json for --json),
// when it is one.
func (fs *flagSet) oneDash(word string, err error) error {
	name, _, _ := strings.Cut(word[1:], "=")
	if len(name) < 2 || fs.lookup(name, "") == nil {
		return err
	}
	return fmt.Errorf("%w (long options take two dashes: -%s)", err, word)
}

func (fs *flagSet) parseLong(s string, args []string) ([]string, error) {
	name := s[2:]
	if name[0] == '-' || name[0] == '=' {
		return nil, fmt.Errorf("bad flag syntax: %s", s)
	}
	name, value, hasValue := strings.Cut(name, "=")
	d := fs.lookup(name, "")
	switch {
	case d == nil:
		return nil, fmt.Errorf("unknown flag: --%s", name)
	case hasValue:
	case d.b != nil:
		value = "true"
	case len(args) > 0:
		value, args = args[0], args[1:]
	default:
		return nil, fmt.Errorf("flag needs an argument: --%s", name)
	}
	return args, d.set(value)
}

// parseShorts reads one word of shorthands: booleans may be bundled, and
// the first shorthand that takes a value takes the rest of the word (after
// an optional "=") or else the next word.
func (fs *flagSet) parseShorts(s string, args []string) ([]string, error) {
	shorts := s[1:]
	if strings.HasPrefix(shorts, "test.") {
		return args, nil // pflag passes go test's flags over
	}
	for len(shorts) > 0 {
		c := shorts[:1]
		d := fs.lookup("", c)
		if d == nil {
			return nil, fmt.Errorf("unknown shorthand flag: %q in -%s", rune(c[0]), shorts)
		}
		var value string
		switch {
		case len(shorts) > 2 && shorts[1] == '=':
			value, shorts = shorts[2:], ""
		case d.b != nil:
			value, shorts = "true", shorts[1:]
		case len(shorts) > 1:
			value, shorts = shorts[1:], ""
		case len(args) > 0:
			value, args, shorts = args[0], args[1:], ""
		default:
			return nil, fmt.Errorf("flag needs an argument: %q in -%s", rune(c[0]), shorts)
		}
		if err := d.set(value); err != nil {
			return nil, err
		}
	}
	return args, nil
}
