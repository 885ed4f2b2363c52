package attack

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Issue 16, points 4 and 5: a session's held user namespace (subordinate
// ids only: the one thing a session keeps between commands) must not be
// poisonable by a command, nor swappable for another session's by editing
// the store.

// heldSession begins a session on a minimal chroot, runs one command so
// that its user namespace is held, and returns the session id and its
// holder record path. Root's sessions and single-id ones hold no
// namespace: the test is skipped then, loudly, unless CI expects
// subordinate ids.
func heldSession(t *testing.T, s *store, name string) (string, string) {
	t.Helper()
	if isRoot() {
		t.Skip("SKIP (real root): root's sessions use the host's ids and hold no user namespace")
	}
	id, r := hostileChroot(t, s, name, nil, false)
	if id == "" {
		t.Fatalf("session begin: %s", r)
	}
	s.must("session", "run", id, "--", "/bin/sh", "-c", ":")
	rec := filepath.Join(s.base, "state/nook/sessions", id, "userns")
	if _, err := os.Stat(rec); err != nil {
		if os.Getenv("NOOK_TEST_EXPECT_SUBIDS") == "1" {
			t.Fatalf("a session with subordinate ids holds no user namespace: %v", err)
		}
		t.Skip("SKIP (no subordinate ids): single-id sessions hold no user namespace")
	}
	return id, rec
}

// recordedHolder is the pid a holder record names.
func recordedHolder(t *testing.T, rec string) string {
	t.Helper()
	b, err := os.ReadFile(rec)
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		t.Fatalf("holder record %q", b)
	}
	return f[0]
}

// liveHolder: pid is a live user namespace holder.
func liveHolder(pid string) bool {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 || i+2 >= len(b) || b[i+2] == 'Z' {
		return false
	}
	cmd, _ := os.ReadFile("/proc/" + pid + "/cmdline")
	return strings.HasPrefix(string(cmd), "nook-userns-holder\x00")
}

// TestHeldUserNSPoisoned: a command lowers every user.max_* limit it can
// write to 0 (the sysctls belong to the user namespace the writer is in,
// and a session command is root there). Every later command of the
// session must still run, and no holder whose namespace refuses them may
// be kept alive.
func TestHeldUserNSPoisoned(t *testing.T) {
	base := tempDir(t)
	s := newStore(t, base)
	id, rec := heldSession(t, s, "plain")
	before := recordedHolder(t, rec)
	r := s.nook("session", "run", id, "--", "/bin/sh", "-c",
		`for f in /proc/sys/user/max_*; do echo 0 > $f 2>/dev/null && echo "lowered $f"; done; true`)
	if r.code != 0 {
		t.Fatalf("the poisoning command: %s", r)
	}
	if !strings.Contains(r.out, "lowered") {
		t.Logf("no limit could be lowered from inside (%s): the namespace the commands share is out of its reach", r)
	} else {
		t.Logf("the command lowered: %s", strings.ReplaceAll(strings.TrimSpace(r.out), "\n", ", "))
	}
	for i := 0; i < 3; i++ {
		r := s.nook("session", "run", id, "--", "/bin/echo", "still-runs")
		if r.code != 0 || r.out != "still-runs\n" {
			t.Errorf("command %d after the poisoning: %s", i+1, r)
		}
	}
	// Either the writes never reached the held namespace (the holder is
	// the same), or the refusing holder was replaced and is gone.
	after := recordedHolder(t, rec)
	if after != before {
		for deadline := time.Now().Add(5 * time.Second); liveHolder(before) && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
		}
		if liveHolder(before) {
			t.Errorf("the replaced holder %s is still alive", before)
		}
	}
	// The session ends cleanly, its holder with it.
	s.must("session", "end", id)
	for deadline := time.Now().Add(5 * time.Second); liveHolder(after) && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	if liveHolder(after) {
		t.Errorf("the holder %s outlived session end", after)
	}
}

// TestHeldUserNSOfAnotherSession: session B's holder record is rewritten to
// name session A's holder (same user, same maps: it passed every check
// before). B's next command must not run in A's held namespace (it would
// share whatever a command of A left there), and ending B must not end A's
// holder.
func TestHeldUserNSOfAnotherSession(t *testing.T) {
	base := tempDir(t)
	s := newStore(t, base)
	a, recA := heldSession(t, s, "plain")
	b := strings.TrimSpace(s.must("session", "begin", "plain"))
	s.must("session", "run", b, "--", "/bin/sh", "-c", ":")
	recB := filepath.Join(base, "state/nook/sessions", b, "userns")
	holderA := recordedHolder(t, recA)
	nsA, err := os.Readlink("/proc/" + holderA + "/ns/user")
	if err != nil {
		t.Fatal(err)
	}
	content, err := os.ReadFile(recA)
	must(t, err)
	must(t, os.WriteFile(recB, content, 0o600))

	marker := "/gone-" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	cmd := exec.Command(nookBin, "session", "run", b, "--", "/attack", "-attack-helper", "watch", marker)
	cmd.Dir, cmd.Env = "/", s.env
	in, err := cmd.StdinPipe()
	must(t, err)
	outp, err := cmd.StdoutPipe()
	must(t, err)
	must(t, cmd.Start())
	func() {
		// The command waits for its stdin to end, and the store's
		// clean-up for the command: end it whatever happens here.
		defer cmd.Wait()
		defer in.Close()
		if l, _ := bufio.NewReader(outp).ReadString('\n'); l != "ready\n" {
			t.Fatalf("B's command said %q", l)
		}
		pid := processWithArg(marker)
		if pid == "" {
			t.Fatalf("B's command is not visible from the host")
		}
		chain, err := userNSChain(pid)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(chain, nsA) {
			t.Errorf("B's command runs in session A's held user namespace %s (its chain: %s)", nsA, chain)
		}
	}()

	// Ending B, with its record naming A's holder again, leaves A's.
	must(t, os.WriteFile(recB, content, 0o600))
	s.must("session", "end", b)
	time.Sleep(200 * time.Millisecond)
	if !liveHolder(holderA) {
		t.Errorf("ending session B killed session A's holder %s, which B's rewritten record named", holderA)
	}
	if r := s.nook("session", "run", a, "--", "/bin/echo", "a-runs"); r.code != 0 || r.out != "a-runs\n" {
		t.Errorf("session A after B's end: %s", r)
	}
}

// processWithArg finds the host pid of the attack helper (argv[0]
// /attack, not the nook that started it) with arg in its argv.
func processWithArg(arg string) string {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			if _, err := strconv.Atoi(e.Name()); err != nil {
				continue
			}
			b, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
			argv := strings.Split(string(b), "\x00")
			if argv[0] == "/attack" && slices.Contains(argv, arg) {
				return e.Name()
			}
		}
	}
	return ""
}

// userNSChain lists the user namespaces from pid's up to (not including)
// this process's own, through NS_GET_PARENT.
func userNSChain(pid string) (string, error) {
	own, err := os.Readlink("/proc/self/ns/user")
	if err != nil {
		return "", err
	}
	fd, err := unix.Open("/proc/"+pid+"/ns/user", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", fmt.Errorf("open the command's user namespace: %w", err)
	}
	var chain []string
	for i := 0; i < 33; i++ {
		name, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
		if err != nil || name == own {
			break
		}
		chain = append(chain, name)
		parent, err := unix.IoctlRetInt(fd, 0xb702) // NS_GET_PARENT
		unix.Close(fd)
		if err != nil {
			return strings.Join(chain, " <- "), nil
		}
		fd = parent
	}
	unix.Close(fd)
	return strings.Join(chain, " <- "), nil
}
