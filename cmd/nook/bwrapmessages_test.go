package main

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// newerBwrap is Debian 13's bubblewrap (0.12 at the time of writing: the
// archive keeps only the newest), fetched by test/fetch-bwrap-trixie.sh
// (test/setup-host.sh runs it). Its messages are 0.11's for everything
// compared here; bwrap 0.8 (/usr/bin/bwrap) lacks --level-prefix, --argv0
// and the overlay options.
const newerBwrap = "/var/cache/nook-ci/bwrap-trixie/bwrap"

// TestBwrapMessagesNewer runs command lines whose messages only a newer
// bwrap has under it and under nook as bwrap, and compares exit status and
// stderr word for word.
func TestBwrapMessagesNewer(t *testing.T) {
	if out, err := exec.Command(newerBwrap, "--version").Output(); err != nil || !strings.HasPrefix(string(out), "bubblewrap 0.1") {
		t.Skipf("SKIP: no newer bubblewrap at %s (test/fetch-bwrap-trixie.sh fetches it; it needs deb.debian.org): %v %q", newerBwrap, err, out)
	}
	nk := nookAsBwrap(t)
	missing := "/nonexistent-nook-diff"
	for _, c := range []struct {
		name string
		args []string
	}{
		{"level-prefix on a warning", cat(w("--level-prefix"), B, w("--chdir", "/", "--chdir", "/etc", "true"))},
		{"level-prefix after the first of two", cat(B, w("--chdir", "/", "--level-prefix", "--chdir", "/etc", "--chdir", "/", "true"))},
		{"level-prefix on an error", cat(w("--level-prefix"), B, w("--bind", missing, "/mnt", "true"))},
		{"level-prefix on a parse error", w("--level-prefix", "--frobnicate", "true")},
		{"overlay-src then another option", cat(w("--overlay-src", "/usr", "--chdir", "/"), B, w("true"))},
		{"overlay-src last", cat(B, w("--overlay-src", "/usr", "true"))},
		{"overlay-src before --", cat(B, w("--overlay-src", "/usr", "--", "true"))},
		{"ro-overlay with one layer", cat(B, w("--overlay-src", "/usr", "--ro-overlay", "/mnt", "true"))},
		{"tmp-overlay without layers", cat(B, w("--tmp-overlay", "/mnt", "true"))},
		{"overlay layer missing", cat(B, w("--overlay-src", missing, "--tmp-overlay", "/mnt", "true"))},
		{"argv0 twice", cat(w("--argv0", "a", "--argv0", "b"), B, w("true"))},
		{"info-fd twice", cat(w("--info-fd", "1", "--info-fd", "1"), B, w("true"))},
	} {
		t.Run(c.name, func(t *testing.T) {
			bw := runPlain(t, newerBwrap, c.args)
			got := runPlain(t, nk, c.args)
			if bw != got {
				t.Errorf("nook differs from bwrap\n=== bwrap:\n%s\n=== nook:\n%s", bw, got)
			}
		})
	}
}

// runPlain runs bin with args and returns its exit status and stderr.
func runPlain(t *testing.T, bin string, args []string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = "/"
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("run %s: %v", bin, err)
	}
	return fmt.Sprintf("exit %d\n%s", cmd.ProcessState.ExitCode(), stderr.String())
}
