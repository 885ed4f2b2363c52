package native

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/nook-project/nook/internal/completion"
	"github.com/nook-project/nook/internal/face/virtnook"
)

// Completion is `nook completion bash|zsh`: the script on stdout. bwrap and
// schroot are the faces' options (their packages import this one).
func Completion(args []string, bwrap, schroot, mkosi []completion.Option) int {
	const usage = "usage: nook completion bash|zsh\n\n" +
		"Prints a shell completion script: source it (bash: source <(nook completion bash))\n" +
		"or install it (make install puts both where bash-completion and zsh look).\n"
	if code, done := verbHelp(args, usage); done {
		return code
	}
	write := map[string]func(*os.File, []completion.Command) error{
		"bash": func(f *os.File, c []completion.Command) error { return completion.Bash(f, c) },
		"zsh":  func(f *os.File, c []completion.Command) error { return completion.Zsh(f, c) },
	}[args[0]]
	if write == nil || len(args) != 1 {
		fmt.Fprintf(os.Stderr, "nook completion: give one shell, bash or zsh%s\n", oneDashHelp(args[0]))
		return 2
	}
	if err := write(os.Stdout, CompletionCommands(bwrap, schroot, mkosi)); err != nil {
		return failf("completion", "%v", err)
	}
	return 0
}

// TopVerbs are nook's commands, as main dispatches them (its test checks
// that each is one).
var TopVerbs = []string{"run", "bwrap", "schroot", "mkosi-sandbox", virtnook.Name, "session", "chroot", "cache", "version", "help", "completion"}

// HelpTopics are the commands `nook help TOPIC` answers for: every one of
// TopVerbs, since each takes --help (`nook help help` is nook --help), and
// the same list, so a verb added there cannot be left out here
// (TestHelpEveryVerb).
var HelpTopics = TopVerbs

// CompletionCommands describes every command line nook has, from the tables
// the parsers read: nook run's options, each verb's flag set, the faces'.
func CompletionCommands(bwrap, schroot, mkosi []completion.Option) []completion.Command {
	help := completion.Option{Names: []string{"--help", "-h"}}
	cmds := []completion.Command{
		{Path: completion.Root, Verbs: TopVerbs, Options: []completion.Option{help, {Names: []string{"--version"}}}},
		{Path: "bwrap", Options: bwrap, Operands: []completion.Kind{completion.CommandName}, OptionsEnd: true},
		{Path: "schroot", Options: schroot, Operands: []completion.Kind{completion.CommandName}},
		{Path: "mkosi-sandbox", Options: mkosi, Operands: []completion.Kind{completion.CommandName}, OptionsEnd: true},
		{Path: virtnook.Name, Options: virtnook.CompletionOptions(), Operands: []completion.Kind{completion.Chroot}},
		{Path: "help", Verbs: HelpTopics},
		{Path: "completion", Verbs: []string{"bash", "zsh"}, Options: []completion.Option{help}},
	}
	run := completion.Command{Path: "run", Operands: []completion.Kind{completion.CommandName}, OptionsEnd: true,
		Options: []completion.Option{{Names: []string{"-h"}}}}
	for _, o := range options() {
		opt := completion.Option{Names: []string{"--" + o.name}}
		for _, m := range o.args {
			opt.Args = append(opt.Args, metaKind(m))
		}
		run.Options = append(run.Options, opt)
	}
	cmds = append(cmds, run)
	groups := map[string][]string{}
	sets := verbFlagSets()
	paths := make([]string, 0, len(sets))
	for p := range sets {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		fs := sets[p]
		if group, verb, ok := strings.Cut(p, " "); ok {
			groups[group] = append(groups[group], verb)
		}
		// Never OptionsEnd: session run's id may come before its options.
		c := completion.Command{Path: p, Operands: verbOperands[p], Options: []completion.Option{help}}
		for _, d := range fs.flags {
			opt := completion.Option{Names: []string{"--" + d.long}}
			if d.short != "" {
				opt.Names = append(opt.Names, "-"+d.short)
			}
			if d.b == nil {
				opt.Args = []completion.Kind{flagKind(d.long)}
			}
			c.Options = append(c.Options, opt)
		}
		cmds = append(cmds, c)
	}
	for _, g := range []string{"session", "chroot", "cache"} {
		cmds = append(cmds, completion.Command{Path: g, Verbs: groups[g], Options: []completion.Option{help}})
	}
	return cmds
}

// verbOperands are what each verb's operands are.
var verbOperands = map[string][]completion.Kind{
	"session begin": {completion.Chroot},
	"session run":   {completion.Session, completion.CommandName},
	"session end":   {completion.Session},
	"session info":  {completion.Session},
	"chroot add":    {completion.None, completion.File},
	"chroot remove": {completion.Chroot},
	"chroot info":   {completion.Chroot},
}

// metaKind is what a nook run option's argument completes to, by its
// metavariable.
func metaKind(meta string) completion.Kind {
	switch meta {
	case "SRC", "DEST", "DIR", "PATH", "TARGET", "UPPER", "WORK":
		return completion.File
	}
	return completion.None
}

// flagKind is what a verb option's argument completes to.
func flagKind(long string) completion.Kind {
	switch long {
	case "bind", "ro-bind":
		return completion.File
	case "directory":
		return completion.Dir
	}
	return completion.None
}
