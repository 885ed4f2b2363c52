package main

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// TestBindNoFollowProcLink: a nofollow bind (nook run --bind-nofollow,
// mkosi-sandbox's --bind-nofollow and --ro-bind-nofollow) whose source is
// a symlink in procfs is refused in one line, exit 125. Bound as itself,
// /proc/self/fd/N or /proc/PID/root would name, to whoever follows it, the
// file that process holds then (or the reader's own /proc/self), not what
// the caller named; it once did so silently.
func TestBindNoFollowProcLink(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Open("/etc/hostname")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	nk := nookAsMkosi(t)
	sleeper := exec.Command("sleep", "60")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { sleeper.Process.Kill(); sleeper.Wait() }()
	root := "/proc/" + strconv.Itoa(sleeper.Process.Pid) + "/root"
	for _, argv := range [][]string{
		{nookBin, "run", "--bind-nofollow", "/proc/self/fd/3", "/x", "--", "cat", "/x"},
		{nookBin, "run", "--bind-nofollow", "/proc/self", "/x", "--", "readlink", "/x"},
		{nookBin, "run", "--bind-nofollow", root, "/x", "--", "ls", "/x"},
		{nk, "--ro-bind", "/", "/", "--ro-bind-nofollow", "/proc/self/fd/3", "/tmp/x", "cat", "/tmp/x"},
		{nk, "--ro-bind", "/", "/", "--bind-nofollow", root, "/tmp/x", "ls", "/tmp/x"},
	} {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Dir = dir
		cmd.ExtraFiles = []*os.File{f}
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := cmd.ProcessState.ExitCode()
		lines := strings.Split(strings.TrimSuffix(errb.String(), "\n"), "\n")
		if err == nil || code != 125 || out.Len() != 0 || len(lines) != 1 || !strings.Contains(lines[0], "symbolic link in procfs") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want 125 and one line refusing the procfs link", strings.Join(argv[1:], " "), code, out.String(), errb.String())
		}
	}
	// An ordinary symlink is still bound as itself.
	if err := os.Symlink("/etc/hostname", dir+"/l"); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := nook(t, dir, "run", "--bind-nofollow", dir+"/l", "/x", "--", "readlink", "/x"); code != 0 || out != "/etc/hostname\n" {
		t.Errorf("--bind-nofollow of an ordinary link: exit %d, out %q (%s)", code, out, errOut)
	}
}
