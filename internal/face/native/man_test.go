package native

import (
	"bytes"
	stdflag "flag" // the package has a func flag
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/nook-project/nook/sandbox"
	"golang.org/x/sys/unix"
)

var updateMan = stdflag.Bool("update", false, "rewrite docs/nook-run.1 from ManPage")

// The source tree, seen from this package's directory. Test binaries may
// run elsewhere (CI copies them out), so it is used only when it is there.
const (
	srcTop      = "../../.."
	manPagePath = srcTop + "/docs/nook-run.1"
)

func manPage(date string) string {
	var b bytes.Buffer
	ManPage(&b, date)
	return b.String()
}

// inSourceTree reports whether srcTop is nook's checkout.
func inSourceTree() bool {
	mod, err := os.ReadFile(filepath.Join(srcTop, "go.mod"))
	if err != nil || !strings.Contains(string(mod), "module github.com/nook-project/nook\n") {
		return false
	}
	_, err = os.Stat(filepath.Join(srcTop, "internal/face/native/man.go"))
	return err == nil
}

// TestManPageCheckedIn keeps docs/nook-run.1 equal to what ManPage makes.
// Outside the source tree it checks the generated page's structure instead.
func TestManPageCheckedIn(t *testing.T) {
	page := manPage(ManDate)
	if !inSourceTree() {
		t.Logf("no source tree at %s: checking the generated page only", srcTop)
		checkManStructure(t, page, ManDate)
		return
	}
	if *updateMan {
		if err := os.WriteFile(manPagePath, []byte(page), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(manPagePath)
	if err != nil {
		t.Fatalf("the checked-in man page: %v (make it with: go run ./cmd/nook man > docs/nook-run.1)", err)
	}
	if string(got) != page {
		have, want := strings.Split(string(got), "\n"), strings.Split(page, "\n")
		i := 0
		for i < len(have) && i < len(want) && have[i] == want[i] {
			i++
		}
		line := func(ls []string) string {
			if i < len(ls) {
				return fmt.Sprintf("%q", ls[i])
			}
			return "end of file"
		}
		t.Errorf("docs/nook-run.1 is out of date at line %d:\n have %s\n want %s\n"+
			"regenerate: go run ./cmd/nook man > docs/nook-run.1 (or go test ./internal/face/native -run TestManPageCheckedIn -update)",
			i+1, line(have), line(want))
	}
	// The default PATH the page names is sandbox's unexported one.
	src, err := os.ReadFile(filepath.Join(srcTop, "sandbox/exec.go"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(src), fmt.Sprintf("defaultPath = %q", manDefaultPath)) {
		t.Errorf("sandbox/exec.go's defaultPath is no longer %q, which the man page names", manDefaultPath)
	}
}

func TestManPageStructure(t *testing.T) {
	checkManStructure(t, manPage(ManDate), ManDate)
	checkManStructure(t, manPage("2030-01-02"), "2030-01-02")
}

// manSections are the page's sections, in order.
var manSections = []string{
	"NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "FILESYSTEM ORDER", "IDENTITY", "EXIT STATUS",
	"SIGNALS AND TERMINALS", "PROCESSES", "FILE DESCRIPTORS", "ENVIRONMENT", "EXAMPLES", "SEE ALSO",
}

// manRequests are the requests and macros the page may use.
var manRequests = map[string]bool{
	"TH": true, "SH": true, "SS": true, "PP": true, "TP": true, "IP": true, "RS": true, "RE": true,
	"nf": true, "fi": true, "nh": true, "B": true, "I": true, "BR": true,
}

// manEscapeRE lists the escapes the page may use; anything else after a
// backslash is a mistake.
var manEscapeRE = regexp.MustCompile(`^\\(f[BIR]|-|e|&|\(bu)`)

func checkManStructure(t *testing.T, page, date string) {
	t.Helper()
	if !strings.HasSuffix(page, "\n") {
		t.Errorf("the page does not end with a newline")
	}
	lines := strings.Split(strings.TrimSuffix(page, "\n"), "\n")
	var sections, groups []string
	th := 0
	for n, l := range lines {
		where := fmt.Sprintf("line %d %q", n+1, l)
		switch {
		case l == "":
			t.Errorf("%s: blank line (troff reads it as .sp)", where)
			continue
		case strings.TrimRight(l, " \t") != l:
			t.Errorf("%s: trailing whitespace", where)
		case len(l) > manWidth:
			t.Errorf("%s: longer than %d bytes", where, manWidth)
		}
		for _, r := range l {
			if r > 0x7e || r < 0x20 {
				t.Errorf("%s: character %U outside printable ASCII", where, r)
				break
			}
		}
		if strings.HasPrefix(l, `.\"`) {
			continue
		}
		if l[0] == '.' || l[0] == '\'' {
			req, args, _ := strings.Cut(l[1:], " ")
			if l[0] == '\'' || !manRequests[req] {
				t.Errorf("%s: not a request the page uses (an unescaped line start?)", where)
			}
			switch req {
			case "TH":
				th++
				if want := `NOOK-RUN 1 ` + date + ` nook "User Commands"`; args != want {
					t.Errorf("%s: want .TH %s", where, want)
				}
			case "SH":
				sections = append(sections, strings.Trim(args, `"`))
			case "SS":
				groups = append(groups, strings.Trim(args, `"`))
			}
		} else if i := strings.IndexFunc(l, func(r rune) bool { return r == '-' }); i >= 0 && (i == 0 || l[i-1] != '\\') {
			t.Errorf("%s: unescaped hyphen (write \\-)", where)
		}
		for i := strings.IndexByte(l, '\\'); i >= 0; {
			m := manEscapeRE.FindString(l[i:])
			if m == "" {
				t.Errorf("%s: unexpected escape at %q", where, l[i:])
				break
			}
			next := strings.IndexByte(l[i+len(m):], '\\')
			if next < 0 {
				break
			}
			i += len(m) + next
		}
	}
	first := 0
	for first < len(lines) && strings.HasPrefix(lines[first], `.\"`) {
		first++
	}
	if th != 1 || first == len(lines) || !strings.HasPrefix(lines[first], ".TH ") {
		t.Errorf("want exactly one .TH, first after any comments; found %d", th)
	}
	if fmt.Sprint(sections) != fmt.Sprint(manSections) {
		t.Errorf("sections:\n have %q\n want %q", sections, manSections)
	}
	var wantGroups []string
	for _, o := range options() {
		if len(wantGroups) == 0 || wantGroups[len(wantGroups)-1] != o.group {
			wantGroups = append(wantGroups, o.group)
		}
	}
	if fmt.Sprint(groups) != fmt.Sprint(wantGroups) {
		t.Errorf("option groups:\n have %q\n want %q (the table's, in order)", groups, wantGroups)
	}

	plain := manPlain(page)
	for _, want := range []string{
		"nook-run - run a command in a rootless sandbox",
		"NOOK_TIMING",
		fmt.Sprint(sandbox.ExitSetupFailed), fmt.Sprint(sandbox.ExitCannotExecute), fmt.Sprint(sandbox.ExitNotFound),
		manDefaultLayout,
	} {
		if !strings.Contains(plain, want) {
			t.Errorf("the page does not mention %q", want)
		}
	}
	for _, s := range sandbox.ForwardedSignals {
		if name := unix.SignalName(s.(unix.Signal)); !strings.Contains(plain, name) {
			t.Errorf("SIGNALS AND TERMINALS does not name %s, which nook forwards", name)
		}
	}
	for _, ref := range []string{"bwrap", "unshare", "user_namespaces", "capabilities", "seccomp"} {
		if !regexp.MustCompile(`(?m)^\.BR ` + ref + ` \(\d\)`).MatchString(page) {
			t.Errorf("SEE ALSO lacks %s", ref)
		}
	}
}

// manPlain strips the page's font changes and escapes.
func manPlain(s string) string {
	return strings.NewReplacer(`\fB`, "", `\fI`, "", `\fR`, "", `\-`, "-", `\e`, `\`, `\&`, "", `\(bu`, "*").Replace(s)
}

// TestManPageOptions checks the OPTIONS section against the table: every
// option, with all its metavariables and its help, in table order, and
// nothing else.
func TestManPageOptions(t *testing.T) {
	page := manPage(ManDate)
	lines := strings.Split(page, "\n")
	type entry struct{ tag, body string }
	var entries []entry
	for i := 0; i+1 < len(lines); i++ {
		if lines[i] != ".TP" || !strings.HasPrefix(lines[i+1], `\fB\-\-`) {
			continue
		}
		var body []string
		for _, l := range lines[i+2:] {
			if strings.HasPrefix(l, ".") {
				break
			}
			body = append(body, l)
		}
		entries = append(entries, entry{lines[i+1], manPlain(strings.Join(body, " "))})
	}
	if len(entries) != len(options()) {
		t.Errorf("the page has %d option entries, the table %d options", len(entries), len(options()))
	}
	for i, o := range options() {
		want := `\fB\-\-` + strings.ReplaceAll(o.name, "-", `\-`) + `\fR`
		for _, a := range o.args {
			want += ` \fI` + strings.ReplaceAll(a, "-", `\-`) + `\fR`
		}
		if i >= len(entries) {
			t.Errorf("--%s is missing", o.name)
			continue
		}
		if entries[i].tag != want {
			t.Errorf("entry %d: tag %q, want %q", i+1, entries[i].tag, want)
		}
		if entries[i].body != o.help {
			t.Errorf("--%s: described as %q, want the help %q", o.name, entries[i].body, o.help)
		}
	}

	// Every option the prose names exists.
	known := map[string]bool{}
	for _, o := range options() {
		known[o.name] = true
	}
	for _, m := range regexp.MustCompile(`\\fB\\-\\-((?:[a-z0-9]|\\-)+)`).FindAllStringSubmatch(page, -1) {
		if name := strings.ReplaceAll(m[1], `\-`, "-"); !known[name] {
			t.Errorf("the page names --%s, which is not an option", name)
		}
	}
	for name := range optionNotes() {
		if !known[name] {
			t.Errorf("optionNotes has a note for --%s, which is not an option", name)
		}
	}
}

// TestManPageDefaultLayout checks the layout the page shows against the
// one nook builds.
func TestManPageDefaultLayout(t *testing.T) {
	t.Chdir(t.TempDir())
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	words := func(m sandbox.Mount) string {
		switch {
		case m.Op == sandbox.OpBind && m.ReadOnly:
			return "--ro-bind " + m.Source + " " + m.Dest
		case m.Op == sandbox.OpBind:
			return "--bind " + m.Source + " " + m.Dest
		case m.Op == sandbox.OpDev, m.Op == sandbox.OpTmpfs, m.Op == sandbox.OpProc:
			return "--" + string(m.Op) + " " + m.Dest
		}
		t.Fatalf("the default layout has %+v, which the page cannot show", m)
		return ""
	}
	for _, tt := range []struct {
		pidNS bool
		want  string
	}{{true, manDefaultLayout}, {false, manDefaultLayoutNoPID}} {
		ms, _ := defaultLayout(tt.pidNS, nil)
		cwd := sandbox.Mount{Op: sandbox.OpBind, Source: wd, Dest: wd}
		if len(ms) == 0 || fmt.Sprint(ms[len(ms)-1]) != fmt.Sprint(cwd) {
			t.Fatalf("defaultLayout(%v) does not end with the bind of the current directory, as the page says: %+v", tt.pidNS, ms)
		}
		var got []string
		for _, m := range ms[:len(ms)-1] {
			got = append(got, words(m))
		}
		if s := strings.Join(got, " "); s != tt.want {
			t.Errorf("defaultLayout(%v) is %q; the page says %q", tt.pidNS, s, tt.want)
		}
	}
}

// TestManPageLint runs the page through mandoc and groff, where installed,
// and fails on any warning. (The line checks of checkManStructure run
// everywhere.)
func TestManPageLint(t *testing.T) {
	file := filepath.Join(t.TempDir(), "nook-run.1")
	if err := os.WriteFile(file, []byte(manPage(ManDate)), 0o644); err != nil {
		t.Fatal(err)
	}
	ran := false
	if _, err := exec.LookPath("mandoc"); err == nil {
		ran = true
		out, _ := exec.Command("mandoc", "-T", "lint", "-W", "all", file).CombinedOutput()
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			switch {
			case l == "":
			case strings.Contains(l, ": STYLE: "):
				t.Logf("mandoc: %s", l)
			default:
				t.Errorf("mandoc: %s", l)
			}
		}
	}
	if _, err := exec.LookPath("groff"); err == nil {
		ran = true
		cmd := exec.Command("groff", "-man", "-z", "-ww", "-Tutf8", file)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		if err != nil || stderr.Len() > 0 {
			t.Errorf("groff -man -z -ww: %v\n%s", err, stderr.String())
		}
	}
	if !ran {
		t.Log("neither mandoc nor groff is installed: only the line checks ran")
	}
}

func TestManText(t *testing.T) {
	for _, tt := range []struct {
		in    string
		metas []string
		want  string
	}{
		{"plain words", nil, "plain words"},
		{`a\b-c`, nil, `a\eb\-c`},
		{".hidden", nil, `\&.hidden`},
		{"'quoted'", nil, `\&'quoted'`},
		{"see --bind and --dev-bind's rule", nil, `see \fB\-\-bind\fR and \fB\-\-dev\-bind\fR's rule`},
		{"not an--option", nil, `not an\-\-option`},
		{"`--opt=x` and {META}", nil, `\fB\-\-opt=x\fR and \fIMETA\fR`},
		{"bind SRC onto DEST, not SRCS or xDEST", []string{"SRC", "DEST"}, `bind \fISRC\fR onto \fIDEST\fR, not SRCS or xDEST`},
		{"PATH stays plain", nil, "PATH stays plain"},
		{"see pivot_root(2) and x(9)", nil, `see \fBpivot_root\fR(2) and x(9)`},
		{"caf\u00e9", nil, `caf\[u00E9]`},
	} {
		var m manWriter
		m.markup(tt.in, tt.metas)
		if got := strings.TrimSuffix(m.b.String(), "\n"); got != tt.want {
			t.Errorf("markup(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}

	// Sentences start lines (troff then spaces them as sentences), an
	// ellipsis does not end one, and long lines wrap with every line's
	// start guarded.
	var m manWriter
	m.text("One sentence. Two sentences, 3, 4, ... and more. --bind starts one. " +
		"Word" + strings.Repeat(" word", 14) + " .dotfile and more.")
	want := []string{
		"One sentence.",
		"Two sentences, 3, 4, ... and more.",
		`\fB\-\-bind\fR starts one.`,
		"Word" + strings.Repeat(" word", 14),
		`\&.dotfile and more.`,
	}
	lines := strings.Split(strings.TrimSuffix(m.b.String(), "\n"), "\n")
	if fmt.Sprint(lines) != fmt.Sprint(want) {
		t.Errorf("lines:\n have %q\n want %q", lines, want)
	}
	for _, l := range lines {
		if len(l) > manWidth || strings.HasPrefix(l, ".") || strings.HasSuffix(l, " ") {
			t.Errorf("badly wrapped line %q", l)
		}
	}
}

// TestManScannersMatchRegexps checks the hand-written scanners of man.go
// against the regular expressions they stand for, on every help text and
// note and on edge cases.
func TestManScannersMatchRegexps(t *testing.T) {
	sentenceRE := regexp.MustCompile(`[^.]\. +(?:[A-Z]|\\f)`)
	inlineRE := regexp.MustCompile("`[^`]*`|\\{[A-Za-z][A-Za-z0-9_]*\\}|--[a-z0-9][a-z0-9-]*|[a-z_][a-z_0-9]*\\([1-8]\\)|[A-Z][A-Z0-9_]*")
	texts := []string{"", ".", ". A", "a. A", "a.  B", "a.. B", "…. A", "é. Z", "a. \\fB", "a. \\x", "a.A", "a. a", "x. Y. Z",
		"a. B. C", "`x", "`x` `", "{A}", "{a_1}", "{1}", "{A", "--", "---a", "--a-b--", "-a", "man(1)", "man(9)", "man(1", "_x(8)",
		"Xman(1)", "FOO_1bar", "a--b", "x{Y}z", "é{É}", "\xff. A"}
	for _, o := range options() {
		texts = append(texts, o.help)
	}
	for _, n := range optionNotes() {
		texts = append(texts, n)
	}
	var b strings.Builder
	ManPage(&b, ManDate)
	SessionManPage(&b, ManDate)
	texts = append(texts, strings.Split(b.String(), "\n")...)
	for _, s := range texts {
		var want []int
		for _, loc := range sentenceRE.FindAllStringIndex(s, -1) {
			want = append(want, loc[0])
		}
		if got := sentenceEnds(s); !cmp.Equal(got, want, cmpopts.EquateEmpty()) {
			t.Errorf("sentenceEnds(%q) = %v, the regexp says %v", s, got, want)
		}
		var wantTok [][2]int
		for _, loc := range inlineRE.FindAllStringIndex(s, -1) {
			wantTok = append(wantTok, [2]int{loc[0], loc[1]})
		}
		if got := inlineTokens(s); !cmp.Equal(got, wantTok, cmpopts.EquateEmpty()) {
			t.Errorf("inlineTokens(%q) = %v, the regexp says %v", s, got, wantTok)
		}
	}
}
