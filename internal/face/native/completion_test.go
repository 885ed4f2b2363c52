package native

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nook-project/nook/internal/completion"
	"github.com/nook-project/nook/internal/face/bwrap"
	"github.com/nook-project/nook/internal/face/mkosi"
	"github.com/nook-project/nook/internal/face/schroot"
)

func completionScript(t *testing.T, shell string) string {
	t.Helper()
	var b bytes.Buffer
	cmds := CompletionCommands(bwrap.CompletionOptions(), schroot.CompletionOptions(), mkosi.CompletionOptions())
	write := completion.Bash
	if shell == "zsh" {
		write = completion.Zsh
	}
	if err := write(&b, cmds); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "nook."+shell)
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// bashComplete sources the script in bash, sets COMP_WORDS to words (the
// last is the word being completed) and returns COMPREPLY.
func bashComplete(t *testing.T, script string, env []string, words ...string) []string {
	t.Helper()
	cmd := exec.Command("bash", "--norc", "--noprofile", "-c",
		`source "$1" || exit 1; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _nook; printf '%s\0' "${COMPREPLY[@]}"`,
		"bash", script)
	cmd.Args = append(cmd.Args, words...)
	cmd.Env = append(os.Environ(), env...)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	out, err := cmd.Output()
	if err != nil || errb.Len() > 0 {
		t.Fatalf("completing %q: %v, stderr %q", words, err, errb.String())
	}
	var reply []string
	for _, w := range strings.Split(string(out), "\x00") {
		if w != "" {
			reply = append(reply, w)
		}
	}
	return reply
}

// Every option every parser accepts completes, in bash, where it belongs:
// nook run's table, each verb's flag set (with --help), bwrap's and
// schroot's tables when nook is called by their names and as nook's verbs.
func TestCompletionHasEveryOption(t *testing.T) {
	script := completionScript(t, "bash")
	want := map[string][]string{"run": {"-h"}}
	for _, o := range options() {
		want["run"] = append(want["run"], "--"+o.name)
	}
	for verb, fs := range verbFlagSets() {
		want[verb] = []string{"--help", "-h"}
		fs.visit(func(long, short string) {
			want[verb] = append(want[verb], "--"+long)
			if short != "" {
				want[verb] = append(want[verb], "-"+short)
			}
		})
	}
	for _, o := range bwrap.CompletionOptions() {
		if !bwrap.IsOption(o.Names[0]) {
			t.Errorf("bwrap completes %s, which its parser does not take", o.Names[0])
		}
		want["bwrap"] = append(want["bwrap"], o.Names...)
	}
	for _, o := range schroot.CompletionOptions() {
		want["schroot"] = append(want["schroot"], o.Names...)
	}
	if len(want["bwrap"]) < 50 || len(want["schroot"]) < 40 {
		t.Fatalf("bwrap's or schroot's option table looks empty: %d, %d", len(want["bwrap"]), len(want["schroot"]))
	}
	check := func(words []string, opts []string) {
		got := bashComplete(t, script, nil, append(words, "-")...)
		for _, o := range opts {
			if !slices.Contains(got, o) {
				t.Errorf("%q does not complete %s (got %q)", words, o, got)
			}
		}
	}
	for path, opts := range want {
		check(append([]string{"nook"}, strings.Fields(path)...), opts)
	}
	check([]string{"/usr/bin/bwrap"}, want["bwrap"])
	check([]string{"schroot"}, want["schroot"])
	check([]string{"unschroot"}, want["schroot"])
	// The verbs are the ones the commands dispatch.
	verbs := func(vs []verb) (names []string) {
		for _, v := range vs {
			names = append(names, v.name)
		}
		return names
	}
	for group, names := range map[string][]string{"session": verbs(sessionVerbs(nil)), "chroot": verbs(chrootVerbs()), "cache": {"list", "prune"}} {
		got := bashComplete(t, script, nil, "nook", group, "")
		slices.Sort(got)
		slices.Sort(names)
		if !slices.Equal(got, names) {
			t.Errorf("nook %s completes verbs %q, want %q", group, got, names)
		}
		for _, n := range names {
			if verbFlagSets()[group+" "+n] == nil {
				t.Errorf("verb %s %s has no flag set in verbFlagSets", group, n)
			}
		}
	}
}

// What an option's argument or an operand completes to.
func TestCompletionArguments(t *testing.T) {
	script := completionScript(t, "bash")
	dir := t.TempDir()
	for _, f := range []string{"afile", "adir/"} {
		p := filepath.Join(dir, f)
		if strings.HasSuffix(f, "/") {
			if err := os.Mkdir(p, 0o755); err != nil {
				t.Fatal(err)
			}
		} else if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	a := dir + "/a"
	both := []string{dir + "/adir", dir + "/afile"}
	cases := []struct {
		words []string
		want  []string
	}{
		{[]string{"nook", "ses"}, []string{"session"}},
		{[]string{"nook", "session", "b"}, []string{"begin"}},
		{[]string{"nook", "help", "sc"}, []string{"schroot"}},
		{[]string{"nook", "completion", ""}, []string{"bash", "zsh"}},
		{[]string{"nook", "run", "--ro-bind", a}, both},      // SRC
		{[]string{"nook", "run", "--ro-bind", "/", a}, both}, // DEST
		{[]string{"nook", "run", "--ro-bind", "/", "/", "--unshare-a"}, []string{"--unshare-all"}},
		{[]string{"nook", "run", "--hostname", ""}, nil},                      // NAME: nothing to offer
		{[]string{"nook", "run", "--setenv", "A", ""}, nil},                   // VAR VALUE
		{[]string{"nook", "run", "true", "--unshare-a"}, nil},                 // the command's own words are paths
		{[]string{"nook", "run", "--", "--unshare-a"}, nil},                   // after --, a command
		{[]string{"nook", "session", "run", "x", "-d", a}, []string{both[0]}}, // a directory
		{[]string{"bwrap", "--bind", "/", "/", "--ro-bind", a}, both},
		{[]string{"schroot", "-d", a}, []string{both[0]}},
		{[]string{"nook", "chroot", "add", "n", a}, both},
		{[]string{"nook", "version", "--j"}, []string{"--json"}},
		// bash splits --name=value at the "=".
		{[]string{"nook", "run", "--uid", "=", "1", "--unshare-a"}, []string{"--unshare-all"}},
		{[]string{"nook", "run", "--chdir", "=", a}, both},
		{[]string{"nook", "session", "run", "x", "--user", "=", "u", "--no-n"}, []string{"--no-network"}},
	}
	for _, c := range cases {
		got := bashComplete(t, script, nil, c.words...)
		slices.Sort(got)
		if !slices.Equal(got, c.want) {
			t.Errorf("completing %q: %q, want %q", c.words, got, c.want)
		}
	}
}

// Chroot and session names come from nook (here a stand-in that prints
// names a user could give) and are offered as they are: never expanded,
// never run.
func TestCompletionNamesAreData(t *testing.T) {
	env, names, marker := fakeNook(t)
	script := completionScript(t, "bash")
	want := slices.Clone(names)
	slices.Sort(want)
	for _, words := range [][]string{{"nook", "session", "begin", ""}, {"nook", "session", "end", ""}, {"nook", "chroot", "info", ""}} {
		got := asTyped(t, marker, bashComplete(t, script, env, words...))
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("completing %q: %q as the shell reads them, want %q", words, got, want)
		}
	}
	if got := asTyped(t, marker, bashComplete(t, script, env, "nook", "session", "begin", "b")); !slices.Equal(got, []string{"bb"}) {
		t.Errorf("completing a name starting with b: %q", got)
	}
	// schroot -c takes chroots and sessions: the list twice.
	if got := asTyped(t, marker, bashComplete(t, script, env, "schroot", "-c", "$")); !slices.Equal(got, []string{"$(touch " + marker + ")", "$HOME", "$(touch " + marker + ")", "$HOME"}) {
		t.Errorf("schroot -c $: %q as the shell reads them", got)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Errorf("a chroot name was run as a command")
	}
}

// asTyped is what bash makes of each completion reply when the command
// line it was put on runs (Enter): each must be one word, and running a
// command (touching marker) fails the test. In a directory holding a
// file, so that an unquoted "*" would turn into its name.
func asTyped(t *testing.T, marker string, reply []string) []string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "globbed"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range reply {
		cmd := exec.Command("bash", "--norc", "--noprofile", "-c", `eval "set -- $1" && printf '%s\0' "$@"`, "bash", w)
		cmd.Dir = dir
		out, err := cmd.Output()
		if _, serr := os.Stat(marker); serr == nil {
			t.Fatalf("the completion reply %q ran a command when the line did", w)
		}
		words := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
		if err != nil || len(words) != 1 {
			t.Errorf("the completion reply %q is %q on the command line (%v), not one word", w, words, err)
			continue
		}
		got = append(got, words[0])
	}
	return got
}

// fakeNook puts a stand-in nook first on PATH (env) whose chroot and
// session list --quiet print names a user could give, some of which run
// a command (touching marker) if anything expands them.
func fakeNook(t *testing.T) (env, names []string, marker string) {
	bin := t.TempDir()
	marker = filepath.Join(bin, "ran")
	names = []string{"$(touch " + marker + ")", "`touch " + marker + "`", "a b", "*", "$HOME", "bb"}
	var list strings.Builder
	for _, n := range names {
		list.WriteString(n + "\n")
	}
	if err := os.WriteFile(filepath.Join(bin, "list"), []byte(list.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	// nook chroot|session list --quiet prints the list; anything else fails.
	fake := "#!/bin/sh\n[ \"$2 $3\" = 'list --quiet' ] && exec cat " + filepath.Join(bin, "list") + "\nexit 2\n"
	if err := os.WriteFile(filepath.Join(bin, "nook"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	return []string{"PATH=" + bin + ":" + os.Getenv("PATH")}, names, marker
}

// zsh parses its script; with compadd and the helpers standing in, it
// offers what bash does.
func TestCompletionZsh(t *testing.T) {
	if _, err := exec.LookPath("zsh"); err != nil {
		t.Fatalf("zsh is not installed (test/setup-host.sh installs it): %v", err)
	}
	script := completionScript(t, "zsh")
	env, names, marker := fakeNook(t)
	if out, err := exec.Command("zsh", "-n", script).CombinedOutput(); err != nil {
		t.Fatalf("zsh -n: %v\n%s", err, out)
	}
	complete := func(words ...string) []string {
		t.Helper()
		cmd := exec.Command("zsh", "-f", "-c", `
compadd() { [[ $1 == -- ]] && shift; local w; for w; do [[ $w == "$PREFIX"* ]] && print -rn -- "$w"$'\0'; done }
_files() { print -rn -- FILES$'\0' }
_command_names() { print -rn -- COMMANDS$'\0' }
script=$1; shift
words=("$@"); CURRENT=$#; PREFIX=$words[CURRENT]
source $script
true`, "zsh", script)
		cmd.Args = append(cmd.Args, words...)
		cmd.Env = append(os.Environ(), env...)
		var errb bytes.Buffer
		cmd.Stderr = &errb
		out, err := cmd.Output()
		if err != nil || errb.Len() > 0 {
			t.Fatalf("zsh completing %q: %v, stderr %q", words, err, errb.String())
		}
		var got []string
		for _, w := range strings.Split(string(out), "\x00") {
			if w != "" {
				got = append(got, w)
			}
		}
		return got
	}
	cases := []struct {
		words []string
		want  []string
	}{
		{[]string{"nook", "ses"}, []string{"session"}},
		{[]string{"nook", "session", "end", "--a"}, []string{"--all"}},
		{[]string{"nook", "run", "--ro-bind", "/", "x"}, []string{"FILES"}},
		{[]string{"nook", "run", "--ro-bind", "/", "/", "--unshare-a"}, []string{"--unshare-all"}},
		{[]string{"nook", "run", "l"}, []string{"COMMANDS"}},
		{[]string{"bwrap", "--die"}, []string{"--die-with-parent"}},
		{[]string{"schroot", "--end"}, []string{"--end-session"}},
		{[]string{"nook", "session", "run", "x", "--", "l"}, []string{"COMMANDS"}},
	}
	for _, c := range cases {
		if got := complete(c.words...); !slices.Equal(got, c.want) {
			t.Errorf("zsh completing %q: %q, want %q", c.words, got, c.want)
		}
	}
	// Names from nook, as they are and never run.
	if got := complete("nook", "session", "begin", ""); !slices.Equal(got, names) {
		t.Errorf("zsh completing a chroot name: %q, want %q", got, names)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Errorf("a chroot name was run as a command")
	}
}

// zsh, completing for real (an interactive zsh on a pseudo-terminal, with
// compinit and the script on $fpath), puts a listed name on the command
// line quoted (compadd without -Q): what the line then reads back as is
// the name, one word, and nothing runs.
func TestCompletionZshQuotesNames(t *testing.T) {
	if _, err := exec.LookPath("zsh"); err != nil {
		t.Fatalf("zsh is not installed (test/setup-host.sh installs it): %v", err)
	}
	env, _, marker := fakeNook(t)
	fpath := t.TempDir()
	b, err := os.ReadFile(completionScript(t, "zsh"))
	if err == nil {
		err = os.WriteFile(filepath.Join(fpath, "_nook"), b, 0o644)
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ typed, want string }{
		{"a", "a b"},
		{`\$\(`, "$(touch " + marker + ")"},
		{"\\`", "`touch " + marker + "`"},
	} {
		buf := filepath.Join(t.TempDir(), "buffer")
		// ^T completes the word and writes the line to buf.
		drive := `
zmodload zsh/zpty || exit 1
zpty z 'PS1="> " TERM=dumb zsh -f -i' || exit 1
zpty -w z 'fpath=("$FPATHDIR" $fpath); autoload -Uz compinit; compinit -u -D'
zpty -w z 'dump() { zle complete-word; print -rn -- "$BUFFER" >"$BUF"; }; zle -N dump; bindkey "^T" dump'
zpty -w -n z "nook chroot info $TYPED"$'\x14'
for i in {1..200}; do [[ -e $BUF ]] && break; sleep 0.05; done
zpty -d z
[[ -e $BUF ]]`
		cmd := exec.Command("zsh", "-f", "-c", drive)
		cmd.Env = append(os.Environ(), env...)
		cmd.Env = append(cmd.Env, "FPATHDIR="+fpath, "BUF="+buf, "TYPED="+c.typed)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("zsh completing %q: %v, %q", c.typed, err, out)
		}
		line, err := os.ReadFile(buf)
		if err != nil {
			t.Fatal(err)
		}
		word, ok := strings.CutPrefix(strings.TrimSuffix(string(line), " "), "nook chroot info ")
		if !ok {
			t.Errorf("zsh completing %q: the line is %q", c.typed, line)
			continue
		}
		if got := asTyped(t, marker, []string{word}); !slices.Equal(got, []string{c.want}) {
			t.Errorf("zsh completing %q put %q on the line, which reads back as %q; want %q", c.typed, word, got, c.want)
		}
	}
}
