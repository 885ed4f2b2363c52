package session

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nook-project/nook/internal/phase"
	"github.com/nook-project/nook/sandbox"
	"github.com/nook-project/nook/sandbox/idmap"
	"golang.org/x/sys/unix"
)

func TestIDModeDetected(t *testing.T) {
	got := DetectIDMode()
	want := IDSingle
	switch {
	case os.Geteuid() == 0:
		want = IDHost
	case os.Getenv("NOOK_TEST_EXPECT_SUBIDS") == "1":
		want = IDSubids
	}
	if got != want {
		t.Fatalf("DetectIDMode() = %s, want %s (uid %d, NOOK_TEST_EXPECT_SUBIDS=%q)", got, want, os.Getuid(), os.Getenv("NOOK_TEST_EXPECT_SUBIDS"))
	}
}

// Every compression, told apart by content: the files are all named
// .tarball.
func TestUnpackEachCompression(t *testing.T) {
	s := testStore(t)
	for _, c := range []struct {
		comp Compression
		xz   string
	}{{None, ""}, {Gzip, ""}, {Zstd, ""}, {Bzip2, ""}, {Xz, "xz"}, {Xz, "go"}} {
		name := string(c.comp) + c.xz
		t.Run(name, func(t *testing.T) {
			XzTool = c.xz
			defer func() { XzTool = "" }()
			data := compressWith(t, c.comp, busyboxTar(t, ent{Name: "./marker", Type: tar.TypeReg, Body: name}))
			addTarball(t, s, name, data)
			res := begin(t, s, name)
			if res.Unpacked == nil || res.Unpacked.Compression != c.comp {
				t.Fatalf("unpacked %+v, want a new entry from %s", res.Unpacked, c.comp)
			}
			if !strings.Contains(strings.Join(res.Warnings, "\\n"), "skipped 2 device nodes") {
				t.Errorf("no one-line summary of the skipped device nodes in %q", res.Warnings)
			}
			if got := sh(t, s, res.State.ID, "cat /marker"); got != name {
				t.Errorf("/marker = %q, want %q", got, name)
			}
			// The second begin finds the entry: nothing is unpacked.
			res2 := begin(t, s, name)
			if res2.Unpacked != nil || res2.State.Lower != res.State.Lower {
				t.Errorf("second begin unpacked again (%v) or used another tree (%s, %s)", res2.Unpacked, res2.State.Lower, res.State.Lower)
			}
			for _, id := range []string{res.State.ID, res2.State.ID} {
				if err := s.End(id, nil); err != nil {
					t.Errorf("end: %v", err)
				}
			}
		})
	}
}

func TestNotATarball(t *testing.T) {
	s := testStore(t)
	p := filepath.Join(t.TempDir(), "x.tar.gz")
	os.WriteFile(p, []byte("this is not a tarball at all, whatever its name says"), 0o644)
	if _, err := s.Registry.Add("x", p, nil, ""); err == nil || !strings.Contains(err.Error(), "not a tar archive") {
		t.Errorf("chroot add of a non-tarball: %v", err)
	}
}

// Owners are numeric and land on the mapped ids: with subordinate ids, a
// file of uid 1234 inside belongs to the 1234th id of the caller's range
// on the host; real root keeps 1234; a single id keeps only itself.
func TestOwnershipUnderMapping(t *testing.T) {
	s := testStore(t)
	data := busyboxTar(t,
		ent{Name: "./owned", Type: tar.TypeReg, UID: 1234, GID: 2345, Mode: 0o4755, Body: "x"},
		ent{Name: "./ownedsg", Type: tar.TypeReg, UID: 1234, GID: 2345, Mode: 0o2750, Body: "x"})
	addTarball(t, s, "own", data)
	res := begin(t, s, "own")
	got := strings.TrimSpace(sh(t, s, res.State.ID, "stat -c '%u %g %a' /owned /ownedsg | tr '\\n' ' '"))
	want := "1234 2345 4755 1234 2345 2750"
	if s.Mode() == IDSingle {
		want = "0 0 4755 0 0 2750"
	}
	if got != want {
		t.Errorf("inside: owner and mode %q, want %q", got, want)
	}
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(res.State.Lower, "owned"), &st); err != nil {
		t.Fatal(err)
	}
	hostUID := 1234
	switch s.Mode() {
	case IDSingle:
		hostUID = os.Getuid()
	case IDSubids:
		hostUID = subIDBase(t) + 1233
	}
	if int(st.Uid) != hostUID {
		t.Errorf("on the host the file belongs to uid %d, want %d (mode %s)", st.Uid, hostUID, s.Mode())
	}
}

func subIDBase(t *testing.T) int {
	u, g := subIDMaps(t)
	if len(u) < 2 || len(g) < 2 {
		t.Fatalf("no subordinate range: %v %v", u, g)
	}
	return u[1].HostID
}

func subIDMaps(t *testing.T) ([]syscall.SysProcIDMap, []syscall.SysProcIDMap) {
	name := strconv.Itoa(os.Getuid())
	if u, err := osUserName(); err == nil {
		name = u
	}
	su, _ := idmap.LookupSubIDs(idmap.SubUIDPath, name, os.Getuid())
	sg, _ := idmap.LookupSubIDs(idmap.SubGIDPath, name, os.Getgid())
	um, gm, err := idmap.Plan(idmap.SubidsRoot, os.Getuid(), os.Getgid(), su, sg)
	if err != nil {
		t.Fatal(err)
	}
	return um, gm
}

func osUserName() (string, error) {
	out, err := exec.Command("id", "-un").Output()
	return strings.TrimSpace(string(out)), err
}

// The life cycle: begin is only a state file and empty directories; a
// write survives between commands; nothing is mounted or running between
// them, so killing everything (a reboot) loses nothing; end removes it
// all, files of subordinate ids included.
func TestSessionSurvivesAndEnds(t *testing.T) {
	s := testStore(t)
	addTarball(t, s, "life", busyboxTar(t))
	res := begin(t, s, "life")
	id := res.State.ID
	if !strings.HasPrefix(id, "life-") || len(id) != len("life-")+36 {
		t.Errorf("session id %q is not CHROOT-UUID", id)
	}
	upper, _ := os.ReadDir(filepath.Join(res.State.Dir, "upper"))
	if len(upper) != 0 {
		t.Errorf("a new session's upper directory is not empty: %v", upper)
	}
	sh(t, s, id, "echo written > /root/file && mkdir -p /var/x && touch /var/x/y && chown -R 1234:1234 /var/x && chmod 000 /var/x")
	// The command's overlay was volatile (sync suppressed): overlayfs left
	// its mark, and a command with --sync (a plain overlay) and one
	// without still mount over it and see the write.
	mark := filepath.Join(res.State.Dir, "work", "work", "incompat", "volatile")
	if os.Geteuid() == 0 {
		if _, err := os.Lstat(mark); err != nil {
			t.Errorf("no volatile mark after a command without --sync (is its overlay volatile?): %v", err)
		}
	}
	for _, sync := range []bool{true, false} {
		r := runIn(t, s, id, RunOptions{Args: []string{"cat", "/root/file"}, Sync: sync}, "")
		if r.code != 0 || r.out != "written\n" {
			t.Errorf("a command with Sync %v after a volatile one: exit %d, %v, %q\n%s", sync, r.code, r.startErr, r.out, r.err)
		}
	}
	// Nothing of the session is mounted on the host, nor held open.
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	for _, d := range []string{s.Dirs.State, s.Dirs.Cache} {
		if strings.Contains(string(mi), d) {
			t.Errorf("host mountinfo mentions %s between commands:\n%s", d, mi)
		}
	}
	if holders := openersOf(t, res.State.Dir); len(holders) > 0 {
		t.Errorf("processes hold files of the session between commands: %v", holders)
	}
	// A fresh store (as after a reboot: nothing in memory) sees it.
	s2 := OpenDirs(s.Dirs)
	s2.Registry = s.Registry
	if got := sh(t, s2, id, "cat /root/file"); got != "written\n" {
		t.Errorf("after the restart /root/file = %q", got)
	}
	list, _ := s2.List()
	if len(list) != 1 || list[0].ID != id {
		t.Errorf("list = %v", list)
	}
	if err := s2.End(id, nil); err != nil {
		t.Fatalf("end: %v", err)
	}
	if _, err := os.Lstat(res.State.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("session directory still there after end: %v", err)
	}
	ents, _ := os.ReadDir(filepath.Dir(res.State.Dir))
	var left []string
	for _, e := range ents {
		if e.Name() != ".lock" { // the store's lock file stays
			left = append(left, e.Name())
		}
	}
	if len(left) != 0 {
		t.Errorf("end left %v in the sessions directory", left)
	}
	if _, err := s2.Get(id); !errors.Is(err, ErrNoSession) {
		t.Errorf("Get after end: %v", err)
	}
}

// openersOf lists processes of this user that have a file under dir open
// or as their cwd.
func openersOf(t *testing.T, dir string) []string {
	var out []string
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		for _, fd := range fds {
			l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
			if strings.HasPrefix(l, dir) {
				out = append(out, fmt.Sprintf("pid %d: %s", pid, l))
			}
		}
		if l, _ := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid)); strings.HasPrefix(l, dir) {
			out = append(out, fmt.Sprintf("pid %d: cwd %s", pid, l))
		}
	}
	return out
}

func TestSessionName(t *testing.T) {
	s := testStore(t)
	addTarball(t, s, "named", busyboxTar(t))
	res, err := s.Begin("named", BeginOptions{Name: "mine"})
	if err != nil || res.State.ID != "mine" {
		t.Fatalf("begin --name mine: %v %+v", err, res)
	}
	var exists *ExistsError
	if _, err := s.Begin("named", BeginOptions{Name: "mine"}); !errors.As(err, &exists) || exists.ID != "mine" {
		t.Errorf("a second session of the same name: %v", err)
	}
	if _, err := s.Begin("named", BeginOptions{Name: "../x"}); err == nil {
		t.Errorf("a session named ../x was accepted")
	}
	if _, err := s.Begin("no-such-chroot", BeginOptions{}); !errors.Is(err, ErrNoChroot) {
		t.Errorf("begin of an unknown chroot: %v", err)
	}
}

// What a command sees: its own namespaces, hostname = chroot name, fresh
// /proc, /sys read-only, a minimal /dev, the network per command.
func TestCommandEnvironment(t *testing.T) {
	s := testStore(t)
	addTarball(t, s, "envchk", busyboxTar(t))
	id := begin(t, s, "envchk").State.ID
	// pid 1 is nook's reaper in a fresh pid namespace with its own /proc.
	out := sh(t, s, id, `tr '\0' ' ' </proc/1/cmdline; echo; hostname; grep -q ' /sys .*ro,' /proc/self/mountinfo && echo sys-ro; ls /dev | tr '\n' ' '; echo; pwd; id -u`)
	// pid 1 is nook's: the re-executed init ("nook-init") or, on the raw
	// engine, a fork of the process that started the sandbox (this test).
	if first := strings.SplitN(out, "\n", 2)[0]; !strings.HasPrefix(first, "nook-init ") && !strings.HasPrefix(first, os.Args[0]+" ") {
		t.Errorf("pid 1 is %q, not nook's", first)
	}
	for _, want := range []string{"\nenvchk\n", "sys-ro\n", "\n/\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	for _, dev := range []string{"null", "zero", "full", "random", "urandom", "tty", "ptmx", "pts", "shm", "fd", "stdin", "stdout", "stderr"} {
		if !strings.Contains(out, " "+dev+" ") && !strings.HasPrefix(strings.Split(out, "\n")[3], dev+" ") {
			t.Errorf("/dev lacks %s: %s", dev, strings.Split(out, "\n")[3])
		}
	}
	// Network: shared by default, loopback only with NoNetwork.
	host, _ := os.ReadFile("/proc/net/dev")
	shared := runIn(t, s, id, RunOptions{Args: []string{"cat", "/proc/net/dev"}}, "")
	isolated := runIn(t, s, id, RunOptions{Args: []string{"cat", "/proc/net/dev"}, NoNetwork: true}, "")
	if ifaces(shared.out) != ifaces(string(host)) {
		t.Errorf("shared network shows %q, the host %q", ifaces(shared.out), ifaces(string(host)))
	}
	if ifaces(isolated.out) != "lo" {
		t.Errorf("--no-network shows interfaces %q, want only lo", ifaces(isolated.out))
	}
	// Exit status and stdin pass through; sh -c 'cat > F' copies a file in.
	if r := runIn(t, s, id, RunOptions{Args: []string{"sh", "-c", "exit 7"}}, ""); r.code != 7 {
		t.Errorf("exit status %d, want 7", r.code)
	}
	if r := runIn(t, s, id, RunOptions{Args: []string{"sh", "-c", "cat > /copied"}}, "data\x00\xff\n"); r.code != 0 {
		t.Errorf("cat > /copied: %d %s", r.code, r.err)
	}
	if got := sh(t, s, id, "cat /copied"); got != "data\x00\xff\n" {
		t.Errorf("copied file = %q", got)
	}
	// -d: used when it exists inside, an error naming it when not.
	if r := runIn(t, s, id, RunOptions{Args: []string{"pwd"}, Dir: "/tmp"}, ""); r.out != "/tmp\n" {
		t.Errorf("-d /tmp: pwd = %q (%s)", r.out, r.err)
	}
	r := runIn(t, s, id, RunOptions{Args: []string{"pwd"}, Dir: "/no/such/dir"}, "")
	var se *sandbox.StartError
	if !errors.As(r.startErr, &se) || se.Code != sandbox.ExitSetupFailed || !strings.Contains(se.Msg, "/no/such/dir") {
		t.Errorf("-d /no/such/dir: %v (code %d)", r.startErr, r.code)
	}
	// Environment: built for the user; --setenv wins.
	r = runIn(t, s, id, RunOptions{Args: []string{"env"}, Setenv: []string{"FOO=bar", "HOME=/elsewhere"}}, "")
	for _, want := range []string{"FOO=bar\n", "HOME=/elsewhere\n", "USER=root\n", "PATH=/usr/local/sbin:"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("env lacks %q:\n%s", want, r.out)
		}
	}
}

func ifaces(procNetDev string) string {
	var names []string
	for _, l := range strings.Split(procNetDev, "\n")[2:] {
		if n, _, ok := strings.Cut(strings.TrimSpace(l), ":"); ok {
			names = append(names, n)
		}
	}
	return strings.Join(names, " ")
}

// A user missing from the chroot is added to the session, never to the
// cache entry; a user the chroot has is used as it is.
func TestUserAddedToSession(t *testing.T) {
	s := testStore(t)
	addTarball(t, s, "users", busyboxTar(t))
	res := begin(t, s, "users")
	id := res.State.ID
	r := runIn(t, s, id, RunOptions{Args: []string{"sh", "-c", "id -u; id -un; echo $HOME; touch $HOME/mine && echo home-writable"}, User: "newbuilder"}, "")
	if r.code != 0 {
		t.Fatalf("run as newbuilder: %d %v %s", r.code, r.startErr, r.err)
	}
	lines := strings.Split(r.out, "\n")
	if len(lines) < 4 || lines[1] != "newbuilder" || lines[2] != "/home/newbuilder" || lines[3] != "home-writable" {
		t.Errorf("as newbuilder: %q", r.out)
	}
	if s.Mode() != IDSingle && lines[0] == "0" {
		t.Errorf("newbuilder runs as uid 0")
	}
	cached, _ := os.ReadFile(filepath.Join(res.State.Lower, "etc/passwd"))
	if strings.Contains(string(cached), "newbuilder") {
		t.Errorf("the user was added to the cache entry's passwd:\n%s", cached)
	}
	upper, _ := os.ReadFile(filepath.Join(res.State.Dir, "upper/etc/passwd"))
	if !strings.Contains(string(upper), "newbuilder:") {
		t.Errorf("the session's passwd lacks the user:\n%s", upper)
	}
	// The second time the user exists: no note, same uid.
	cmd, err := s.Prepare(id, RunOptions{Args: []string{"true"}, User: "newbuilder"})
	if err != nil {
		t.Fatal(err)
	}
	if len(cmd.Notes) != 0 {
		t.Errorf("user added twice: %v", cmd.Notes)
	}
	cmd.Close()
	// An existing user: its own uid (the single-id mode maps the caller
	// to it), no capabilities.
	r = runIn(t, s, id, RunOptions{Args: []string{"sh", "-c", "id -u; grep CapEff /proc/self/status"}, User: "builder"}, "")
	if !strings.HasPrefix(r.out, "1500\n") || !strings.Contains(r.out, "0000000000000000") {
		t.Errorf("as builder: %q %s", r.out, r.err)
	}
	// A new session does not have the user.
	id2 := begin(t, s, "users").State.ID
	if out := sh(t, s, id2, "grep -c newbuilder /etc/passwd || true"); out != "0\n" {
		t.Errorf("a new session has the added user: %q", out)
	}
}

// Two begins on a cold cache unpack once.
func TestConcurrentColdBegins(t *testing.T) {
	s := testStore(t)
	addTarball(t, s, "cold", busyboxTar(t))
	var wg sync.WaitGroup
	results := make([]*BeginResult, 4)
	errs := make([]error, 4)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = s.Begin("cold", BeginOptions{})
		}()
	}
	wg.Wait()
	unpacked := 0
	for i, r := range results {
		if errs[i] != nil {
			t.Fatalf("begin %d: %v", i, errs[i])
		}
		if r.Unpacked != nil {
			unpacked++
		}
		if r.State.Lower != results[0].State.Lower {
			t.Errorf("begins use different trees: %s %s", r.State.Lower, results[0].State.Lower)
		}
	}
	es, _ := s.Cache.Entries()
	if unpacked != 1 || len(es) != 1 {
		t.Errorf("%d begins unpacked, %d cache entries; want 1 and 1", unpacked, len(es))
	}
}

// A second command in a running session waits for the first, with a
// message; it never shares the overlay upper with it.
func TestCommandsSerialised(t *testing.T) {
	s := testStore(t)
	addTarball(t, s, "serial", busyboxTar(t))
	id := begin(t, s, "serial").State.ID
	first, err := s.Prepare(id, RunOptions{Args: []string{"sh", "-c", "sleep 1000"}})
	if err != nil {
		t.Fatal(err)
	}
	busy := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		c, err := s.Prepare(id, RunOptions{Args: []string{"true"}, Busy: func(h string) { busy <- h }})
		if c != nil {
			c.Close()
		}
		done <- err
	}()
	holder := <-busy
	if !strings.Contains(holder, "sleep 1000") || !strings.Contains(holder, strconv.Itoa(os.Getpid())) {
		t.Errorf("busy message names %q, want the running command and its nook pid", holder)
	}
	select {
	case err := <-done:
		t.Fatalf("the second command got the session while the first held it (err %v)", err)
	default:
	}
	first.Close()
	if err := <-done; err != nil {
		t.Errorf("second command after the first ended: %v", err)
	}
	// End waits the same way.
	again, _ := s.Prepare(id, RunOptions{Args: []string{"true"}})
	ended := make(chan error, 1)
	endBusy := make(chan struct{}, 1)
	go func() { ended <- s.End(id, func() { endBusy <- struct{}{} }) }()
	<-endBusy
	again.Close()
	if err := <-ended; err != nil {
		t.Errorf("end after the command: %v", err)
	}
}

// A killed unpack leaves nothing a later begin takes for complete, and the
// later begin clears what it left.
func TestKilledUnpack(t *testing.T) {
	if !phase.TestHooks {
		t.Skip("SKIPPED LOUDLY: built without -tags nooktest, so the unpack helper has no stall hook (test/all.sh builds with it)")
	}
	s := testStore(t)
	addTarball(t, s, "killed", busyboxTar(t))
	cmd := exec.Command("/proc/self/exe", "-test.run=^$")
	cmd.Env = append(os.Environ(), stallEnv+"=1", "NOOK_TEST_BEGIN_CHILD="+strings.Join([]string{s.Dirs.Config, s.Dirs.Cache, s.Dirs.State, s.Registry.SchrootConf}, "\x1f"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tmpDir := filepath.Join(s.Cache.Dir, "tmp")
	deadline := time.Now().Add(time.Minute)
	for {
		m, _ := filepath.Glob(filepath.Join(tmpDir, "*", "root", "bin"))
		if len(m) > 0 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("the stalled unpack never started")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if es, _ := s.Cache.Entries(); len(es) != 0 {
		t.Errorf("a killed unpack left a complete-looking entry: %v", es)
	}
	res := begin(t, s, "killed")
	if res.Unpacked == nil {
		t.Errorf("the begin after the killed one did not unpack")
	}
	if left, _ := os.ReadDir(tmpDir); len(left) != 0 {
		t.Errorf("the killed unpack's directory is still there: %v", left)
	}
	sh(t, s, res.State.ID, "test -x /bin/busybox")
}

// TestMain doubles as the process TestKilledUnpack kills: a begin whose
// unpack stalls half way.
func TestMain(m *testing.M) {
	if env := os.Getenv("NOOK_TEST_BEGIN_CHILD"); env != "" {
		p := strings.Split(env, "\x1f")
		s := OpenDirs(Dirs{Config: p[0], Cache: p[1], State: p[2]})
		s.Registry.SchrootConf = p[3]
		_, err := s.Begin("killed", BeginOptions{})
		fmt.Fprintf(os.Stderr, "the stalled begin returned: %v\n", err)
		os.Exit(3)
	}
	os.Exit(m.Run())
}

// A directory chroot is an overlay over the directory, never written.
func TestDirectoryChroot(t *testing.T) {
	s := testStore(t)
	dir := filepath.Join(t.TempDir(), "tree")
	os.MkdirAll(filepath.Join(dir, "bin"), 0o755)
	os.MkdirAll(filepath.Join(dir, "etc"), 0o755)
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "bin/busybox"), bb, 0o755)
	os.Symlink("busybox", filepath.Join(dir, "bin/sh"))
	os.Symlink("busybox", filepath.Join(dir, "bin/extra"))
	os.WriteFile(filepath.Join(dir, "etc/orig"), []byte("orig\n"), 0o644)
	if _, err := s.Registry.Add("tree", dir, nil, ""); err != nil {
		t.Fatal(err)
	}
	id := begin(t, s, "tree").State.ID
	sh(t, s, id, "echo changed > /etc/orig; echo new > /etc/new; /bin/busybox rm /bin/extra")
	if got := sh(t, s, id, "/bin/busybox cat /etc/orig /etc/new"); got != "changed\nnew\n" {
		t.Errorf("inside: %q", got)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "etc/orig")); string(b) != "orig\n" {
		t.Errorf("the directory underneath was written: %q", b)
	}
	if _, err := os.Lstat(filepath.Join(dir, "bin/extra")); err != nil {
		t.Errorf("a removal inside reached the directory underneath: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "etc/new")); err == nil {
		t.Errorf("a new file reached the directory underneath")
	}
}

// The built-in host chroot is a writable throwaway view of the host.
func TestHostChroot(t *testing.T) {
	s := testStore(t)
	id := begin(t, s, "host").State.ID
	// A user's host session overlays each top-level directory that has
	// no mount at or below it (see hostMounts); write into one of those.
	mounted, err := topLevelMounts()
	if err != nil {
		t.Fatal(err)
	}
	dir := ""
	for _, d := range []string{"tmp", "var", "opt", "srv", "mnt", "etc"} {
		if fi, err := os.Lstat("/" + d); err == nil && fi.IsDir() && !mounted[d] {
			dir = "/" + d
			break
		}
	}
	if dir == "" {
		t.Fatalf("every candidate top-level directory holds a mount: %v", mounted)
	}
	f := fmt.Sprintf("%s/nook-host-session-%d", dir, os.Getpid())
	out := sh(t, s, id, "echo inside > "+f+" && cat "+f+" && test -x /bin/sh && echo host-binaries")
	if out != "inside\nhost-binaries\n" {
		t.Errorf("host session: %q", out)
	}
	if _, err := os.Stat(f); err == nil {
		os.Remove(f)
		t.Errorf("a write in the host session reached the host's %s", dir)
	}
	if got := sh(t, s, id, "cat "+f); got != "inside\n" {
		t.Errorf("the write did not survive to the next command: %q", got)
	}
}

// One user never sees another's sessions or cache: everything is in
// directories only the owner can enter.
func TestStorePrivate(t *testing.T) {
	s := testStore(t)
	addTarball(t, s, "priv", busyboxTar(t))
	begin(t, s, "priv")
	for _, d := range []string{s.sessionsDir(), s.Cache.Dir, filepath.Join(s.Cache.Dir, "entries")} {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o700 {
			t.Errorf("%s has mode %v, want 0700", d, fi.Mode().Perm())
		}
	}
}

// Prune removes entries no session uses and keeps the others; a changed
// tarball gets a new entry and the old one goes once unused.
func TestCachePruneAndChangedTarball(t *testing.T) {
	s := testStore(t)
	p := addTarball(t, s, "chg", busyboxTar(t, ent{Name: "./v", Type: tar.TypeReg, Body: "1"}))
	r1 := begin(t, s, "chg")
	os.WriteFile(p, busyboxTar(t, ent{Name: "./v", Type: tar.TypeReg, Body: "2"}), 0o644)
	// Same size, same inode: only the time tells the new contents, and a
	// rewrite within one tick of the file system's clock keeps it (seen
	// under emulation in the VM stage). A user's tarball changes seconds
	// apart; this one is given a later time as such a change would have.
	later := time.Now().Add(2 * time.Second)
	if err := os.Chtimes(p, later, later); err != nil {
		t.Fatal(err)
	}
	r2 := begin(t, s, "chg")
	if r2.Unpacked == nil || r2.State.Entry == r1.State.Entry {
		t.Fatalf("a changed tarball did not get a new entry")
	}
	if got := sh(t, s, r1.State.ID, "cat /v") + sh(t, s, r2.State.ID, "cat /v"); got != "12" {
		t.Errorf("old and new session see %q, want 12", got)
	}
	if es, _ := s.Cache.Entries(); len(es) != 2 {
		t.Errorf("%d entries while both are used, want 2", len(es))
	}
	if err := s.End(r1.State.ID, nil); err != nil {
		t.Fatal(err)
	}
	es, _ := s.Cache.Entries()
	if len(es) != 1 || es[0].Name != r2.State.Entry {
		t.Errorf("after the old session ended the entries are %v, want only %s", es, r2.State.Entry)
	}
	res, err := s.Prune()
	if err != nil || len(res.Removed) != 0 || len(res.Kept) != 1 {
		t.Errorf("prune with the entry in use: %+v %v", res, err)
	}
	s.End(r2.State.ID, nil)
	// What a prune killed half way through removing this very entry
	// leaves (it once named its trash after the entry alone, and the next
	// removal of an entry of that name failed on it for good).
	debris := filepath.Join(s.Cache.Dir, "tmp", "gone-"+string(s.Mode())+"-"+r2.State.Entry)
	if err := os.MkdirAll(filepath.Join(debris, "root", "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	res, err = s.Prune()
	if err != nil || len(res.Removed) != 1 {
		t.Errorf("prune of the unused entry: %+v %v", res, err)
	}
	if es, _ := s.Cache.Entries(); len(es) != 0 {
		t.Errorf("entries left after prune: %v", es)
	}
	if left, _ := os.ReadDir(filepath.Join(s.Cache.Dir, "tmp")); len(left) != 0 {
		t.Errorf("left in the cache's tmp after prune: %v", left)
	}
}

// A copy session is a real tree on the host: what a command writes is
// there, and what the host writes there is seen by the next command.
func TestCopySession(t *testing.T) {
	s := testStore(t)
	addTarball(t, s, "cp", busyboxTar(t, ent{Name: "./owned", Type: tar.TypeReg, UID: 1234, GID: 1234, Body: "x"}))
	res, err := s.Begin("cp", BeginOptions{Copy: true})
	if err != nil {
		t.Fatal(err)
	}
	st := res.State
	if !st.Copy || st.Location() == "" || st.Entry != "" {
		t.Fatalf("state %+v is not a copy", st)
	}
	if es, _ := s.Cache.Entries(); len(es) != 0 {
		t.Errorf("a copy session made cache entries: %v", es)
	}
	sh(t, s, st.ID, "echo from-inside > /root/in")
	if b, err := os.ReadFile(filepath.Join(st.Location(), "root/in")); err != nil || string(b) != "from-inside\n" {
		t.Errorf("host view of /root/in: %q %v", b, err)
	}
	if err := os.WriteFile(filepath.Join(st.Location(), "tmp/from-host"), []byte("host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := sh(t, s, st.ID, "cat /tmp/from-host; stat -c %u /owned"); got != "host\n1234\n" && !(s.Mode() == IDSingle && got == "host\n0\n") {
		t.Errorf("inside: %q", got)
	}
	if r := runIn(t, s, st.ID, RunOptions{Args: []string{"id", "-un"}, User: "copier"}, ""); r.out != "copier\n" {
		t.Errorf("user added to a copy session: %q %v %s", r.out, r.startErr, r.err)
	}
	if err := s.End(st.ID, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(st.Dir); err == nil {
		t.Errorf("copy session still there after end")
	}
	// A directory chroot can be copied too, and the host root cannot.
	dir := filepath.Join(t.TempDir(), "tree")
	os.MkdirAll(filepath.Join(dir, "bin"), 0o755)
	bb, _ := os.ReadFile("/bin/busybox")
	os.WriteFile(filepath.Join(dir, "bin/busybox"), bb, 0o755)
	os.Symlink("busybox", filepath.Join(dir, "bin/sh"))
	s.Registry.AddChroot(Chroot{Name: "treecopy", Path: dir, Copy: true})
	res = begin(t, s, "treecopy")
	if !res.State.Copy {
		t.Errorf("a chroot that asks for copies got an overlay session")
	}
	sh(t, s, res.State.ID, "echo x > /bin/new")
	if _, err := os.Stat(filepath.Join(dir, "bin/new")); err == nil {
		t.Errorf("a write into a copy reached the chroot directory")
	}
	if _, err := s.Begin("host", BeginOptions{Copy: true}); err == nil {
		t.Errorf("a copy of the host root was begun")
	}
}

// What killed begins and ends leave (.new-* and .end-* directories whose
// lock nobody holds) is removed by the next begin, subordinate-id files
// included; a directory whose lock is held (a begin in progress) stays.
func TestLeftoversCollected(t *testing.T) {
	s := testStore(t)
	addTarball(t, s, "left", busyboxTar(t))
	res := begin(t, s, "left")
	// A killed end: the session renamed away, half deleted.
	sh(t, s, res.State.ID, "mkdir -p /var/deep && chown 1234:1234 /var/deep && touch /var/deep/f && chmod 000 /var/deep")
	dead := filepath.Join(s.sessionsDir(), ".end-"+res.State.ID+"-dead")
	if err := os.Rename(res.State.Dir, dead); err != nil {
		t.Fatal(err)
	}
	// A killed begin, and one still running (its lock held).
	killed := filepath.Join(s.sessionsDir(), ".new-killed")
	running := filepath.Join(s.sessionsDir(), ".new-running")
	for _, d := range []string{killed, running} {
		os.MkdirAll(filepath.Join(d, "upper"), 0o755)
		os.WriteFile(filepath.Join(d, "lock"), nil, 0o600)
	}
	l, err := lockFile(filepath.Join(running, "lock"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if list, _ := s.List(); len(list) != 0 {
		t.Errorf("leftovers are listed as sessions: %v", list)
	}
	begin(t, s, "left")
	for _, d := range []string{dead, killed} {
		if _, err := os.Lstat(d); err == nil {
			t.Errorf("%s was not collected", d)
		}
	}
	if _, err := os.Lstat(running); err != nil {
		t.Errorf("a begin in progress was collected: %v", err)
	}
	l.Unlock()
	os.RemoveAll(running)
}

// A hostile archive is refused by the real unpack (in the helper, under
// the session's mapping), and leaves nothing behind.
func TestHostileTarballRefused(t *testing.T) {
	s := testStore(t)
	outside := filepath.Join(filepath.Dir(s.Dirs.Config), "outside")
	os.Mkdir(outside, 0o755)
	addTarball(t, s, "hostile", busyboxTar(t, ent{Name: "../../outside/evil", Type: tar.TypeReg, Body: "x"}))
	_, err := s.Begin("hostile", BeginOptions{})
	if err == nil || !strings.Contains(err.Error(), "unsafe tar entry") {
		t.Fatalf("begin of a hostile tarball: %v", err)
	}
	if es, _ := s.Cache.Entries(); len(es) != 0 {
		t.Errorf("cache entries after a refused unpack: %v", es)
	}
	if left, _ := os.ReadDir(filepath.Join(s.Cache.Dir, "tmp")); len(left) != 0 {
		t.Errorf("the refused unpack left %v", left)
	}
	if left, _ := os.ReadDir(outside); len(left) != 0 {
		t.Errorf("the hostile entry landed outside: %v", left)
	}
	if list, _ := s.List(); len(list) != 0 {
		t.Errorf("a session was made: %v", list)
	}
}

// security.capability (ping's cap_net_raw, as mmdebstrap's tarballs carry
// it) survives the unpack under every mapping.
func TestFileCapabilityKept(t *testing.T) {
	s := testStore(t)
	// vfs_cap_data revision 2, effective, permitted = cap_net_raw (13).
	capV2 := string([]byte{0x01, 0, 0, 0x02, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	addTarball(t, s, "caps", busyboxTar(t, ent{Name: "./ping", Type: tar.TypeReg, Mode: 0o755, Body: "x",
		Xattrs: map[string]string{"security.capability": capV2}}))
	res := begin(t, s, "caps")
	if res.Unpacked.Stats.XattrFailed != 0 {
		t.Errorf("xattrs refused: %d (%s)", res.Unpacked.Stats.XattrFailed, res.Unpacked.Stats.XattrError)
	}
	buf := make([]byte, 64)
	n, err := unix.Getxattr(filepath.Join(res.State.Lower, "ping"), "security.capability", buf)
	if err != nil || n < 20 || buf[5] != 0x20 {
		t.Errorf("security.capability on the host: % x, %v (want cap_net_raw, revision 2 or 3)", buf[:max(n, 0)], err)
	}
}

// A command that turns /etc/resolv.conf into a symlink nothing inside
// resolves (systemd-resolved's stub), or /etc/hosts into a directory, does
// not break every later command of the session: the host's file is then
// not bound there, and the session's own entry stays as the command left
// it. Where the file is plain, the host's is bound.
func TestResolvConfReplacedInside(t *testing.T) {
	s := testStore(t)
	addTarball(t, s, "rc", busyboxTar(t))
	for _, cp := range []bool{false, true} {
		res, err := s.Begin("rc", BeginOptions{Copy: cp})
		if err != nil {
			t.Fatal(err)
		}
		id := res.State.ID
		host, err := os.ReadFile("/etc/hosts")
		if err != nil {
			t.Skipf("the host has no /etc/hosts: %v", err)
		}
		if got := sh(t, s, id, "cat /etc/hosts"); got != string(host) {
			t.Errorf("copy %v: /etc/hosts inside is %q, want the host's", cp, got)
		}
		offline := func(script string) {
			t.Helper()
			// Without network nothing is bound over the two.
			if r := runIn(t, s, id, RunOptions{Args: []string{"sh", "-c", script}, NoNetwork: true}, ""); r.code != 0 {
				t.Fatalf("%q: exit %d, %v, %s", script, r.code, r.startErr, r.err)
			}
		}
		offline("rm -f /etc/resolv.conf /etc/hosts; ln -s ../run/systemd/resolve/stub-resolv.conf /etc/resolv.conf; mkdir /etc/hosts")
		if got := sh(t, s, id, "readlink /etc/resolv.conf; test -d /etc/hosts && echo dir"); got != "../run/systemd/resolve/stub-resolv.conf\ndir\n" {
			t.Errorf("copy %v: after the change the command sees %q", cp, got)
		}
		offline("rm -r /etc/resolv.conf /etc/hosts; echo mine > /etc/hosts")
		if got := sh(t, s, id, "cat /etc/hosts"); got != string(host) {
			t.Errorf("copy %v: a plain /etc/hosts again: %q, want the host's bound", cp, got)
		}
		// A symlink to a file that is there is followed, as before.
		offline("mkdir -p /srv; mv /etc/hosts /srv/hosts.real; ln -s ../srv/hosts.real /etc/hosts")
		if got := sh(t, s, id, "cat /etc/hosts"); got != string(host) {
			t.Errorf("copy %v: /etc/hosts a symlink to a file: %q, want the host's bound", cp, got)
		}
		// /etc itself a symlink: no bind, and no failure.
		offline("cp -a /etc /etc2 && rm -rf /etc && ln -s etc2 /etc")
		if got := sh(t, s, id, "echo ran"); got != "ran\n" {
			t.Errorf("copy %v: with /etc a symlink: %q", cp, got)
		}
		if err := s.End(id, nil); err != nil {
			t.Fatal(err)
		}
	}
}

// A source session (Repack) gives back what it was given: the device
// nodes its unpack skipped go back into the tarball it replaces (but for
// a name a command took), with the tarball's mode; what commands wrote is
// there; nothing is left beside the tarball.
func TestRepackKeepsDeviceNodes(t *testing.T) {
	s := testStore(t)
	p := addTarball(t, s, "src", busyboxTar(t,
		ent{Name: "./dev/null", Type: tar.TypeChar, Mode: 0o666},
		ent{Name: "./srv/taken", Type: tar.TypeChar, Mode: 0o600}))
	if err := os.Chmod(p, 0o640); err != nil {
		t.Fatal(err)
	}
	res, err := s.Begin("src", BeginOptions{Repack: true})
	if err != nil {
		t.Fatal(err)
	}
	if s.Mode() == IDSingle && !slices.Contains(res.Warnings, SingleIDRepackWarning) {
		t.Errorf("no warning that owners are lost: %q", res.Warnings)
	}
	sh(t, s, res.State.ID, "echo new > /root/mark; mkdir -p /srv; echo file > /srv/taken")
	if err := s.End(res.State.ID, nil); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if fi, _ := f.Stat(); fi.Mode().Perm() != 0o640 {
		t.Errorf("the new tarball has mode %v, want 0640", fi.Mode().Perm())
	}
	got := map[string]string{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read the new tarball: %v", err)
		}
		switch h.Name {
		case "./dev/null":
			got[h.Name] = fmt.Sprintf("%c %d,%d %o", h.Typeflag, h.Devmajor, h.Devminor, h.Mode)
		case "./srv/taken", "./root/mark":
			b, _ := io.ReadAll(tr)
			got[h.Name] = fmt.Sprintf("%c %s", h.Typeflag, b)
		}
	}
	want := map[string]string{"./dev/null": "3 1,3 666", "./srv/taken": "0 file\n", "./root/mark": "0 new\n"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("in the new tarball: %q, want %q", got, want)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(p), ".*")); len(left) != 0 {
		t.Errorf("left beside the tarball: %v", left)
	}
}

// Two ends of one session that wait for the same command: one ends it,
// the other says there is no such session (not a raw rename error).
func TestConcurrentEnds(t *testing.T) {
	s := testStore(t)
	addTarball(t, s, "ce", busyboxTar(t))
	id := begin(t, s, "ce").State.ID
	cmd, err := s.Prepare(id, RunOptions{Args: []string{"true"}})
	if err != nil {
		t.Fatal(err)
	}
	var waiting sync.WaitGroup
	waiting.Add(2)
	errs := make(chan error, 2)
	for range 2 {
		go func() { errs <- s.End(id, waiting.Done) }()
	}
	waiting.Wait()
	cmd.Close()
	e1, e2 := <-errs, <-errs
	if (e1 == nil) == (e2 == nil) {
		t.Fatalf("ends: %v and %v, want one success", e1, e2)
	}
	if e := errors.Join(e1, e2); !errors.Is(e, ErrNoSession) {
		t.Errorf("the second end: %v, want ErrNoSession", e)
	}
}

// A lock taken after waiting guards nothing once its file was renamed
// away and the name taken by a new file (a new session of the same name).
func TestLockNames(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "lock")
	l, err := lockFile(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	if !l.names(p) {
		t.Fatalf("a fresh lock does not name its own file")
	}
	os.Rename(p, p+".old")
	if l.names(p) {
		t.Errorf("the lock names a path that is gone")
	}
	os.WriteFile(p, nil, 0o600)
	if l.names(p) {
		t.Errorf("the lock names a new file of the same name")
	}
}

// A source session of a tarball whose cache entry recorded no device
// nodes (an older nook unpacked it) says at begin that they will be lost.
func TestRepackWarnsOfUnrecordedDevices(t *testing.T) {
	s := testStore(t)
	addTarball(t, s, "old", busyboxTar(t, ent{Name: "./dev/null", Type: tar.TypeChar, Mode: 0o666}))
	res := begin(t, s, "old")
	os.Remove(filepath.Join(filepath.Dir(res.State.Lower), DevicesFile))
	src, err := s.Begin("old", BeginOptions{Repack: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(src.Warnings, "\n"), "records none of its") {
		t.Errorf("no warning of the lost device node: %q", src.Warnings)
	}
	s.Discard(src.State.ID, nil)
	s.End(res.State.ID, nil)
}

// TestBuildUserReopensStdio: a build user (a subordinate id, or root's
// range) writes to /dev/stderr and /dev/stdout and reads /dev/stdin given
// as the caller's own files, mode 0600, as package builds and test suites
// do (issue 18; appending: a reopen with O_TRUNC of a regular file would
// truncate it, as anywhere). Failed before the relay with "Permission
// denied" as root and with subordinate ids.
func TestBuildUserReopensStdio(t *testing.T) {
	s := testStore(t)
	addTarball(t, s, "users", busyboxTar(t))
	id := begin(t, s, "users").State.ID
	for _, user := range []string{"builder", "root"} {
		r := runIn(t, s, id, RunOptions{Args: []string{"sh", "-c", "cat /dev/stdin; echo err >>/dev/stderr; echo out >>/proc/self/fd/1"}, User: user}, "in\n")
		if r.code != 0 || r.out != "in\nout\n" || r.err != "err\n" {
			t.Errorf("as %s: status %d %v, stdout %q, stderr %q", user, r.code, r.startErr, r.out, r.err)
		}
	}
}
