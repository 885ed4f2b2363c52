package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// sessionEnv is a private set of nook directories for one test: nothing
// touches the user's own sessions, and everything goes with the test.
type sessionEnv struct {
	t   *testing.T
	env []string
	dir string
	bin string // the nook to run; nookBin when empty
}

func newSessionEnv(t *testing.T) *sessionEnv {
	t.Helper()
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	e := &sessionEnv{t: t, dir: dir, env: append(os.Environ(),
		"XDG_CONFIG_HOME="+dir+"/config", "XDG_CACHE_HOME="+dir+"/cache", "XDG_STATE_HOME="+dir+"/state")}
	t.Cleanup(func() {
		// Subordinate-id files are only removable through nook.
		e.nook("session", "end", "--all")
		e.nook("cache", "prune")
	})
	return e
}

// nook runs the binary in the test's directories.
func (e *sessionEnv) nook(args ...string) (string, string, int) {
	return e.nookIn("", args...)
}

func (e *sessionEnv) nookIn(stdin string, args ...string) (string, string, int) {
	bin := e.bin
	if bin == "" {
		bin = nookBin
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = "/"
	cmd.Env = e.env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("run nook: %v", err)
	}
	return out.String(), errb.String(), code
}

func (e *sessionEnv) must(args ...string) string {
	e.t.Helper()
	out, errOut, code := e.nook(args...)
	if code != 0 {
		e.t.Fatalf("nook %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	return out
}

// busyboxChroot makes a gzip'ed busybox chroot with tar(1) and adds it as
// name.
func (e *sessionEnv) busyboxChroot(name string) {
	e.t.Helper()
	e.must("chroot", "add", name, busyboxTarball(e.t, e.dir, name))
}

// busyboxTarball makes dir/NAME.tar.gz: busybox and its applets, root's
// passwd and group entries.
func busyboxTarball(t *testing.T, dir, name string) string {
	t.Helper()
	root := filepath.Join(dir, name+"-tree")
	for _, d := range []string{"bin", "etc", "root", "tmp", "proc", "sys", "dev"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatalf("needs a static busybox at /bin/busybox (apt-get install busybox-static): %v", err)
	}
	os.WriteFile(filepath.Join(root, "bin/busybox"), bb, 0o755)
	for _, a := range []string{"sh", "cat", "echo", "id", "ls", "touch", "sleep", "test", "hostname", "grep", "rm", "mkdir", "chown", "tr", "env", "pwd", "stat", "true", "printf", "chmod", "uname"} {
		os.Symlink("busybox", filepath.Join(root, "bin", a))
	}
	os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0:root:/root:/bin/sh\n"), 0o644)
	os.WriteFile(filepath.Join(root, "etc/group"), []byte("root:x:0:\n"), 0o644)
	tarball := filepath.Join(dir, name+".tar.gz")
	if out, err := exec.Command("tar", "--numeric-owner", "--owner=0", "--group=0", "-czf", tarball, "-C", root, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v %s", err, out)
	}
	return tarball
}

var idRE = regexp.MustCompile(`^[a-z]+-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\n$`)

func TestSessionCLI(t *testing.T) {
	e := newSessionEnv(t)
	e.busyboxChroot("bb")
	out, _, code := e.nook("session", "begin", "bb")
	if code != 0 || !idRE.MatchString(out) {
		t.Fatalf("session begin printed %q (exit %d), want only CHROOT-UUID", out, code)
	}
	id := strings.TrimSpace(out)
	// Files go in and out through stdin and stdout unchanged.
	if _, errOut, code := e.nookIn("some\x00bytes\n", "session", "run", id, "--", "sh", "-c", "cat > /root/f"); code != 0 {
		t.Fatalf("cat > /root/f: %d %s", code, errOut)
	}
	if out := e.must("session", "run", id, "--", "cat", "/root/f"); out != "some\x00bytes\n" {
		t.Errorf("cat /root/f = %q", out)
	}
	if _, _, code := e.nook("session", "run", id, "--", "sh", "-c", "exit 9"); code != 9 {
		t.Errorf("exit status %d, want 9", code)
	}
	if _, _, code := e.nook("session", "run", id, "--", "sh", "-c", "kill -TERM $$"); code != 128+15 {
		t.Errorf("killed by TERM: status %d, want 143", code)
	}
	if _, errOut, code := e.nook("session", "run", id, "-d", "/not/there", "--", "true"); code != 125 || !strings.Contains(errOut, "/not/there") {
		t.Errorf("-d /not/there: exit %d, %q", code, errOut)
	}
	if out := e.must("session", "run", id, "--setenv", "A=b", "-u", "root", "-d", "/tmp", "--", "sh", "-c", "echo $A $(pwd) $(hostname)"); out != "b /tmp bb\n" {
		t.Errorf("options: %q", out)
	}
	// Options before the id, and the -- after it (a schroot user's
	// habit): the -- is not taken for the command.
	if out, errOut, code := e.nook("session", "run", "-d", "/tmp", id, "--", "pwd"); code != 0 || out != "/tmp\n" {
		t.Errorf("run -d /tmp ID -- pwd: %d %q %q, want /tmp", code, out, errOut)
	}
	// A host directory bound in.
	hostDir := filepath.Join(e.dir, "shared")
	os.Mkdir(hostDir, 0o777)
	os.Chmod(hostDir, 0o777)
	e.must("session", "run", id, "--bind", hostDir+":/mnt", "--", "sh", "-c", "echo via-bind > /mnt/x")
	if b, _ := os.ReadFile(filepath.Join(hostDir, "x")); string(b) != "via-bind\n" {
		t.Errorf("--bind: host file holds %q", b)
	}
	// No command: the user's login shell, reading stdin.
	if out, _, code := e.nookIn("echo from-login-shell\n", "session", "run", id); code != 0 || out != "from-login-shell\n" {
		t.Errorf("login shell: %q %d", out, code)
	}
	var list []map[string]any
	json.Unmarshal([]byte(e.must("session", "list", "--json")), &list)
	if len(list) != 1 || list[0]["id"] != id || list[0]["chroot"] != "bb" {
		t.Errorf("session list --json: %v", list)
	}
	var info map[string]any
	json.Unmarshal([]byte(e.must("session", "info", id, "--json")), &info)
	if info["id"] != id || info["kind"] != "tarball" {
		t.Errorf("session info --json: %v", info)
	}
	var entries []map[string]any
	json.Unmarshal([]byte(e.must("cache", "list", "--json")), &entries)
	if len(entries) != 1 || entries[0]["size"].(float64) <= 0 {
		t.Errorf("cache list --json: %v", entries)
	}
	e.must("session", "end", id)
	if out := e.must("session", "list"); out != "" {
		t.Errorf("list after end: %q", out)
	}
	if _, errOut, code := e.nook("session", "run", id, "--", "true"); code == 0 || !strings.Contains(errOut, "no such session") {
		t.Errorf("run in an ended session: %d %q", code, errOut)
	}
}

func TestChrootCLI(t *testing.T) {
	e := newSessionEnv(t)
	e.busyboxChroot("bb")
	e.must("chroot", "add", "tree", e.dir+"/bb-tree", "--alias", "t2", "--description", "a tree")
	var list []map[string]any
	json.Unmarshal([]byte(e.must("chroot", "list", "--json")), &list)
	names := map[string]string{}
	for _, c := range list {
		names[c["name"].(string)] = c["kind"].(string)
	}
	if names["bb"] != "tarball" || names["tree"] != "directory" || names["host"] != "host" {
		t.Errorf("chroot list --json: %v", list)
	}
	out := e.must("chroot", "info", "t2")
	for _, want := range []string{"tree (used)", "directory", "a tree", "Defined by   nook"} {
		if !strings.Contains(out, want) {
			t.Errorf("chroot info t2 lacks %q:\n%s", want, out)
		}
	}
	if _, errOut, code := e.nook("chroot", "add", "tree", "/"); code == 0 || !strings.Contains(errOut, "remove it first") {
		t.Errorf("second add: %d %q", code, errOut)
	}
	e.must("chroot", "remove", "tree")
	if _, errOut, code := e.nook("chroot", "info", "tree"); code == 0 || !strings.Contains(errOut, "no such chroot") {
		t.Errorf("info after remove: %d %q", code, errOut)
	}
	for _, verb := range []string{"session", "chroot", "cache"} {
		out, _, code := e.nook(verb, "--help")
		if code != 0 || !strings.Contains(out, "usage: nook "+verb) {
			t.Errorf("nook %s --help: %d %q", verb, code, out)
		}
	}
}

// A session lives on disk only: after a command nothing of nook runs or is
// mounted, so everything can be killed (as by a reboot) and the next
// command sees the earlier write.
func TestSessionSurvivesReboot(t *testing.T) {
	e := newSessionEnv(t)
	e.busyboxChroot("bb")
	id := strings.TrimSpace(e.must("session", "begin", "bb"))
	e.must("session", "run", id, "--", "sh", "-c", "echo before-reboot > /root/state")
	// Kill every process that could hold the session: there must be none
	// but its user namespace holder (with subordinate ids only: it keeps
	// nothing the session needs), which a reboot would end too.
	for _, p := range processesWith(id) {
		pid, args, _ := strings.Cut(p, ": ")
		if !strings.HasPrefix(args, "nook-userns-holder ") {
			t.Errorf("a process of the session outlived its command: %s", p)
			continue
		}
		n, _ := strconv.Atoi(pid)
		syscall.Kill(n, syscall.SIGKILL)
	}
	if left := waitGone(id); len(left) > 0 {
		t.Errorf("processes of the session still alive: %v", left)
	}
	for _, p := range processesWith("nook-init") {
		t.Logf("(a nook init of another test is running: %s)", p)
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mi), e.dir) {
		t.Errorf("the host's mountinfo holds nook's directories:\n%s", mi)
	}
	if out := e.must("session", "run", id, "--", "cat", "/root/state"); out != "before-reboot\n" {
		t.Errorf("after the restart: %q", out)
	}
}

// A second command in a running session waits, saying what it waits for,
// and runs once the first ends.
func TestSessionConcurrentCommands(t *testing.T) {
	e := newSessionEnv(t)
	e.busyboxChroot("bb")
	id := strings.TrimSpace(e.must("session", "begin", "bb"))
	first := exec.Command(nookBin, "session", "run", id, "--", "sh", "-c", "echo started; read line; echo first-done > /root/order")
	first.Env = e.env
	stdin, _ := first.StdinPipe()
	stdout, _ := first.StdoutPipe()
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	defer first.Process.Kill()
	if line, _ := bufio.NewReader(stdout).ReadString('\n'); line != "started\n" {
		t.Fatalf("first command: %q", line)
	}
	second := exec.Command(nookBin, "session", "run", id, "--", "cat", "/root/order")
	second.Env = e.env
	errPipe, _ := second.StderrPipe()
	var out bytes.Buffer
	second.Stdout = &out
	if err := second.Start(); err != nil {
		t.Fatal(err)
	}
	msg, _ := bufio.NewReader(errPipe).ReadString('\n')
	if !strings.Contains(msg, "is busy with") || !strings.Contains(msg, "read line") || !strings.Contains(msg, "waits") {
		t.Errorf("the waiting command said %q", msg)
	}
	io.WriteString(stdin, "go\n")
	stdin.Close()
	if err := first.Wait(); err != nil {
		t.Errorf("first: %v", err)
	}
	go io.Copy(io.Discard, errPipe)
	if err := second.Wait(); err != nil || out.String() != "first-done\n" {
		t.Errorf("second: %v, %q (it must run after the first ended)", err, out.String())
	}
}

// One user never sees another user's sessions: the store's directories
// are the caller's, mode 0700; as root, a session is also looked at as
// nook-ci-nosub.
func TestSessionsPrivatePerUser(t *testing.T) {
	e := newSessionEnv(t)
	e.busyboxChroot("bb")
	id := strings.TrimSpace(e.must("session", "begin", "bb"))
	for _, d := range []string{"state/nook/sessions", "cache/nook/unpack", "cache/nook/unpack/entries"} {
		var st unix.Stat_t
		if err := unix.Stat(filepath.Join(e.dir, d), &st); err != nil {
			t.Fatal(err)
		}
		if st.Mode&0o777 != 0o700 || int(st.Uid) != os.Getuid() {
			t.Errorf("%s: mode %o owner %d, want 0700 and %d", d, st.Mode&0o777, st.Uid, os.Getuid())
		}
	}
	if os.Geteuid() != 0 {
		return // acting as a second user needs root; the runs as root do
	}
	other := exec.Command("runuser", "-u", "nook-ci-nosub", "--", nookBin, "session", "run", id, "--", "true")
	other.Env = e.env
	other.Dir = "/"
	out, err := other.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "no such session") && !strings.Contains(string(out), "permission denied") {
		t.Errorf("another user ran a command in root's session: %v %s", err, out)
	}
	ls := exec.Command("runuser", "-u", "nook-ci-nosub", "--", "ls", filepath.Join(e.dir, "state/nook/sessions"), filepath.Join(e.dir, "cache/nook/unpack"))
	if out, err := ls.CombinedOutput(); err == nil {
		t.Errorf("another user can list root's sessions or cache: %s", out)
	}
}

// The real Debian chroot (made once by test/setup-host.sh with mmdebstrap):
// a package installed in one command runs in the next, and is gone from a
// new session.
func TestDebianSession(t *testing.T) {
	const tarball = "/var/cache/nook-ci/bookworm-minbase.tar"
	if _, err := os.Stat(tarball); err != nil {
		t.Fatalf("%v: run test/setup-host.sh as root, which makes it with mmdebstrap", err)
	}
	e := newSessionEnv(t)
	e.must("chroot", "add", "bookworm", tarball)
	start := time.Now()
	id := strings.TrimSpace(e.must("session", "begin", "bookworm"))
	t.Logf("first begin (unpack) took %v", time.Since(start))
	mode := e.must("session", "info", id, "--json")
	// apt drops to its _apt user for downloads; with a single id that uid
	// does not exist in the namespace, so tell apt to stay root.
	aptOpt := ""
	if strings.Contains(mode, `"single"`) {
		aptOpt = "-o APT::Sandbox::User=root"
	}
	install := fmt.Sprintf("apt-get %s -q update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get %s -q -y --no-install-recommends install hello >/dev/null && echo installed", aptOpt, aptOpt)
	out, errOut, code := e.nook("session", "run", id, "--", "sh", "-c", install)
	if code != 0 || out != "installed\n" {
		t.Fatalf("apt-get install hello: exit %d\n%s\n%s", code, out, errOut)
	}
	if out := e.must("session", "run", id, "--no-network", "--", "hello"); out != "Hello, world!\n" {
		t.Errorf("hello: %q", out)
	}
	if out := e.must("session", "run", id, "-u", "builder", "--", "sh", "-c", "id -un; hello -g hi"); out != "builder\nhi\n" {
		t.Errorf("hello as a build user: %q", out)
	}
	e.must("session", "end", id)
	id2 := strings.TrimSpace(e.must("session", "begin", "bookworm"))
	if _, _, code := e.nook("session", "run", id2, "--", "sh", "-c", "command -v hello"); code == 0 {
		t.Errorf("hello is still there in a new session")
	}
	e.must("session", "end", id2)
}

// On a terminal an unpack draws a progress bar on stderr; on a pipe
// nothing but the id appears.
func TestUnpackProgress(t *testing.T) {
	e := newSessionEnv(t)
	e.busyboxChroot("bb")
	cmd := exec.Command(nookBin, "session", "begin", "bb")
	cmd.Env = e.env
	var out bytes.Buffer
	cmd.Stdout = &out
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	cmd.Stderr = tty
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close()
	var drawn bytes.Buffer
	done := make(chan struct{})
	go func() { io.Copy(&drawn, ptmx); close(done) }()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("begin on a terminal: %v", err)
	}
	<-done
	if !idRE.MatchString(out.String()) {
		t.Errorf("stdout %q is not only the id", out.String())
	}
	if !strings.Contains(drawn.String(), "unpacking bb [") || !strings.Contains(drawn.String(), "100%") {
		t.Errorf("no progress bar on the terminal: %q", drawn.String())
	}
	// On a pipe: no progress (only the single-id warning, if any).
	e.must("session", "end", "--all")
	e.must("cache", "prune")
	_, errOut, code := e.nook("session", "begin", "bb")
	if code != 0 || strings.Contains(errOut, "unpacking") || strings.Contains(errOut, "\r") {
		t.Errorf("begin on a pipe wrote %q to stderr (exit %d)", errOut, code)
	}
}

func TestChrootCreateNeedsMmdebstrap(t *testing.T) {
	e := newSessionEnv(t)
	cmd := exec.Command(nookBin, "chroot", "create", "x", "bookworm")
	cmd.Env = append(e.env, "PATH=/nonexistent")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "apt-get install mmdebstrap") {
		t.Errorf("create without mmdebstrap: %v %q", err, out)
	}
}

// TestSessionSignalsForwarded: session run forwards the signals nook run
// does (its subscription starts while the session is read).
func TestSessionSignalsForwarded(t *testing.T) {
	e := newSessionEnv(t)
	e.busyboxChroot("bb")
	id := strings.TrimSpace(e.must("session", "begin", "bb"))
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP} {
		t.Run(sigName(sig), func(t *testing.T) {
			checkForwarded(t, sig, func(script string) *exec.Cmd {
				c := exec.Command(nookBin, "session", "run", id, "--", "sh", "-c", script)
				c.Env, c.Dir = e.env, "/"
				return c
			})
		})
	}
}

// TestUnpackHelperMissing: a nook installed without nook-unpack (none
// beside it, on PATH or in /usr/libexec/nook) cannot begin a session from a
// tarball; it says what is missing and how to install it, and leaves no
// session and no half-made cache entry. Directory chroots need no helper.
func TestUnpackHelperMissing(t *testing.T) {
	for _, p := range []string{"/usr/libexec/nook/nook-unpack", "/usr/lib/nook/nook-unpack", "/usr/bin/nook-unpack", "/bin/nook-unpack"} {
		if _, err := os.Stat(p); err == nil {
			t.Skipf("SKIPPED: %s is installed on this machine, so nook always finds a helper", p)
		}
	}
	e := newSessionEnv(t)
	alone := filepath.Join(e.dir, "alone")
	os.Mkdir(alone, 0o755)
	data, err := os.ReadFile(nookBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(alone, "nook"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	e.env = append(e.env, "PATH=/usr/bin:/bin", "NOOK_UNPACK=")
	tarball := busyboxTarball(t, e.dir, "bb")
	e.bin = filepath.Join(alone, "nook")
	if _, errOut, code := e.nook("chroot", "add", "bb", tarball); code != 0 {
		t.Fatalf("chroot add: %d %s", code, errOut)
	}
	out, errOut, code := e.nook("session", "begin", "bb")
	if code == 0 || !strings.Contains(errOut, "nook-unpack") || !strings.Contains(errOut, "go build -o DIR ./cmd/nook-unpack") || !strings.Contains(errOut, alone) {
		t.Errorf("begin without the helper: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if list, _, _ := e.nook("session", "list"); strings.TrimSpace(list) != "" {
		t.Errorf("a session was left: %q", list)
	}
	for _, d := range []string{"entries", "tmp", "index"} {
		if left, _ := filepath.Glob(filepath.Join(e.dir, "cache/nook/unpack", d, "*")); len(left) != 0 {
			t.Errorf("the failed begin left %q in the cache", left)
		}
	}
	// A directory chroot begins without the helper.
	if _, errOut, code := e.nook("chroot", "add", "tree", filepath.Join(e.dir, "bb-tree")); code != 0 {
		t.Fatalf("chroot add tree: %d %s", code, errOut)
	}
	if out, errOut, code := e.nook("session", "begin", "tree"); code != 0 || strings.TrimSpace(out) == "" {
		t.Errorf("begin of a directory chroot without the helper: exit %d %q %q", code, out, errOut)
	}
}
