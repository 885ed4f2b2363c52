package schroot

import (
	"fmt"
	"strings"
)

// action is what one schroot call does; exactly one per call.
type action int

const (
	actAutomatic action = iota // the default: begin, run, end
	actHelp
	actVersion
	actList
	actInfo
	actConfig
	actLocation
	actBegin
	actRecover
	actRun
	actEnd
)

// options is a parsed schroot command line.
type options struct {
	action    action
	actionSet bool
	chroots   []string

	all, allChroots, allSessions, allSources, excludeAliases bool

	sessionName    string
	directory      string
	user           string
	shell          string
	preserve       bool
	quiet, verbose bool
	force          bool
	isolateNetwork bool
	settings       []string // -o KEY=VALUE
	command        []string
}

// usageError is a command-line error: schroot prints it with a hint to
// read --help.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// optionSpec is one option of the grammar.
type optionSpec struct {
	long  string
	short byte
	arg   bool
	set   func(o *options, v string) error
}

func setAction(a action) func(o *options, v string) error {
	return func(o *options, _ string) error {
		if o.actionSet && o.action != a {
			return &usageError{"Only one action may be specified"}
		}
		o.action, o.actionSet = a, true
		return nil
	}
}

func flag(p func(o *options) *bool) func(o *options, v string) error {
	return func(o *options, _ string) error { *p(o) = true; return nil }
}

func value(p func(o *options) *string) func(o *options, v string) error {
	return func(o *options, v string) error { *p(o) = v; return nil }
}

// optionTable is schroot 1.6's options (its --help lists the same),
// plus --isolate-network, which sbuild >= 0.89.2 sends to an "unschroot".
var optionTable = []optionSpec{
	{"help", 'h', false, setAction(actHelp)},
	{"version", 'V', false, setAction(actVersion)},
	{"list", 'l', false, setAction(actList)},
	{"info", 'i', false, setAction(actInfo)},
	{"config", 0, false, setAction(actConfig)},
	{"location", 0, false, setAction(actLocation)},
	{"quiet", 'q', false, flag(func(o *options) *bool { return &o.quiet })},
	{"verbose", 'v', false, flag(func(o *options) *bool { return &o.verbose })},
	{"chroot", 'c', true, func(o *options, v string) error { o.chroots = append(o.chroots, v); return nil }},
	{"all", 'a', false, flag(func(o *options) *bool { return &o.all })},
	{"all-chroots", 0, false, flag(func(o *options) *bool { return &o.allChroots })},
	{"all-sessions", 0, false, flag(func(o *options) *bool { return &o.allSessions })},
	{"all-source-chroots", 0, false, flag(func(o *options) *bool { return &o.allSources })},
	{"exclude-aliases", 0, false, flag(func(o *options) *bool { return &o.excludeAliases })},
	{"directory", 'd', true, value(func(o *options) *string { return &o.directory })},
	{"shell", 's', true, value(func(o *options) *string { return &o.shell })},
	{"user", 'u', true, value(func(o *options) *string { return &o.user })},
	{"preserve-environment", 'p', false, flag(func(o *options) *bool { return &o.preserve })},
	{"option", 'o', true, func(o *options, v string) error { o.settings = append(o.settings, v); return nil }},
	{"automatic-session", 0, false, setAction(actAutomatic)},
	{"begin-session", 'b', false, setAction(actBegin)},
	{"recover-session", 0, false, setAction(actRecover)},
	{"run-session", 'r', false, setAction(actRun)},
	{"end-session", 'e', false, setAction(actEnd)},
	{"session-name", 'n', true, value(func(o *options) *string { return &o.sessionName })},
	{"force", 'f', false, flag(func(o *options) *bool { return &o.force })},
	{"isolate-network", 0, false, flag(func(o *options) *bool { return &o.isolateNetwork })},
}

// findLong resolves a long option name the way schroot's parser does: an
// exact name, else the one option it is a prefix of; a prefix of several
// is an error naming them all.
func findLong(name string) (*optionSpec, error) {
	var matches []*optionSpec
	for i := range optionTable {
		o := &optionTable[i]
		if o.long == name {
			return o, nil
		}
		if strings.HasPrefix(o.long, name) {
			matches = append(matches, o)
		}
	}
	switch len(matches) {
	case 0:
		return nil, fmt.Errorf("unrecognised option '--%s'", name)
	case 1:
		return matches[0], nil
	}
	names := make([]string, len(matches))
	for i, m := range matches {
		names[i] = "'--" + m.long + "'"
	}
	list := strings.Join(names[:len(names)-1], ", ") + ", and " + names[len(names)-1]
	return nil, fmt.Errorf("option '--%s' is ambiguous and matches %s", name, list)
}

func findShort(c byte) *optionSpec {
	for i := range optionTable {
		if optionTable[i].short == c && c != 0 {
			return &optionTable[i]
		}
	}
	return nil
}

// parse reads schroot's command line: options anywhere before "--", long
// ones as --name, --name=value or --name value (unique prefixes accepted),
// short ones grouped (-qp) and with their value attached (-cNAME) or
// apart; every other word is part of the command.
func parse(args []string) (*options, error) {
	o := &options{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			o.command = append(o.command, args[i+1:]...)
			return o, nil
		case strings.HasPrefix(a, "--"):
			name, val, hasVal := strings.Cut(a[2:], "=")
			spec, err := findLong(name)
			if err != nil {
				return nil, err
			}
			switch {
			case !spec.arg && hasVal:
				return nil, fmt.Errorf("option '--%s' does not take any arguments", spec.long)
			case spec.arg && hasVal && val == "":
				return nil, fmt.Errorf("the argument for option '--%s' should follow immediately after the equal sign", spec.long)
			case spec.arg && !hasVal:
				if i+1 >= len(args) {
					return nil, fmt.Errorf("the required argument for option '--%s' is missing", spec.long)
				}
				i++
				val = args[i]
			}
			if err := spec.set(o, val); err != nil {
				return nil, err
			}
		case len(a) > 1 && a[0] == '-':
			for j := 1; j < len(a); j++ {
				spec := findShort(a[j])
				if spec == nil {
					return nil, fmt.Errorf("unrecognised option '-%c'", a[j])
				}
				val := ""
				if spec.arg {
					switch {
					case j+1 < len(a):
						val = a[j+1:]
					case i+1 < len(args):
						i++
						val = args[i]
					default:
						return nil, fmt.Errorf("the required argument for option '--%s' is missing", spec.long)
					}
					j = len(a)
				}
				if err := spec.set(o, val); err != nil {
					return nil, err
				}
			}
		default:
			o.command = append(o.command, a)
		}
	}
	return o, nil
}
