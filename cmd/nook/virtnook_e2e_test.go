package main

import (
	"bufio"
	"bytes"
	"io"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nook-project/nook/session"
)

// virtnookPackage writes a source package with nothing to build and three
// tests: plain (writes an artifact naming the user it runs as), fails
// (exits 3 on purpose) and service (needs isolation-container and root:
// starts a socket-activated service and talks to it).
func virtnookPackage(t *testing.T, dir string) string {
	t.Helper()
	pkg := filepath.Join(dir, "pkg")
	files := map[string]string{
		"debian/control": "Source: nookvirt\nSection: misc\nPriority: optional\nMaintainer: nook CI <nook@example.invalid>\n" +
			"Standards-Version: 4.6.2\n\nPackage: nookvirt\nArchitecture: all\nDescription: autopkgtest-virt-nook check\n Tests only.\n",
		"debian/changelog": "nookvirt (1.0) unstable; urgency=medium\n\n  * Initial release.\n\n -- nook CI <nook@example.invalid>  Mon, 23 Nov 2026 00:00:00 +0000\n",
		"debian/tests/control": "Tests: plain\nDepends: coreutils\n\n" +
			"Test-Command: echo failing-on-purpose >&2; exit 3\nDepends: coreutils\nFeatures: test-name=fails\n\n" +
			"Tests: service\nDepends: coreutils\nRestrictions: isolation-container, needs-root\n",
		"debian/tests/plain": "#!/bin/sh\nset -e\necho \"artifact written by $(id -un)\" > \"$AUTOPKGTEST_ARTIFACTS/note.txt\"\n",
		"debian/tests/service": `#!/bin/bash
set -e
# A socket-activated service on a loopback port (the container shares the
# host's network: a port of its own), asked through bash's /dev/tcp.
port=$((20000 + $$ % 20000))
printf '[Socket]\nListenStream=127.0.0.1:%s\nAccept=yes\n' $port >/run/systemd/system/nookvirt.socket
printf '[Service]\nExecStart=/bin/echo served by %%N\nStandardOutput=socket\n' >/run/systemd/system/nookvirt@.service
systemctl daemon-reload
systemctl start nookvirt.socket
exec 3<>/dev/tcp/127.0.0.1/$port
cat <&3
systemctl stop nookvirt.socket
`,
	}
	for name, text := range files {
		p := filepath.Join(pkg, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(text), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return pkg
}

// autopkgtest runs Debian's autopkgtest in dir with the test's nook
// directories and PATH first, and returns its exit status and output.
func (e *sessionEnv) autopkgtest(dir string, path string, args ...string) (int, string) {
	e.t.Helper()
	cmd := exec.Command("autopkgtest", args...)
	cmd.Dir = dir
	cmd.Env = append(append([]string{}, e.env...), "PATH="+path+":"+os.Getenv("PATH"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("run autopkgtest: %v", err)
	}
	return code, out.String()
}

// summary is autopkgtest's summary file with runs of spaces squeezed, its
// lines sorted and each once: autopkgtest 5.28 writes a test skipped for
// a restriction when it skips it and again at the end.
func summary(t *testing.T, out string) string {
	b, _ := os.ReadFile(filepath.Join(out, "summary"))
	lines := strings.Split(strings.TrimSpace(regexp.MustCompile(` +`).ReplaceAllString(string(b), " ")), "\n")
	sort.Strings(lines)
	return strings.Join(slices.Compact(lines), "\n")
}

// Debian 12's autopkgtest drives nook called as autopkgtest-virt-nook (a
// symlink on PATH, named as autopkgtest names servers: -- nook CHROOT)
// over the bookworm buildd chroot: the plain test passes (its artifact copied up
// from the session), the failing one fails with its status, the one that
// needs isolation-container is skipped (no --boot), exit status 6 (4: a
// test failed, 2: one was skipped), and no session is left. Then the same
// through `nook autopkgtest-virt-nook`, one test. Without subordinate ids
// the server refuses, saying why.
func TestAutopkgtestVirtNook(t *testing.T) {
	// The buildd chroot: an unbuilt tree's tests need dpkg-dev in the
	// testbed, and no archive is reached.
	const tarball = "/var/cache/nook-ci/bookworm-buildd.tar"
	if _, err := exec.LookPath("autopkgtest"); err != nil {
		t.Skipf("SKIP: autopkgtest is not installed (apt-get install autopkgtest): %v", err)
	}
	if _, err := os.Stat(tarball); err != nil {
		t.Fatalf("%v: run test/setup-host.sh as root, which makes it with mmdebstrap", err)
	}
	e := newSessionEnv(t)
	e.must("chroot", "add", "bookworm", tarball)
	pkg := virtnookPackage(t, e.dir)
	bin := filepath.Join(e.dir, "bin")
	os.Mkdir(bin, 0o755)
	if err := os.Symlink(nookBin, filepath.Join(bin, "autopkgtest-virt-nook")); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(e.dir, "out")
	if session.DetectIDMode() == session.IDSingle {
		// Every test goes through su, which cannot set groups with a
		// single id: the server says so and starts no session.
		code, log := e.autopkgtest(e.dir, bin, "--no-built-binaries", "--output-dir", out, pkg+"/", "--", "nook", "bookworm")
		if code != 16 || !strings.Contains(log, "autopkgtest-virt-nook: you have no subordinate ids") {
			t.Errorf("autopkgtest without subordinate ids: exit %d, want 16 (testbed failure) and the server's reason\n--- output:\n%s", code, log)
		}
		if l := e.must("session", "list", "-q"); strings.TrimSpace(l) != "" {
			t.Errorf("sessions left after autopkgtest: %s", l)
		}
		return
	}
	start := time.Now()
	code, log := e.autopkgtest(e.dir, bin, "--no-built-binaries", "--output-dir", out, pkg+"/", "--", "nook", "bookworm")
	t.Logf("autopkgtest through autopkgtest-virt-nook took %v", time.Since(start))
	want := "fails FAIL non-zero exit status 3\nplain PASS\n" +
		`service SKIP Test restriction "isolation-container" requires testbed capability "isolation-container" and/or "isolation-machine"`
	if got := summary(t, out); code != 6 || got != want {
		t.Errorf("autopkgtest: exit %d, summary:\n%s\nwant exit 6 and:\n%s\n--- output:\n%s", code, got, want, log)
	}
	// Who runs a test without needs-root: with subordinate ids the
	// caller's own name, suggested as the normal user; as real root the
	// user autopkgtest makes (revert-full-system, no suggestion).
	note, _ := os.ReadFile(filepath.Join(out, "artifacts", "note.txt"))
	by := strings.TrimPrefix(strings.TrimSpace(string(note)), "artifact written by ")
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	switch mode := session.DetectIDMode(); {
	case by == string(note) || by == "":
		t.Errorf("artifact %q: not written by the plain test", note)
	case mode == session.IDSubids && by != me.Username:
		t.Errorf("plain ran as %q, want the caller %q (suggested-normal-user)", by, me.Username)
	case by == "root":
		t.Errorf("plain ran as root, want a normal user")
	}
	if b, _ := os.ReadFile(filepath.Join(out, "fails-stderr")); strings.TrimSpace(string(b)) != "failing-on-purpose" {
		t.Errorf("the failing test's stderr: %q", b)
	}
	if l := e.must("session", "list", "-q"); strings.TrimSpace(l) != "" {
		t.Errorf("sessions left after autopkgtest: %s", l)
	}

	// nook's own command line: autopkgtest takes a server path with a /
	// as it is.
	out2 := filepath.Join(e.dir, "out2")
	code, log = e.autopkgtest(e.dir, bin, "--no-built-binaries", "--test-name", "plain", "--output-dir", out2, pkg+"/", "--", nookBin, "autopkgtest-virt-nook", "bookworm")
	if got := summary(t, out2); code != 0 || !strings.HasPrefix(got, "plain PASS\n") {
		t.Errorf("autopkgtest -- nook autopkgtest-virt-nook --test-name plain: exit %d, summary %q, want 0 and plain PASS\n--- output:\n%s", code, got, log)
	}
	if l := e.must("session", "list", "-q"); strings.TrimSpace(l) != "" {
		t.Errorf("sessions left after autopkgtest: %s", l)
	}
}

// The same package through autopkgtest-virt-nook --boot over the systemd
// chroot: the session is booted, so isolation-container is offered and the
// service test (systemd-run, systemctl) runs and passes, alongside the
// plain one and the failing one (exit status 4), and nothing is left: no
// session, no container. The systemd chroot has no dpkg-dev, whose
// dpkg-source autopkgtest only looks for before copying an unbuilt tree:
// a setup command stands one in.
func TestAutopkgtestVirtNookBoot(t *testing.T) {
	e := bootedVirtNookEnv(t)
	pkg := virtnookPackage(t, e.dir)
	out := filepath.Join(e.dir, "out")
	start := time.Now()
	code, log := e.autopkgtestBooted(pkg, out)
	t.Logf("autopkgtest through autopkgtest-virt-nook --boot took %v", time.Since(start))
	want := "fails FAIL non-zero exit status 3\nplain PASS\nservice PASS"
	if got := summary(t, out); code != 4 || got != want {
		t.Errorf("autopkgtest --boot: exit %d, summary:\n%s\nwant exit 4 and:\n%s\n--- output:\n%s", code, got, want, log)
	}
	if b, _ := os.ReadFile(filepath.Join(out, "service-stdout")); !strings.HasPrefix(string(b), "served by nookvirt@") {
		t.Errorf("the service test's output: %q, want the service's answer", b)
	}
	if l := e.must("session", "list", "-q"); strings.TrimSpace(l) != "" {
		t.Errorf("sessions left after autopkgtest: %s", l)
	}
}

// The protocol itself over the bookworm chroot, as autopkgtest speaks it:
// open answers a scratch directory; print-execute-command runs commands as
// root from /; copydown and copyup carry a directory's files with their
// contents and modes (an executable stays one) and a single file;
// revert gives a fresh session (a file written anywhere, /home and the
// scratch directory's contents included, is gone) with the same scratch
// path; SIGTERM ends the server and its session.
func TestVirtNookProtocol(t *testing.T) {
	const tarball = "/var/cache/nook-ci/bookworm-minbase.tar"
	if _, err := os.Stat(tarball); err != nil {
		t.Fatalf("%v: run test/setup-host.sh as root, which makes it with mmdebstrap", err)
	}
	e := newSessionEnv(t)
	e.must("chroot", "add", "bookworm", tarball)
	srv := exec.Command(nookBin, "autopkgtest-virt-nook", "bookworm")
	srv.Env = e.env
	var serr bytes.Buffer
	srv.Stderr = &serr
	in, err := srv.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	outPipe, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Process.Kill()
	r := bufio.NewReader(outPipe)
	read := func() string {
		l, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("server: %v (stderr %s)", err, serr.String())
		}
		return strings.TrimSpace(l)
	}
	cmd := func(c string) string {
		t.Helper()
		in.Write([]byte(c + "\n"))
		return read()
	}
	if session.DetectIDMode() == session.IDSingle {
		// The server refuses to start (TestAutopkgtestVirtNook has why),
		// before its greeting.
		rest, _ := io.ReadAll(r)
		err := srv.Wait()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || len(rest) != 0 || !strings.Contains(serr.String(), "no subordinate ids") {
			t.Errorf("server without subordinate ids: %v, stdout %q, stderr %q; want exit 1, no greeting, the reason", err, rest, serr.String())
		}
		return
	}
	if l := read(); l != "ok" {
		t.Fatalf("greeting %q", l)
	}
	open := cmd("open")
	scratch, ok := strings.CutPrefix(open, "ok /tmp/autopkgtest.")
	if !ok || scratch == "" {
		t.Fatalf("open: %q (stderr %s)", open, serr.String())
	}
	scratch = strings.TrimPrefix(open, "ok ")
	pec := cmd("print-execute-command")
	var auxverb []string
	for _, a := range strings.Split(strings.TrimPrefix(pec, "ok "), ",") {
		auxverb = append(auxverb, unquoteURL(a))
	}
	tb := func(script string) string {
		t.Helper()
		c := exec.Command(auxverb[0], append(auxverb[1:], "sh", "-c", script)...)
		c.Env = e.env
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("%s in the testbed: %v: %s", script, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if got := tb("echo $(id -u) $(pwd) $(stat -c %a " + scratch + ")"); got != "0 / 1777" {
		t.Errorf("a command through print-execute-command: %q, want root in / and the scratch directory mode 1777", got)
	}
	host := filepath.Join(e.dir, "down")
	os.MkdirAll(filepath.Join(host, "sub"), 0o755)
	os.WriteFile(filepath.Join(host, "sub", "run.sh"), []byte("#!/bin/sh\necho ran\n"), 0o755)
	os.WriteFile(filepath.Join(host, "data"), []byte("some data\n"), 0o640)
	if l := cmd("copydown " + host + "/ " + scratch + "/tree/"); l != "ok" {
		t.Fatalf("copydown of a directory: %q (stderr %s)", l, serr.String())
	}
	if got := tb("cd " + scratch + "/tree && sub/run.sh && stat -c '%a %U' data sub/run.sh"); got != "ran\n640 root\n755 root" {
		t.Errorf("copied down: %q, want the script run and modes 640, 755, owned by root", got)
	}
	tb("echo from-testbed >" + scratch + "/tree/new; chmod 600 " + scratch + "/tree/new; mkdir -p /home/x; touch /home/x/kept /etc/nookvirt")
	up := filepath.Join(e.dir, "up")
	if l := cmd("copyup " + scratch + "/tree/ " + up + "/"); l != "ok" {
		t.Fatalf("copyup of a directory: %q (stderr %s)", l, serr.String())
	}
	if b, _ := os.ReadFile(filepath.Join(up, "new")); string(b) != "from-testbed\n" {
		t.Errorf("copied up: %q", b)
	}
	if fi, err := os.Stat(filepath.Join(up, "new")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("copied up file mode: %v %v, want 0600", fi, err)
	}
	if fi, err := os.Stat(filepath.Join(up, "sub", "run.sh")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("copied up script mode: %v %v, want 0755", fi, err)
	}
	if l := cmd("copyup " + scratch + "/tree/data " + filepath.Join(e.dir, "one")); l != "ok" {
		t.Errorf("copyup of a file: %q", l)
	}
	if b, _ := os.ReadFile(filepath.Join(e.dir, "one")); string(b) != "some data\n" {
		t.Errorf("file copied up: %q", b)
	}
	if l := cmd("copyup " + scratch + "/nosuch " + filepath.Join(e.dir, "two")); l != "copy-failed" {
		t.Errorf("copyup of a missing file: %q, want copy-failed", l)
	}
	// The prefix's exit status is the command's, 125 included; nook's
	// own failures are 255, the protocol's for a testbed's (here: the
	// prefix of a session a revert ended).
	old := exec.Command(auxverb[0], append(auxverb[1:], "sh", "-c", "exit 125")...)
	old.Env = e.env
	if err := old.Run(); err == nil || old.ProcessState.ExitCode() != 125 {
		t.Errorf("a command that exits 125: %v, want exit status 125", err)
	}
	if l := cmd("revert"); l != "ok "+scratch {
		t.Errorf("revert: %q, want the same scratch %s", l, scratch)
	}
	gone := exec.Command(auxverb[0], append(auxverb[1:], "true")...)
	gone.Env = e.env
	if msg, err := gone.CombinedOutput(); err == nil || gone.ProcessState.ExitCode() != 255 || !strings.Contains(string(msg), "session") {
		t.Errorf("the prefix of an ended session: %v, %q; want exit status 255 and nook's reason", err, msg)
	}
	pec2 := cmd("print-execute-command")
	if pec2 == pec {
		t.Errorf("revert kept the session: %s", pec2)
	}
	auxverb = nil
	for _, a := range strings.Split(strings.TrimPrefix(pec2, "ok "), ",") {
		auxverb = append(auxverb, unquoteURL(a))
	}
	if got := tb("ls -A " + scratch + "; ls /home/x /etc/nookvirt 2>&1 | wc -l; stat -c %a " + scratch); got != "2\n1777" {
		t.Errorf("after revert: %q, want an empty scratch (1777) and /home/x, /etc/nookvirt gone", got)
	}
	srv.Process.Signal(syscall.SIGTERM)
	err = srv.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != -1 {
		t.Errorf("server after SIGTERM: %v, want killed by the signal", err)
	}
	if l := e.must("session", "list", "-q"); strings.TrimSpace(l) != "" {
		t.Errorf("sessions left after SIGTERM: %s", l)
	}
}

// unquoteURL undoes the server's URL quoting (%XX), as autopkgtest does.
func unquoteURL(s string) string {
	u, err := url.PathUnescape(s)
	if err != nil {
		return s
	}
	return u
}

// --network off: the execute prefix asks for no network, and a command
// through it sees only lo (/proc/net/dev is its network namespace's);
// the default sees the host's interfaces too.
func TestVirtNookNetworkOff(t *testing.T) {
	const tarball = "/var/cache/nook-ci/bookworm-minbase.tar"
	if _, err := os.Stat(tarball); err != nil {
		t.Fatalf("%v: run test/setup-host.sh as root, which makes it with mmdebstrap", err)
	}
	if session.DetectIDMode() == session.IDSingle {
		t.Skip("SKIP: the server does not start without subordinate ids (TestVirtNookProtocol checks the refusal)")
	}
	e := newSessionEnv(t)
	e.must("chroot", "add", "bookworm", tarball)
	hostIfs := 0
	if b, err := os.ReadFile("/proc/net/dev"); err == nil {
		hostIfs = strings.Count(string(b), ":")
	}
	for _, c := range []struct {
		args []string
		off  bool
		want int
	}{{[]string{"--network", "off"}, true, 1}, {nil, false, hostIfs}} {
		in := "open\nprint-execute-command\nquit\n"
		srv := exec.Command(nookBin, append(append([]string{"autopkgtest-virt-nook"}, c.args...), "bookworm")...)
		srv.Env, srv.Stdin = e.env, strings.NewReader(in)
		out, err := srv.Output()
		lines := strings.Split(string(out), "\n")
		if err != nil || len(lines) < 4 || !strings.HasPrefix(lines[2], "ok ") {
			t.Fatalf("server %q: %v, %q", c.args, err, out)
		}
		// The session ended with quit; a new one for the command.
		var auxverb []string
		for _, a := range strings.Split(strings.TrimPrefix(lines[2], "ok "), ",") {
			auxverb = append(auxverb, unquoteURL(a))
		}
		if got := slices.Contains(auxverb, "--no-network"); got != c.off {
			t.Errorf("server %q: execute prefix %q", c.args, auxverb)
		}
		id := auxverb[slices.Index(auxverb, "--execute")+1]
		e.must("session", "begin", "--name", id, "bookworm")
		cmd := exec.Command(auxverb[0], append(auxverb[1:], "cat", "/proc/net/dev")...)
		cmd.Env = e.env
		b, err := cmd.Output()
		if err != nil {
			t.Fatalf("%q: %v", auxverb, err)
		}
		if n := strings.Count(string(b), ":"); n != c.want || !strings.Contains(string(b), "lo:") {
			t.Errorf("server %q: a command sees %d interfaces, want %d:\n%s", c.args, n, c.want, b)
		}
		e.must("session", "end", id)
	}
}

// A chroot given as a tarball's path is begun from that file, named as
// sbuild names its tarballs; a path whose name another tarball beside it
// takes is refused, saying which.
func TestVirtNookTarballPath(t *testing.T) {
	const tarball = "/var/cache/nook-ci/bookworm-minbase.tar"
	if _, err := os.Stat(tarball); err != nil {
		t.Fatalf("%v: run test/setup-host.sh as root, which makes it with mmdebstrap", err)
	}
	if session.DetectIDMode() == session.IDSingle {
		t.Skip("SKIP: the server does not start without subordinate ids (TestVirtNookProtocol checks the refusal)")
	}
	e := newSessionEnv(t)
	dir := filepath.Join(e.dir, "tarballs")
	os.Mkdir(dir, 0o755)
	os.Symlink(tarball, filepath.Join(dir, "mine.tar"))
	os.Symlink(tarball, filepath.Join(dir, "twice.tar"))
	os.WriteFile(filepath.Join(dir, "twice.tar.zst"), nil, 0o644)
	srv := exec.Command(nookBin, "autopkgtest-virt-nook", filepath.Join(dir, "mine.tar"))
	srv.Env, srv.Stdin = e.env, strings.NewReader("open\nprint-execute-command\nquit\n")
	out, err := srv.Output()
	lines := strings.Split(string(out), "\n")
	if err != nil || len(lines) < 4 || !strings.HasPrefix(lines[1], "ok /tmp/") || !strings.Contains(lines[2], ",mine-") || lines[3] != "ok" {
		t.Errorf("server over a tarball's path: %v, %q; want a session of \"mine\"", err, out)
	}
	srv = exec.Command(nookBin, "autopkgtest-virt-nook", filepath.Join(dir, "twice.tar.zst"))
	srv.Env = e.env
	msg, err := srv.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(msg), filepath.Join(dir, "twice.tar")+" in the same directory takes its name") {
		t.Errorf("server over a tarball whose name is taken: %v, %q; want exit 1 and which file takes it", err, msg)
	}
	if l := e.must("session", "list", "-q"); strings.TrimSpace(l) != "" {
		t.Errorf("sessions left: %s", l)
	}
}

// autopkgtest's reboots through autopkgtest-virt-nook --boot: a test that
// asks for one with /tmp/autopkgtest-reboot (autopkgtest sends `reboot'),
// and one that prepares with /tmp/autopkgtest-reboot-prepare and reboots
// the testbed itself (`reboot prepare-only'). Each runs again after the
// reboot with its mark, sees another systemd on the same tree and passes;
// the scratch directory (the test's output files) survives the reboots.
func TestAutopkgtestVirtNookReboot(t *testing.T) {
	e := bootedVirtNookEnv(t)
	pkg := filepath.Join(e.dir, "rpkg")
	files := map[string]string{
		"debian/control": "Source: nookreboot\nSection: misc\nPriority: optional\nMaintainer: nook CI <nook@example.invalid>\n" +
			"Standards-Version: 4.6.2\n\nPackage: nookreboot\nArchitecture: all\nDescription: autopkgtest-virt-nook reboot check\n Tests only.\n",
		"debian/changelog":     "nookreboot (1.0) unstable; urgency=medium\n\n  * Initial release.\n\n -- nook CI <nook@example.invalid>  Thu, 03 Dec 2026 00:00:00 +0000\n",
		"debian/tests/control": "Tests: reboot, reboot-prepare\nDepends: coreutils\nRestrictions: needs-reboot, needs-root\n",
		"debian/tests/reboot": `#!/bin/sh
set -e
pid1() { cut -d' ' -f22 /proc/1/stat; }
case "${AUTOPKGTEST_REBOOT_MARK:-}" in
"") pid1 >/var/tmp/nook-boot1; echo "before the reboot"; /tmp/autopkgtest-reboot second ;;
second) test "$(pid1)" != "$(cat /var/tmp/nook-boot1)"; echo "rebooted" ;;
*) echo "mark $AUTOPKGTEST_REBOOT_MARK"; exit 9 ;;
esac
`,
		"debian/tests/reboot-prepare": `#!/bin/sh
set -e
pid1() { cut -d' ' -f22 /proc/1/stat; }
case "${AUTOPKGTEST_REBOOT_MARK:-}" in
"") pid1 >/var/tmp/nook-boot2; /tmp/autopkgtest-reboot-prepare after; reboot; sleep 120; exit 8 ;;
after) test "$(pid1)" != "$(cat /var/tmp/nook-boot2)"; echo "rebooted by the test" ;;
*) echo "mark $AUTOPKGTEST_REBOOT_MARK"; exit 9 ;;
esac
`,
	}
	for name, text := range files {
		p := filepath.Join(pkg, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(text), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(e.dir, "out")
	start := time.Now()
	code, log := e.autopkgtestBooted(pkg, out)
	t.Logf("autopkgtest with two reboots through autopkgtest-virt-nook --boot took %v", time.Since(start))
	want := "reboot PASS\nreboot-prepare PASS"
	if got := summary(t, out); code != 0 || got != want {
		t.Errorf("autopkgtest --boot with reboots: exit %d, summary:\n%s\nwant exit 0 and:\n%s\n--- output:\n%s", code, got, want, log)
	}
	if b, _ := os.ReadFile(filepath.Join(out, "reboot-stdout")); !strings.Contains(string(b), "before the reboot") || !strings.Contains(string(b), "rebooted") {
		t.Errorf("the reboot test's output across its reboot: %q", b)
	}
	if l := e.must("session", "list", "-q"); strings.TrimSpace(l) != "" {
		t.Errorf("sessions left after autopkgtest: %s", l)
	}
}

// bootedVirtNookEnv is a session environment with the chroot "sd" on CI's
// systemd tarball, skipping where autopkgtest or a booted session cannot
// run.
func bootedVirtNookEnv(t *testing.T) *sessionEnv {
	t.Helper()
	const tarball = "/var/cache/nook-ci/bookworm-systemd.tar"
	if _, err := exec.LookPath("autopkgtest"); err != nil {
		t.Skipf("SKIP: autopkgtest is not installed (apt-get install autopkgtest): %v", err)
	}
	if session.DetectIDMode() != session.IDSubids {
		t.Skip("SKIP: a booted session needs subordinate ids and an unprivileged caller (TestBootSessionCLI checks the refusals)")
	}
	if _, err := session.DelegatedCgroup(); err != nil {
		t.Skipf("SKIP: no delegated cgroup v2 here (CI's test/lib/runtests.sh starts the tests in one): %v", err)
	}
	if _, err := os.Stat(tarball); err != nil {
		t.Fatalf("%v: run test/setup-host.sh as root, which makes it with mmdebstrap", err)
	}
	e := newSessionEnv(t)
	e.must("chroot", "add", "sd", tarball)
	return e
}

// autopkgtestBooted runs autopkgtest on the package tree pkg through
// autopkgtest-virt-nook --boot over "sd", its results into out. The
// systemd chroot has no dpkg-dev, whose dpkg-source autopkgtest only looks
// for before copying an unbuilt tree: a setup command stands one in.
func (e *sessionEnv) autopkgtestBooted(pkg, out string) (int, string) {
	e.t.Helper()
	bin := filepath.Join(e.dir, "bin")
	os.Mkdir(bin, 0o755)
	if err := os.Symlink(nookBin, filepath.Join(bin, "autopkgtest-virt-nook")); err != nil && !os.IsExist(err) {
		e.t.Fatal(err)
	}
	return e.autopkgtest(e.dir, bin, "--no-built-binaries", "--output-dir", out,
		"--setup-commands", "command -v dpkg-source || { printf '#!/bin/sh\\nexit 0\\n' >/usr/local/bin/dpkg-source; chmod +x /usr/local/bin/dpkg-source; }",
		pkg+"/", "--", "nook", "--boot", "sd")
}
