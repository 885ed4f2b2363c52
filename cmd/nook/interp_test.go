package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A command whose file is there but whose ELF interpreter is not fails
// with ENOENT from execve, as a missing file does: nook must say which
// file is missing rather than "command not found". Both engines (raw, and
// the Go init with NOOK_ENGINE=init), with and without a pid 1, by path
// and through PATH.
func TestMissingInterpreterNamed(t *testing.T) {
	root := t.TempDir()
	os.Chmod(root, 0o755)
	bin := filepath.Join(root, "usr", "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("/usr/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "true"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(bin, "script"), []byte("#!/usr/bin/nook-no-such-shell -e\nexit 0\n"), 0o755)
	interp := hostInterp(t)
	for _, engine := range []string{"", "init"} {
		for _, c := range []struct {
			args []string
			want string
		}{
			{[]string{"/usr/bin/true"}, "execute /usr/bin/true: the file is there, but its interpreter " + interp + " is missing"},
			{[]string{"--as-pid-1", "/usr/bin/true"}, "its interpreter " + interp + " is missing"},
			{[]string{"--setenv", "PATH", "/nowhere:/usr/bin", "true"}, "execute /usr/bin/true: the file is there, but its interpreter " + interp + " is missing"},
			{[]string{"/usr/bin/script"}, "its interpreter /usr/bin/nook-no-such-shell is missing"},
		} {
			t.Run("engine="+engine+" "+strings.Join(c.args, " "), func(t *testing.T) {
				cmd := exec.Command(nookBin, append([]string{"run", "--ro-bind", root, "/"}, c.args...)...)
				cmd.Env = append(os.Environ(), "NOOK_ENGINE="+engine)
				var errb strings.Builder
				cmd.Stderr = &errb
				err := cmd.Run()
				code := 0
				if ee, ok := err.(*exec.ExitError); ok {
					code = ee.ExitCode()
				}
				if code != 127 || !strings.Contains(errb.String(), c.want) {
					t.Errorf("exit %d, stderr %q; want 127 and %q", code, errb.String(), c.want)
				}
			})
		}
	}
}

// hostInterp is /usr/bin/true's PT_INTERP, as the system's readelf sees it.
func hostInterp(t *testing.T) string {
	out, err := exec.Command("readelf", "-l", "/usr/bin/true").Output()
	if err != nil {
		t.Fatalf("readelf (binutils) is needed to check the interpreter nook names: %v", err)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if _, after, ok := strings.Cut(l, "[Requesting program interpreter: "); ok {
			return strings.TrimSuffix(strings.TrimSpace(after), "]")
		}
	}
	t.Fatalf("/usr/bin/true has no interpreter:\n%s", out)
	return ""
}
