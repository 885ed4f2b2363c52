package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/nook-project/nook/internal/face/native"
)

// Every verb the completion offers is one nook dispatches (--help answers
// with 0 where an unknown command is a usage error), and the scripts are
// what `nook completion` prints.
func TestCompletionVerbsAreCommands(t *testing.T) {
	e := newSessionEnv(t)
	for _, v := range native.TopVerbs {
		if _, errOut, code := e.nook(v, "--help"); code != 0 {
			t.Errorf("nook %s --help: exit %d, %s", v, code, errOut)
		}
	}
	for _, shell := range []string{"bash", "zsh"} {
		out := e.must("completion", shell)
		if !strings.Contains(out, "_nook_opts") {
			t.Errorf("nook completion %s printed no script: %.200q", shell, out)
		}
		if sh, err := exec.LookPath(shell); err == nil {
			c := exec.Command(sh, "-n")
			c.Stdin = strings.NewReader(out)
			if msg, err := c.CombinedOutput(); err != nil {
				t.Errorf("%s -n on nook completion %s: %v %s", shell, shell, err, msg)
			}
		} else {
			t.Errorf("%s is not installed (test/setup-host.sh installs it)", shell)
		}
	}
	if _, _, code := e.nook("completion", "fish"); code != 2 {
		t.Errorf("nook completion fish: exit %d, want 2", code)
	}
}

// The list verbs' --quiet prints the names alone, one a line: what the
// completion offers.
func TestListQuiet(t *testing.T) {
	e := newSessionEnv(t)
	e.busyboxChroot("bb")
	e.must("chroot", "add", "bb2", busyboxTarball(t, e.dir, "bb2"), "--alias", "bb2alias")
	id := strings.TrimSpace(e.must("session", "begin", "bb"))
	defer e.nook("session", "end", id)
	chroots := strings.Split(strings.TrimSpace(e.must("chroot", "list", "-q")), "\n")
	for _, want := range []string{"bb", "bb2", "bb2alias", "host"} {
		found := false
		for _, c := range chroots {
			found = found || c == want
		}
		if !found {
			t.Errorf("chroot list -q: %q lacks %s", chroots, want)
		}
	}
	if got := strings.TrimSpace(e.must("session", "list", "--quiet")); got != id {
		t.Errorf("session list --quiet: %q, want %q", got, id)
	}
}

// An alias that is no name, written into a definition by hand, is not
// listed by chroot list --quiet (the completion would offer it) but
// warned of, naming it; the definition and its good alias stay.
func TestCompletionListSkipsBadAlias(t *testing.T) {
	e := newSessionEnv(t)
	e.must("chroot", "add", "dirc", t.TempDir(), "--alias", "good")
	defs, _ := filepath.Glob(filepath.Join(e.dir, "config", "*", "chroot.d", "dirc.json"))
	if len(defs) != 1 {
		t.Fatalf("definition of dirc: found %q", defs)
	}
	var def map[string]any
	b, err := os.ReadFile(defs[0])
	if err == nil {
		err = json.Unmarshal(b, &def)
	}
	if err != nil {
		t.Fatal(err)
	}
	hostile := "x$(touch " + filepath.Join(e.dir, "pwned") + ")"
	def["aliases"] = []string{"good", hostile}
	if b, err = json.Marshal(def); err == nil {
		err = os.WriteFile(defs[0], b, 0o644)
	}
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, code := e.nook("chroot", "list", "--quiet")
	names := strings.Fields(out)
	if code != 0 || !slices.Contains(names, "dirc") || !slices.Contains(names, "good") {
		t.Errorf("chroot list --quiet: exit %d, %q; want dirc and good listed", code, names)
	}
	if strings.Contains(out, "touch") {
		t.Errorf("chroot list --quiet listed the alias %q: %q", hostile, out)
	}
	if !strings.Contains(errOut, "warning") || !strings.Contains(errOut, strconv.Quote(hostile)) {
		t.Errorf("chroot list --quiet: stderr %q, want a warning naming %q", errOut, hostile)
	}
}
