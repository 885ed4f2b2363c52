package main

import (
	"debug/buildinfo"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nook-project/nook/internal/face/native"
)

// nook's own failures exit 125 wherever the exit status is otherwise the
// command's (nook run, nook session run): a caller must be able to tell
// "the build failed" from "nook could not start the build".
func TestSessionRunOwnFailuresExit125(t *testing.T) {
	e := newSessionEnv(t)
	e.busyboxChroot("bb")
	id := strings.TrimSpace(e.must("session", "begin", "bb"))
	damaged := strings.TrimSpace(e.must("session", "begin", "bb"))
	stateDir := filepath.Join(e.dir, "state", "nook", "sessions", damaged)
	if err := os.WriteFile(filepath.Join(stateDir, "state.json"), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no such session", []string{"session", "run", "nook-no-such-session", "--", "true"}, 125, "no such session"},
		{"damaged session", []string{"session", "run", damaged, "--", "true"}, 125, "is damaged"},
		{"command fails", []string{"session", "run", id, "--", "sh", "-c", "exit 1"}, 1, ""},
		{"command not found", []string{"session", "run", id, "--", "nook-no-such-command"}, 127, "not found"},
		{"usage: no id", []string{"session", "run"}, 2, "give a session id"},
		{"usage: unknown option", []string{"session", "run", id, "--frobnicate"}, 2, "unknown flag"},
		{"usage: unknown verb", []string{"session", "frobnicate"}, 2, "unknown verb"},
	}
	var info struct {
		IDMode string `json:"id_mode"`
	}
	if err := json.Unmarshal([]byte(e.must("session", "info", id, "--json")), &info); err != nil {
		t.Fatal(err)
	}
	if info.IDMode == "subids" {
		// Only a session over subordinate ids has a map a uid can fall
		// outside: real root's uses the host's ids, and a single-id
		// session maps the caller to whichever uid is asked for.
		cases = append(cases, struct {
			name string
			args []string
			code int
			msg  string
		}{"uid outside the map", []string{"session", "run", id, "-u", "99999999", "--", "true"}, 125, "99999999"})
	} else {
		t.Logf("id mode %s: -u 99999999 is a uid the session can give, so the case of a uid outside the map runs only with subordinate ids", info.IDMode)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, errOut, code := e.nook(c.args...)
			if code != c.code || !strings.Contains(errOut, c.msg) {
				t.Errorf("nook %s: exit %d, stderr %q; want %d and %q", strings.Join(c.args, " "), code, errOut, c.code, c.msg)
			}
		})
	}
}

// A word the option does not take is a usage error, whatever the caller.
func TestRunIdentityUsageError(t *testing.T) {
	_, errOut, code := nook(t, "/", "run", "--identity", "bogus", "--", "true")
	if code != 2 || !strings.Contains(errOut, "--identity") || !strings.Contains(errOut, "subids-self") {
		t.Errorf("exit %d, stderr %q; want 2 and the modes --identity takes", code, errOut)
	}
}

// Help asked for goes to stdout with status 0; usage shown for a mistake
// goes to stderr with status 2; nook help TOPIC is TOPIC's help.
func TestHelpStreams(t *testing.T) {
	cases := []struct {
		args      []string
		code      int
		stdoutHas string // "" means stdout must be empty
		stderrHas string // "" means stderr must be empty
	}{
		{[]string{"--help"}, 0, "usage: nook COMMAND", ""},
		{[]string{"-h"}, 0, "usage: nook COMMAND", ""},
		{[]string{"help"}, 0, "usage: nook COMMAND", ""},
		{[]string{}, 2, "", "usage: nook COMMAND"},
		{[]string{"frobnicate"}, 2, "", "usage: nook COMMAND"},
		{[]string{"run", "--help"}, 0, "usage: nook run", ""},
		{[]string{"run", "-h"}, 0, "usage: nook run", ""},
		{[]string{"run", "--tmpfs", "/t", "-h"}, 0, "usage: nook run", ""},
		{[]string{"help", "run"}, 0, "usage: nook run", ""},
		{[]string{"help", "session"}, 0, "usage: nook session", ""},
		{[]string{"help", "chroot"}, 0, "usage: nook chroot", ""},
		{[]string{"help", "cache"}, 0, "usage: nook cache", ""},
		{[]string{"help", "bwrap"}, 0, "usage: bwrap", ""},
		{[]string{"help", "frobnicate"}, 2, "", "no help on \"frobnicate\""},
		{[]string{"session"}, 2, "", "usage: nook session"},
		{[]string{"session", "--help"}, 0, "usage: nook session", ""},
		{[]string{"chroot"}, 2, "", "usage: nook chroot"},
		{[]string{"cache"}, 2, "", "usage: nook cache"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			out, errOut, code := nook(t, "/", c.args...)
			if code != c.code {
				t.Errorf("exit %d, want %d", code, c.code)
			}
			for _, s := range []struct{ name, got, want string }{{"stdout", out, c.stdoutHas}, {"stderr", errOut, c.stderrHas}} {
				if s.want == "" && s.got != "" || !strings.Contains(s.got, s.want) {
					t.Errorf("%s %q, want it to contain %q (empty: nothing)", s.name, s.got, s.want)
				}
			}
		})
	}
}

// A mistake in an option is reported against that option, never by a
// number counting operations nook added itself (the default layout).
func TestRunOptionMistakeNamesTheOption(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--ro-bind", "/usr", "--", "true"}, "--ro-bind SRC DEST: DEST is missing"},
		{[]string{"run", "--ro-bind", "/usr", "usr", "true"}, `--ro-bind: destination "usr" is not an absolute path`},
	} {
		_, errOut, code := nook(t, "/", c.args...)
		if code != 2 || !strings.Contains(errOut, c.want) || strings.Contains(errOut, "operation") {
			t.Errorf("nook %s: exit %d, stderr %q; want 2 and %q, no operation numbers", strings.Join(c.args, " "), code, errOut, c.want)
		}
	}
}

// nook version reports the revision the toolchain stamped into the binary
// (as `go version -m` reads it) and honours --json.
func TestVersionReportsBuildRevision(t *testing.T) {
	// Read independently of nook: debug/buildinfo parses the binary as
	// `go version -m` does.
	bi, err := buildinfo.ReadFile(nookBin)
	if err != nil {
		t.Fatalf("read the build information of %s: %v", nookBin, err)
	}
	stamped := ""
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			stamped = s.Value
		}
	}
	out, errOut, code := nook(t, "/", "version", "--json")
	var v struct {
		Version  string `json:"version"`
		Revision string `json:"revision"`
		Go       string `json:"go"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v.Version == "" || v.Go == "" {
		t.Fatalf("nook version --json: exit %d, stdout %q, stderr %q; want a JSON object", code, out, errOut)
	}
	if v.Revision != stamped {
		t.Errorf("revision %q, want the stamped %q", v.Revision, stamped)
	}
	line, _, _ := nook(t, "/", "version")
	if stamped != "" && !strings.Contains(line, stamped) {
		t.Errorf("nook version printed %q, without the revision %s", line, stamped)
	}
	if stamped == "" {
		t.Logf("the binary carries no VCS stamp (built from a git worktree or with -buildvcs=false): only --json and the absence of a revision are checked")
	}
}

// --print-plan shows the filesystem operations in the order nook makes
// them, after sorting and deduplication, with the default layout marked;
// --debug shows the same on stderr and runs the command.
func TestPrintPlan(t *testing.T) {
	out, errOut, code := nook(t, "/", "run", "--print-plan", "--dir", "/a/b", "--tmpfs", "/a", "--tmpfs", "/a", "--size", "1m", "--tmpfs", "/c", "--", "true")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var ops []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "--") {
			ops = append(ops, l)
		}
	}
	want := []string{
		"--ro-bind / /    # default layout",
		"--tmpfs /a",
		"--dir /a/b",
		"--size 1048576 --tmpfs /c",
		"--dev /dev    # default layout",
		"--proc /proc    # default layout",
		"--tmpfs /tmp    # default layout",
	}
	if strings.Join(ops, "\n") != strings.Join(want, "\n") {
		t.Errorf("plan:\n%s\nwant the operations:\n%s", out, strings.Join(want, "\n"))
	}
	if !strings.Contains(out, "# then: true") {
		t.Errorf("plan lacks the command:\n%s", out)
	}
	out, errOut, code = nook(t, "/", "run", "--debug", "--ro-bind", "/", "/", "--", "echo", "ran")
	if code != 0 || out != "ran\n" || !strings.Contains(errOut, "\n--ro-bind / /\n") || strings.Contains(errOut, "default layout") {
		t.Errorf("--debug: exit %d, stdout %q, stderr %q; want the command run and the plan (no default layout) on stderr", code, out, errOut)
	}
}

// The default layout: not added under a command line that builds its own
// root (bwrap's habits), and never all of $HOME writable unasked.
func TestDefaultLayoutSurprises(t *testing.T) {
	home := filepath.Join(t.TempDir(), "me")
	os.MkdirAll(home, 0o755)
	cmd := exec.Command(nookBin, "run", "--", "sh", "-c", "touch made-inside")
	cmd.Dir = home
	cmd.Env = append(os.Environ(), "HOME="+home)
	errOut, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(errOut), "stays read-only") || !strings.Contains(string(errOut), "--bind "+home+" "+home) {
		t.Errorf("nook run in $HOME: %v, output %q; want the write refused and a note naming --bind", err, errOut)
	}
	if _, err := os.Stat(filepath.Join(home, "made-inside")); err == nil {
		t.Errorf("a file made in $HOME reached the host")
	}

	tree := []string{"run", "--ro-bind", "/usr", "/usr", "--proc", "/proc", "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib"}
	if _, err := os.Lstat("/lib64"); err == nil {
		tree = append(tree, "--symlink", "usr/lib64", "/lib64")
	}
	_, errOut2, code := nook(t, "/", append(tree, "--", "/usr/bin/test", "-e", "/etc/passwd")...)
	if code != 1 {
		t.Errorf("a bwrap-style tree: exit %d (stderr %q), want 1: no /etc, since nook adds no default layout to it", code, errOut2)
	}
}

// Every verb that answers --help answers `nook help VERB` too, with the
// same text: the topics are not a second list to forget a verb in.
func TestHelpEveryVerb(t *testing.T) {
	helped := 0
	for _, verb := range native.TopVerbs {
		t.Run(verb, func(t *testing.T) {
			want, _, code := nook(t, "/", verb, "--help")
			if code != 0 {
				t.Skipf("nook %s --help: exit %d, so it has no help to reach", verb, code)
			}
			helped++
			out, errOut, code := nook(t, "/", "help", verb)
			if code != 0 || out != want {
				t.Errorf("nook help %s: exit %d, stdout %q, stderr %q; want 0 and what nook %s --help prints", verb, code, out, errOut, verb)
			}
		})
	}
	if helped < len(native.TopVerbs)/2 {
		t.Errorf("only %d of the %d verbs answered --help", helped, len(native.TopVerbs))
	}
}
