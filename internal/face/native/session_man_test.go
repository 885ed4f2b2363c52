package native

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func sessionManPage() string {
	var b bytes.Buffer
	SessionManPage(&b, ManDate)
	return b.String()
}

// Every option of every session, chroot and cache verb is in both the
// --help text and the man page.
func TestSessionOptionsDocumented(t *testing.T) {
	man := sessionManPage()
	help := sessionHelp + chrootHelp + cacheHelp
	for verb, fs := range verbFlagSets() {
		fs.visit(func(name, short string) {
			long := "--" + name
			manLong := `Fl \-` + strings.ReplaceAll(name, "-", `\-`)
			if !strings.Contains(help, long) {
				t.Errorf("%s %s is not in the --help text", verb, long)
			}
			if !strings.Contains(man, manLong) {
				t.Errorf("%s %s is not in the man page", verb, long)
			}
			if short != "" && !strings.Contains(man, "Fl "+short) {
				t.Errorf("%s -%s is not in the man page", verb, short)
			}
		})
	}
	for _, verb := range []string{"begin", "run", "end", "list", "info", "add", "remove", "create", "prune"} {
		if !strings.Contains(man, "Cm "+verb) || !strings.Contains(help, "  "+verb) {
			t.Errorf("verb %s is missing from the man page or the help", verb)
		}
	}
}

// TestSessionManPageLint fails on any mandoc warning; the checked-in copy
// must equal the generated page when the source tree is there.
func TestSessionManPageLint(t *testing.T) {
	page := sessionManPage()
	file := filepath.Join(t.TempDir(), "nook-session.1")
	if err := os.WriteFile(file, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("mandoc"); err != nil {
		t.Fatalf("mandoc is not installed (test/setup-host.sh installs it): %v", err)
	}
	out, _ := exec.Command("mandoc", "-T", "lint", "-W", "all", file).CombinedOutput()
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		switch {
		case l == "":
		case strings.Contains(l, ": STYLE: "), strings.Contains(l, "outdated mandoc.db"):
			t.Logf("mandoc: %s", l)
		default:
			t.Errorf("mandoc: %s", l)
		}
	}
	if inSourceTree() {
		got, err := os.ReadFile(filepath.Join(srcTop, "docs/nook-session.1"))
		if err != nil || string(got) != page {
			t.Errorf("docs/nook-session.1 differs from the generated page; run: go run ./cmd/nook man session > docs/nook-session.1 (%v)", err)
		}
	}
}

// TestNookManPage: nook(1) lints clean, names every command nook dispatches
// and the exit statuses, and equals docs/nook.1 when the source tree is
// there (go run ./cmd/nook man nook > docs/nook.1).
func TestNookManPage(t *testing.T) {
	var b bytes.Buffer
	NookManPage(&b, ManDate)
	page := b.String()
	for _, v := range TopVerbs {
		if !strings.Contains(page, ".It Cm "+v+"\n") || !strings.Contains(page, ".Cm "+v+"\n") {
			t.Errorf("command %s is not described in nook(1)", v)
		}
	}
	for _, s := range []string{".It 125\n", ".It 126\n", ".It 127\n", ".It 2\n", ".Xr nook-run 1", ".Xr nook-session 1", ".It Ev NOOK_UNPACK"} {
		if !strings.Contains(page, s) {
			t.Errorf("nook(1) lacks %q", s)
		}
	}
	file := filepath.Join(t.TempDir(), "nook.1")
	if err := os.WriteFile(file, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("mandoc"); err != nil {
		t.Fatalf("mandoc is not installed (test/setup-host.sh installs it): %v", err)
	}
	out, _ := exec.Command("mandoc", "-T", "lint", "-W", "all", file).CombinedOutput()
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		switch {
		case l == "":
		case strings.Contains(l, ": STYLE: "), strings.Contains(l, "outdated mandoc.db"):
			t.Logf("mandoc: %s", l)
		default:
			t.Errorf("mandoc: %s", l)
		}
	}
	if !inSourceTree() {
		t.Logf("no source tree at %s: the checked-in docs/nook.1 is not compared", srcTop)
		return
	}
	got, err := os.ReadFile(filepath.Join(srcTop, "docs/nook.1"))
	if err != nil || string(got) != page {
		t.Errorf("docs/nook.1 differs from the generated page; run: go run ./cmd/nook man nook > docs/nook.1 (%v)", err)
	}
}
