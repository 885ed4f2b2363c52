package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunMkosiEngineOptions: the `nook run` options for what the
// mkosi-sandbox face needs of the engine (issue 19) do what the man page
// says, on the engine the suite runs with (NOOK_ENGINE).
func TestRunMkosiEngineOptions(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	etc := filepath.Join(dir, "etc")
	os.Mkdir(etc, 0o755)
	os.WriteFile(filepath.Join(etc, "passwd"), []byte("host\n"), 0o644)
	os.Symlink("/run/systemd/resolve/nook-test-stub.conf", filepath.Join(dir, "resolv.conf"))
	os.WriteFile(filepath.Join(dir, "file"), []byte("bound\n"), 0o644)
	for _, d := range []string{"lower", "upper", "work"} {
		os.Mkdir(filepath.Join(dir, d), 0o755)
	}
	os.WriteFile(filepath.Join(dir, "lower", "l"), []byte("l\n"), 0o644)
	j := func(n string) string { return filepath.Join(dir, n) }
	cases := []struct {
		name   string
		args   []string
		script string
		want   string
	}{
		{"ro-bind-nofollow", []string{"--ro-bind-nofollow", j("resolv.conf"), "/tmp/resolv.conf"},
			"readlink /tmp/resolv.conf", "/run/systemd/resolve/nook-test-stub.conf\n"},
		{"symlink-replace", []string{"--ro-bind", etc, "/etc", "--symlink-replace", "/buildroot/etc/passwd", "/etc/passwd"},
			"readlink /etc/passwd", "/buildroot/etc/passwd\n"},
		{"dest-nofollow", []string{"--write", "target\n", "/tmp/a-target", "--symlink", "a-target", "/tmp/link", "--dest-nofollow", "--ro-bind", j("file"), "/tmp/link"},
			"cat /tmp/link /tmp/a-target", "bound\ntarget\n"},
		{"overlay-index-off", []string{"--overlay-src", j("lower"), "--overlay-index-off", "--overlay", j("upper"), j("work"), "/tmp/o"},
			"cat /tmp/o/l", "l\n"},
		{"propagation shared", []string{"--propagation", "shared"},
			`n=0; s=0; while read -r l; do n=$((n+1)); case "$l" in *shared:*) s=$((s+1));; esac; done </proc/self/mountinfo; [ "$n" = "$s" ] && echo all-shared`, "all-shared\n"},
		{"propagation private", []string{"--propagation", "private"},
			`grep -c shared: /proc/self/mountinfo || true`, "0\n"},
	}
	if _, err := os.Stat("/dev/fuse"); err == nil {
		cases = append(cases, struct {
			name   string
			args   []string
			script string
			want   string
		}{"fuse", []string{"--fuse"}, "test -c /dev/fuse && echo fuse", "fuse\n"})
	} else {
		t.Logf("SKIP LOUDLY: no /dev/fuse on this host: --fuse not tested")
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append(append([]string{"run"}, c.args...), "--", "sh", "-c", c.script)
			out, errOut, code := nook(t, dir, args...)
			if code != 0 || out != c.want {
				t.Errorf("nook %s: exit %d, out %q, want %q; stderr %s", strings.Join(args, " "), code, out, c.want, errOut)
			}
		})
	}
	if b, _ := os.ReadFile(filepath.Join(etc, "passwd")); string(b) != "host\n" {
		t.Errorf("the host's passwd holds %q", b)
	}
	// Usage errors: exit 2.
	for _, args := range [][]string{
		{"run", "--propagation", "slave", "true"},
		{"run", "--dest-nofollow", "--tmpfs", "/x", "true"},
		{"run", "--overlay-index-off", "--tmpfs", "/x", "true"},
		{"run", "--ro-bind", "/", "/", "--dest-nofollow", "--", "true"},
	} {
		if _, errOut, code := nook(t, dir, args...); code != 2 {
			t.Errorf("nook %s: exit %d, want 2 (%s)", strings.Join(args, " "), code, errOut)
		}
	}
	// --print-plan names each modifier, so the plan can be run again.
	out, errOut, code := nook(t, dir, "run", "--no-default-fs", "--ro-bind", "/", "/", "--fuse", "--dev", "/dev", "--dest-nofollow", "--ro-bind", j("file"), "/tmp/f",
		"--bind-nofollow", j("resolv.conf"), "/tmp/r", "--symlink-replace", "x", "/tmp/s",
		"--overlay-src", j("lower"), "--overlay-index-off", "--tmp-overlay", "/tmp/o", "--propagation", "shared", "--print-plan", "true")
	if code != 0 {
		t.Fatalf("--print-plan: exit %d: %s", code, errOut)
	}
	for _, w := range []string{"--fuse --dev /dev", "--dest-nofollow --ro-bind " + j("file"), "--bind-nofollow " + j("resolv.conf"), "--symlink-replace x /tmp/s", "--overlay-index-off --overlay-src " + j("lower") + " --tmp-overlay /tmp/o", "\n--propagation shared\n"} {
		if !strings.Contains(out, w) {
			t.Errorf("--print-plan lacks %q:\n%s", w, out)
		}
	}
	// The default layout's /dev stays marked so with --fuse.
	out, errOut, code = nook(t, dir, "run", "--fuse", "--print-plan", "true")
	if code != 0 || !strings.Contains(out, "--fuse --dev /dev    # default layout") {
		t.Errorf("--fuse --print-plan: exit %d, the default /dev not marked:\n%s%s", code, out, errOut)
	}
}
