package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The mkosi-sandbox differential suite: every case is one mkosi-sandbox
// command line, run under Debian 13's mkosi-sandbox (mkosi 25.3, unpacked
// by test/fetch-mkosi-trixie.sh and run with the system python3) and under
// nook called as mkosi-sandbox (a symlink of that name), as the same user
// with the same environment, fds and working directory, and compared as
// the bwrap suite compares (runCase, normalize): exit status, stdout (ids,
// namespaces, mountinfo, modes and owners, environment, cwd), and the
// files left in the scratch directory. Stderr is not compared:
// mkosi-sandbox's errors are Python tracebacks, nook's one line.

const realMkosiSandbox = "/var/cache/nook-ci/mkosi-trixie/mkosi-sandbox"

// nookAsMkosi makes a directory holding a symlink "mkosi-sandbox" to nook.
func nookAsMkosi(t *testing.T) string {
	t.Helper()
	link := filepath.Join(t.TempDir(), "mkosi-sandbox")
	if err := os.Symlink(nookBin, link); err != nil {
		t.Fatal(err)
	}
	return link
}

func TestMkosiDifferential(t *testing.T) {
	if _, err := os.Stat(realMkosiSandbox); err != nil {
		t.Skipf("SKIPPED LOUDLY: the mkosi-sandbox differential needs Debian 13's mkosi-sandbox at %s (test/fetch-mkosi-trixie.sh fetches it; test/setup-host.sh runs that): %v", realMkosiSandbox, err)
	}
	nk := nookAsMkosi(t)
	root := os.Geteuid() == 0
	if len(mkosiCases) < 80 {
		t.Errorf("only %d mkosi-sandbox differential cases; the issue asks for at least 80", len(mkosiCases))
	}
	seen := map[string]bool{}
	ran, others := 0, 0
	var failed []string
	defer func() {
		t.Logf("%d mkosi-sandbox cases ran, %d passed; %d are for the other kind of user", ran, ran-len(failed), others)
		if len(failed) > 0 {
			t.Logf("failed: %s", strings.Join(failed, "; "))
		}
	}()
	for _, c := range mkosiCases {
		if seen[c.name] {
			t.Fatalf("two cases named %q", c.name)
		}
		seen[c.name] = true
		if c.who == "root" && !root || c.who == "user" && root {
			others++
			continue
		}
		ok := t.Run(c.name, func(t *testing.T) {
			ran++ // here: a -run pattern leaves the others out
			ms := runCase(t, realMkosiSandbox, c)
			got := runCase(t, nk, c)
			if c.differs != "" {
				c.check(t, ms, got)
			} else if ms.code != got.code || ms.stdout != got.stdout || ms.files != got.files {
				t.Errorf("nook differs from mkosi-sandbox")
			}
			if t.Failed() {
				t.Logf("mkosi-sandbox:\n%s\nnook:\n%s\nlines only mkosi-sandbox printed or left:\n%s\nlines only nook printed or left:\n%s",
					ms, got, onlyIn(ms.stdout+ms.files, got.stdout+got.files), onlyIn(got.stdout+got.files, ms.stdout+ms.files))
			}
		})
		if !ok {
			failed = append(failed, c.name)
		}
	}
}

// onlyIn is the lines of a that b lacks, for reading a failure.
func onlyIn(a, b string) string {
	have := map[string]int{}
	for _, l := range strings.Split(b, "\n") {
		have[l]++
	}
	var out []string
	for _, l := range strings.Split(a, "\n") {
		if have[l] > 0 {
			have[l]--
			continue
		}
		out = append(out, "  "+l)
	}
	return strings.Join(out, "\n")
}
