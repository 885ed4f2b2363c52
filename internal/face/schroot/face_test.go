package schroot

import (
	"bytes"
	"embed"
	"io/fs"
	"maps"
	"os"
	"os/user"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// testdata is embedded: CI runs the test binaries away from the source.
//
//go:embed testdata
var testdata embed.FS

// golden reads a testdata file of "==== ARGS" blocks.
func golden(t *testing.T, name string) map[string]string {
	t.Helper()
	data, err := testdata.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	var key string
	for _, line := range strings.SplitAfter(string(data), "\n") {
		switch {
		case strings.HasPrefix(line, "==== "):
			key = strings.TrimSpace(line[5:])
			out[key] = ""
		case key != "":
			out[key] += line
		}
	}
	return out
}

// testFace runs the face in-process with the definitions of testdata/etc
// and an empty store of its own.
func testFace(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return testFaceIn(t, "etc", args...)
}

// testFaceIn is testFace with the definitions of testdata/ETCDIR.
func testFaceIn(t *testing.T, etcDir string, args ...string) (string, string, int) {
	t.Helper()
	etc := t.TempDir()
	sub, _ := fs.Sub(testdata, "testdata/"+etcDir)
	if err := os.CopyFS(etc, sub); err != nil {
		t.Fatal(err)
	}
	t.Setenv(etcEnv, etc)
	t.Setenv(homeEnv, t.TempDir())
	var out, errb bytes.Buffer
	f := &face{stdout: &out, stderr: &errb, version: "test", now: func() time.Time { return time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC) }}
	code := f.run(args)
	return out.String(), errb.String(), code
}

// dropComments removes "#" lines, which no client reads (the generator
// line names nook, not schroot).
func dropComments(s string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(s, "\n") {
		if !strings.HasPrefix(l, "#") {
			b.WriteString(l)
		}
	}
	return b.String()
}

// TestOutputsMatchSchroot compares what clients parse with schroot
// 1.6.13's own output for the same definition, byte for byte.
func TestOutputsMatchSchroot(t *testing.T) {
	for args, want := range golden(t, "schroot-1.6.13.txt") {
		t.Run(args, func(t *testing.T) {
			out, errOut, code := testFace(t, strings.Fields(args)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if strings.HasPrefix(args, "--config") {
				out, want = dropComments(out), dropComments(want)
			}
			if diff := cmp.Diff(want, out); diff != "" {
				t.Errorf("schroot %s differs from schroot 1.6.13 (-schroot +nook):\n%s", args, diff)
			}
		})
	}
}

// TestInfoLongKey: a key longer than schroot's own (a custom nook.* key
// under User Data) widens the whole block, as in schroot 1.6.13.
func TestInfoLongKey(t *testing.T) {
	for args, want := range golden(t, "schroot-1.6.13-longkey.txt") {
		out, errOut, code := testFaceIn(t, "etc-longkey", strings.Fields(args)...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		if diff := cmp.Diff(want, out); diff != "" {
			t.Errorf("schroot %s differs from schroot 1.6.13 (-schroot +nook):\n%s", args, diff)
		}
	}
}

func TestParse(t *testing.T) {
	cases := []struct {
		args []string
		want options
	}{
		{[]string{"-d", "/", "-c", "S", "--run-session", "-q", "-u", "root", "-p", "--", "getent", "group", "sbuild"},
			options{action: actRun, actionSet: true, chroots: []string{"S"}, directory: "/", quiet: true, user: "root", preserve: true, command: []string{"getent", "group", "sbuild"}}},
		{[]string{"--run-session", "--quiet", "--directory=/", "--chroot", "S", "--user=root", "--", "mktemp", "-d"},
			options{action: actRun, actionSet: true, chroots: []string{"S"}, directory: "/", quiet: true, user: "root", command: []string{"mktemp", "-d"}}},
		{[]string{"-cS", "-qp", "-r", "ls", "-v"}, // without "--", -v is nook's again
			options{action: actRun, actionSet: true, chroots: []string{"S"}, quiet: true, preserve: true, verbose: true, command: []string{"ls"}}},
		{[]string{"--begin", "--chroot=chroot:N", "--session-name", "X"},
			options{action: actBegin, actionSet: true, chroots: []string{"chroot:N"}, sessionName: "X"}},
		{[]string{"-lc", "probe"}, options{action: actList, actionSet: true, chroots: []string{"probe"}}},
		{[]string{"--isolate-network", "-o", "a=b", "-s", "/bin/sh", "-n", "n", "-f", "-v", "-a", "--exclude-aliases"},
			options{isolateNetwork: true, settings: []string{"a=b"}, shell: "/bin/sh", sessionName: "n", force: true, verbose: true, all: true, excludeAliases: true}},
	}
	for _, c := range cases {
		got, err := parse(c.args)
		if err != nil {
			t.Errorf("parse %q: %v", c.args, err)
			continue
		}
		if diff := cmp.Diff(&c.want, got, cmp.AllowUnexported(options{})); diff != "" {
			t.Errorf("parse %q (-want +got):\n%s", c.args, diff)
		}
	}
}

// TestErrorsMatchSchroot: messages and statuses schroot 1.6.13 gives for
// bad command lines (measured with the real one).
func TestErrorsMatchSchroot(t *testing.T) {
	hint := "I: Run “schroot --help” to list usage example and all available options\n"
	cases := []struct {
		args   string
		stderr string
	}{
		{"--foo", "E: unrecognised option '--foo'\n"},
		{"-x", "E: unrecognised option '-x'\n"},
		{"-l -b", "E: Only one action may be specified\n" + hint},
		{"-cS -qli", "E: Only one action may be specified\n" + hint},
		{"--al", "E: option '--al' is ambiguous and matches '--all', '--all-chroots', '--all-sessions', and '--all-source-chroots'\n"},
		{"--all-s", "E: option '--all-s' is ambiguous and matches '--all-sessions', and '--all-source-chroots'\n"},
		{"-c", "E: the required argument for option '--chroot' is missing\n"},
		{"--chroot= -i", "E: the argument for option '--chroot' should follow immediately after the equal sign\n"},
		{"--list=1", "E: option '--list' does not take any arguments\n"},
		{"-b", "E: Exactly one chroot must be specified when beginning a session\n" + hint},
		{"-b -c a -c b", "E: Exactly one chroot must be specified when beginning a session\n" + hint},
		{"-r", "E: The specified chroots are not defined in ‘/etc/schroot/schroot.conf’\n"},
		{"-e -c nosuch", "E: nosuch: Chroot not found\n"},
		{"-c nosuch true", "E: nosuch: Chroot not found\n"},
		{"-i -c nosuch -c bookworm-amd64", "E: nosuch: Chroot not found\n"},
		{"-i -c source:nosuch", "E: source:nosuch: Chroot not found\n"},
		{"-e -c bookworm-amd64", "E: bookworm-amd64: Chroot not found\n"}, // a chroot is not a session
		{"-b -c bookworm-amd64 -n a/b", "E: Invalid session name\n" + hint},
	}
	for _, c := range cases {
		t.Run(c.args, func(t *testing.T) {
			out, errOut, code := testFace(t, strings.Fields(c.args)...)
			if code != 1 || errOut != c.stderr || out != "" {
				t.Errorf("schroot %s: exit %d, stdout %q, stderr %q; want 1, nothing, %q", c.args, code, out, errOut, c.stderr)
			}
		})
	}
}

func TestListForms(t *testing.T) {
	cases := map[string]string{
		"-l -c bookworm-amd64":              "bookworm-amd64\n",
		"-l --exclude-aliases":              "chroot:bookworm-amd64-sbuild\nsource:bookworm-amd64-sbuild\n",
		"-l --all-chroots":                  "chroot:bookworm-amd64\nchroot:bookworm-amd64-sbuild\nchroot:bookworm-amd64-source\n",
		"-l --all-sessions":                 "",
		"--location":                        "\n",
		"-i -c bookworm-amd64-source":       "",
		"--config -c source:bookworm-amd64": "# \n",
	}
	for args, want := range cases {
		out, errOut, code := testFace(t, strings.Fields(args)...)
		if code != 0 {
			t.Errorf("schroot %s: exit %d: %s", args, code, errOut)
			continue
		}
		switch {
		case strings.HasPrefix(args, "-i"):
			// The legacy NAME-source name is the source chroot.
			if !strings.HasPrefix(out, "  ─── Source ───\n  Name                   bookworm-amd64-sbuild\n") {
				t.Errorf("schroot %s:\n%s", args, out)
			}
		case strings.HasPrefix(args, "--config"):
			// schroot prints no section for a source chroot.
			if dropComments(out) != "" {
				t.Errorf("schroot %s: %q", args, out)
			}
		case out != want:
			t.Errorf("schroot %s: %q, want %q", args, out, want)
		}
	}
}

// TestGroupNames: one read of /etc/group names the caller's groups as
// os/user does, one lookup at a time.
func TestGroupNames(t *testing.T) {
	gids, _ := os.Getgroups()
	gids = append(gids, os.Getgid(), 0)
	got := groupNames(gids)
	for _, g := range gids {
		want := ""
		if gr, err := user.LookupGroupId(strconv.Itoa(g)); err == nil {
			want = gr.Name
		}
		if got[g] != want {
			t.Errorf("gid %d: %q, os/user says %q", g, got[g], want)
		}
	}
	if got[0] != "root" {
		t.Errorf("gid 0 is %q, want root", got[0])
	}
	// What glibc's files backend skips is skipped.
	file := "# old:x:1000:\n+nis:x:1000:\n-nis:x:1001:\nshort:x:1000\n:x:1000:\n  \n" +
		" builder:x:1000:alice\nlater:x:1000:\nother:x:1002:\n"
	want := map[int]string{1000: "builder", 1002: "other"}
	if got := parseGroupNames(strings.NewReader(file), []int{1000, 1001, 1002}); !maps.Equal(got, want) {
		t.Errorf("parseGroupNames = %v, want %v", got, want)
	}
}
