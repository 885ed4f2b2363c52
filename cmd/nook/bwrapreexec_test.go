package main

import (
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"strconv"
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
		{"mkosi-sandbox", []string{"--ro-bind", "/", "/", "true"}, nookFile, faceMkosi},
		{"/usr/bin/mkosi-sandbox", nil, nookFile, faceMkosi},
		{"autopkgtest-virt-nook", []string{"bookworm"}, nookFile, faceVirtNook},
		{"/usr/local/bin/autopkgtest-virt-nook", []string{"-d", "--boot", "sd"}, nookFile, faceVirtNook},
		{"/proc/self/exe", []string{"--execute", "x", "--", "true"}, func() string { return "/usr/bin/autopkgtest-virt-nook" }, faceVirtNook},
		{"nook", []string{"autopkgtest-virt-nook", "bookworm"}, nookFile, faceNative},
		{"/proc/self/exe", nil, func() string { return "/usr/bin/mkosi-sandbox" }, faceMkosi},
		// Re-executed with an option only mkosi-sandbox has: its face again.
		{"/proc/self/exe", []string{"--ro-bind", "/", "/", "--same-dir", "true"}, nookFile, faceMkosi},
		{"/proc/self/exe", []string{"--become-root", "true"}, nookFile, faceMkosi},
		{"/proc/self/exe", []string{"--setenv", "A", "--become-root", "true"}, nookFile, faceBwrap},
		// Help and version are no mkosi-sandbox command line: nook's
		// own usage for -h, bwrap's for what bwrap knows.
		{"/proc/self/exe", []string{"-h"}, nookFile, faceNative},
		{"/proc/self/exe", []string{"-h", "--become-root"}, nookFile, faceNative},
		{"/proc/self/exe", []string{"--dir", "/x", "--help", "--become-root"}, nookFile, faceBwrap},
		{"/proc/self/exe", []string{"--version", "--same-dir"}, nookFile, faceBwrap},
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

// TestBwrapReexecHostProc: nested through /proc/self/exe two levels deep
// where no level mounts a /proc of its own, so each inner nook runs in a
// new pid namespace under the host's procfs, and a /proc/PID path built
// from a child's pid would name another process. Each level must still
// write its child's maps (as root the maps of a child are written from
// outside) and the innermost --info-fd must report the command's own
// namespaces.
func TestBwrapReexecHostProc(t *testing.T) {
	bin := nookAsBwrap(t)
	level := []string{"--unshare-all", "--bind", "/", "/", "--dev", "/dev", "--"}
	var args []string
	args = append(args, level...)
	args = append(args, "/proc/self/exe")
	args = append(args, level[:len(level)-1]...)
	args = append(args, "--")
	args = append(args, "/proc/self/exe")
	args = append(args, level[:len(level)-1]...)
	args = append(args, "--info-fd", "3", "--", "sh", "-c", `id -u; stat -L -c %i /proc/self/ns/net`)
	cmd := exec.Command(bin, args...)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd.ExtraFiles = []*os.File{w}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	outc := make(chan []byte)
	go func() { b, _ := io.ReadAll(r); outc <- b }()
	out, err := cmd.Output()
	w.Close()
	info := <-outc
	if err != nil {
		t.Fatalf("nested bwrap under the host's /proc: %v\n%s%s", err, out, stderr.String())
	}
	lines := strings.Fields(string(out))
	if len(lines) != 2 || lines[0] != strconv.Itoa(os.Getuid()) {
		t.Fatalf("innermost command printed %q; want its uid %d and its net namespace", out, os.Getuid())
	}
	var m map[string]int64
	if err := json.Unmarshal(info, &m); err != nil {
		t.Fatalf("innermost --info-fd: %v\n%s", err, info)
	}
	if got := strconv.FormatInt(m["net-namespace"], 10); got != lines[1] {
		t.Errorf("innermost --info-fd net-namespace %s, the command's is %s\n%s", got, lines[1], info)
	}
}
