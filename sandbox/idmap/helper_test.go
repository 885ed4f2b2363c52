package idmap

import (
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
)

func TestFindHelper(t *testing.T) {
	t.Run("PATH first", func(t *testing.T) {
		dir := t.TempDir()
		fake := filepath.Join(dir, "nook-fake-helper")
		if err := os.WriteFile(fake, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		t.Setenv("PATH", dir)
		if got, err := FindHelper("nook-fake-helper"); err != nil || got != fake {
			t.Errorf("FindHelper = %q, %v; want %q", got, err, fake)
		}
	})
	t.Run("falls back to /usr/bin and /bin", func(t *testing.T) {
		var want string
		for _, p := range []string{"/usr/bin/newuidmap", "/bin/newuidmap"} {
			if _, err := os.Stat(p); err == nil {
				want = p
				break
			}
		}
		if want == "" {
			t.Skip("SKIPPED: newuidmap is in neither /usr/bin nor /bin, so the fallback cannot be observed (install Debian's uidmap package)")
		}
		t.Setenv("PATH", t.TempDir())
		if got, err := FindHelper(NewUIDMap); err != nil || got != want {
			t.Errorf("FindHelper = %q, %v; want %q", got, err, want)
		}
	})
	t.Run("missing", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		_, err := FindHelper("nook-no-such-helper")
		if !errors.Is(err, ErrHelperNotFound) || !strings.Contains(err.Error(), "uidmap") ||
			!strings.Contains(err.Error(), "nook-no-such-helper") {
			t.Errorf("err = %v, want ErrHelperNotFound naming the helper and the uidmap package", err)
		}
	})
}

// helperEnv is what the helper-based tests need: an unprivileged caller
// with subordinate ranges in both files and the helpers installed.
type helperEnv struct {
	uid, gid       int
	subUID, subGID []Range
}

// needHelperEnv skips, loudly and with the exact reason, unless the
// helper-based tests can run. CI runs them as a user with ranges.
func needHelperEnv(t *testing.T) helperEnv {
	t.Helper()
	e := helperEnv{uid: os.Getuid(), gid: os.Getgid()}
	if os.Geteuid() == 0 {
		t.Skip("SKIPPED: running as root; the newuidmap/newgidmap test needs an unprivileged user with ranges in /etc/subuid and /etc/subgid " +
			"(e.g. `runuser -u nooktest-sub -- ./idmap.test`)")
	}
	name := ""
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	var err error
	if e.subUID, err = LookupSubIDs(SubUIDPath, name, e.uid); err != nil {
		t.Fatal(err)
	}
	if e.subGID, err = LookupSubIDs(SubGIDPath, name, e.gid); err != nil {
		t.Fatal(err)
	}
	if len(e.subUID) == 0 || len(e.subGID) == 0 {
		t.Skipf("SKIPPED: user %q (uid %d, gid %d) has no range in /etc/subuid (%d found) and/or /etc/subgid (%d found); "+
			"as root: `usermod --add-subuids 200000-265535 --add-subgids 200000-265535 %s`",
			name, e.uid, e.gid, len(e.subUID), len(e.subGID), name)
	}
	for _, h := range []string{NewUIDMap, NewGIDMap} {
		if _, err := FindHelper(h); err != nil {
			t.Skipf("SKIPPED: %v", err)
		}
	}
	skipIfNoUserns(t)
	return e
}

// TestWriteHelper is the real test of the helper path: Write runs
// newuidmap/newgidmap and the child's maps must equal Plan's output.
func TestWriteHelper(t *testing.T) {
	e := needHelperEnv(t)
	type helperCase struct {
		name             string
		mode             Mode
		subUID, subGID   []Range
		wantUID, wantGID int
	}
	tests := []helperCase{
		{"subids-root", SubidsRoot, e.subUID, e.subGID, 0, 0},
		{"subids-self", SubidsSelf, e.subUID, e.subGID, e.uid, e.gid},
	}
	// The same modes drawing on many ranges: slices of 999 ids cut out of
	// the user's own ranges, which the helper must accept across lines.
	if su, sg := chop(e.subUID), chop(e.subGID); availableIDs(su, e.uid) >= SpanIDs && availableIDs(sg, e.gid) >= SpanIDs {
		tests = append(tests,
			helperCase{"subids-root, many ranges", SubidsRoot, su, sg, 0, 0},
			helperCase{"subids-self, many ranges", SubidsSelf, su, sg, e.uid, e.gid})
	} else {
		t.Logf("NOTE: not testing many-range maps through the helper: the user's ranges hold fewer than ~65602 ids")
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			um, gm, err := Plan(tt.mode, e.uid, e.gid, tt.subUID, tt.subGID)
			if err != nil {
				t.Fatal(err)
			}
			if !NeedsHelper(um, e.uid, false) || !NeedsHelper(gm, e.gid, false) {
				t.Fatalf("mode %v should need the helper", tt.mode)
			}
			c := startChild(t)
			if err := Write(c.pid(), um, gm, true); err != nil {
				t.Fatalf("Write with helper: %v", err)
			}
			checkChild(t, c.release(t), um, gm, tt.wantUID, tt.wantGID)
			t.Logf("uid map (%d lines), first: %v", len(um), um[0])
		})
	}

	t.Run("helper refusal is reported with its output", func(t *testing.T) {
		end := 0
		for _, r := range append(append([]Range{}, e.subUID...), e.subGID...) {
			end = max(end, r.Start+r.Count)
		}
		foreign := []Range{{end + 1_000_000, 65536}} // granted to nobody we know of
		um, gm, err := Plan(SubidsRoot, e.uid, e.gid, foreign, foreign)
		if err != nil {
			t.Fatal(err)
		}
		c := startChild(t)
		err = Write(c.pid(), um, gm, true)
		if err == nil {
			t.Fatal("newuidmap accepted ids outside the user's ranges")
		}
		for _, want := range []string{NewUIDMap, NewGIDMap, "exit status"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("err = %q, want it to mention %q", err, want)
			}
		}
		if strings.Contains(err.Error(), "(no output)") {
			t.Errorf("err = %q: the helper's message was not captured", err)
		}
		t.Logf("helper refusal: %v", err)
	})
}

// chop cuts the ranges into 999-id slices with one-id gaps, so that a plan
// has to draw on dozens of separate ranges.
func chop(rs []Range) []Range {
	var out []Range
	for _, r := range rs {
		for s := r.Start; s+999 <= r.Start+r.Count; s += 1000 {
			out = append(out, Range{Start: s, Count: 999})
		}
	}
	return out
}
