package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestFaceFor: the face follows the name nook was called by, then the
// name of its file, then the shape of the first argument.
func TestFaceFor(t *testing.T) {
	nookFile := func() string { return "/usr/local/bin/nook" }
	bwrapFile := func() string { return "/usr/bin/bwrap" }
	for _, c := range []struct {
		argv0 string
		args  []string
		exe   func() string
		want  face
	}{
		{"bwrap", []string{"true"}, nookFile, faceBwrap},
		{"/usr/bin/bwrap", nil, nookFile, faceBwrap},
		{"schroot", []string{"-l"}, nookFile, faceSchroot},
		{"nook-unschroot", nil, nookFile, faceSchroot},
		{"nook", []string{"--ro-bind", "/", "/", "true"}, nookFile, faceNative},
		{"/proc/self/exe", []string{"--unshare-all", "--bind", "/", "/", "true"}, nookFile, faceBwrap},
		{"/proc/self/exe", []string{"--", "true"}, nookFile, faceBwrap},
		{"/proc/self/exe", []string{"run", "true"}, nookFile, faceNative},
		{"/proc/self/exe", []string{"--frobnicate"}, nookFile, faceNative},
		{"/proc/self/exe", nil, nookFile, faceNative},
		{"/proc/self/exe", []string{"--version"}, bwrapFile, faceBwrap},
		{"exe", []string{"--help"}, nookFile, faceBwrap},
	} {
		if got := faceFor(c.argv0, c.args, c.exe); got != c.want {
			t.Errorf("faceFor(%q, %q, %s) = %d, want %d", c.argv0, c.args, c.exe(), got, c.want)
		}
	}
}

// TestBwrapReexecNested: a sandbox started by nook as bwrap that runs
// /proc/self/exe with bwrap's options gets bwrap again (two levels deep),
// keeping every capability asked for at each level; --disable-userns at
// the first level makes the second fail as bwrap does (exit 1, bwrap's
// words).
func TestBwrapReexecNested(t *testing.T) {
	bin := nookAsBwrap(t)
	level := []string{"--unshare-all", "--bind", "/", "/", "--proc", "/proc", "--cap-add", "ALL"}
	args := append(append(append([]string{}, level...), "/proc/self/exe"), level...)
	args = append(args, "sh", "-c", `grep -E '^Cap(Eff|Bnd)' /proc/self/status`)
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("nested bwrap: %v\n%s", err, out)
	}
	eff, bnd := capField(string(out), "CapEff"), capField(string(out), "CapBnd")
	if eff == "" || eff != bnd || strings.Trim(eff, "0") == "" {
		t.Errorf("innermost command: CapEff %q, CapBnd %q; want every capability of the bounding set\n%s", eff, bnd, out)
	}

	disabled := []string{"--unshare-all", "--unshare-user", "--disable-userns", "--bind", "/", "/", "--proc", "/proc",
		"/proc/self/exe", "--unshare-all", "--bind", "/", "/", "--proc", "/proc", "true"}
	cmd := exec.Command(bin, disabled...)
	out, _ = cmd.CombinedOutput()
	const want = "bwrap: Creating new namespace failed: nesting depth or /proc/sys/user/max_*_namespaces exceeded (ENOSPC)\n"
	if code := cmd.ProcessState.ExitCode(); code != 1 || string(out) != want {
		t.Errorf("nested bwrap under --disable-userns: exit %d, %q; want 1 and %q", code, out, want)
	}
}
