package session

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A booted session reboots: asked by nook (Store.Reboot) and by the
// container itself (`systemctl reboot` inside, as a test's reboot
// does). Each time systemd boots again on the same tree: a file written
// before is there, /run is new, systemd is another process, commands
// reach it again; and the end leaves nothing.
func TestBootReboot(t *testing.T) {
	s := testStore(t)
	addSystemdChroot(t, s)
	res, err := s.Begin("sd", BeginOptions{Boot: true})
	if err != nil {
		t.Fatalf("begin --boot: %v", err)
	}
	id := res.State.ID
	state := func() (pid1 string, files string) {
		t.Helper()
		out, errOut, code := runBooted(t, s, id, RunOptions{Args: []string{"sh", "-c", "systemctl is-system-running --wait >/dev/null; cut -d\" \" -f22 /proc/1/stat; cat /var/tmp/kept /run/gone 2>&1"}}, "", nil)
		if code != 0 && code != 1 {
			t.Fatalf("state: %d %q %q", code, out, errOut)
		}
		p, rest, _ := strings.Cut(out, "\n")
		return p, rest
	}
	if _, _, code := runBooted(t, s, id, RunOptions{Args: []string{"sh", "-c", "echo kept > /var/tmp/kept; echo gone > /run/gone"}}, "", nil); code != 0 {
		t.Fatalf("write the marks: %d", code)
	}
	first, files := state()
	if files != "kept\ngone\n" {
		t.Fatalf("marks before the reboot: %q", files)
	}
	n, err := s.Reboots(id)
	if err != nil || n != 0 {
		t.Fatalf("Reboots before any: %d, %v", n, err)
	}

	start := time.Now()
	if err := s.Reboot(id); err != nil {
		t.Fatalf("Reboot: %v", err)
	}
	t.Logf("reboot asked by nook: %v", time.Since(start))
	second, files := state()
	if second == first || !strings.HasPrefix(files, "kept\n") || !strings.Contains(files, "/run/gone: No such file") {
		t.Errorf("after the reboot: systemd started at %s (before: %s), files %q; want another systemd, /var/tmp/kept kept and /run/gone gone", second, first, files)
	}

	// The container's own reboot; the command that asks for it goes
	// with the container.
	n, _ = s.Reboots(id)
	runBooted(t, s, id, RunOptions{Args: []string{"systemctl", "reboot"}}, "", nil)
	start = time.Now()
	if err := s.WaitReboot(id, n, 3*time.Minute); err != nil {
		t.Fatalf("WaitReboot after systemctl reboot inside: %v", err)
	}
	t.Logf("reboot from inside: %v", time.Since(start))
	third, files := state()
	if third == second || !strings.HasPrefix(files, "kept\n") {
		t.Errorf("after the reboot from inside: systemd started at %s (before: %s), files %q", third, second, files)
	}
	if n, _ := s.Reboots(id); n != 2 {
		t.Errorf("Reboots = %d, want 2", n)
	}

	// A power-off from inside still ends the container (no reboot).
	runBooted(t, s, id, RunOptions{Args: []string{"systemctl", "poweroff"}}, "", nil)
	st, _ := s.Get(id)
	for deadline := time.Now().Add(2 * time.Minute); st.BootRunning() && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	if st.BootRunning() {
		t.Errorf("the container still runs 2 minutes after systemctl poweroff inside")
	}
	if err := s.End(id, nil); err != nil {
		t.Fatalf("end: %v", err)
	}
	if out, _ := exec.Command("pgrep", "-f", filepath.Base(st.Dir)).Output(); len(out) > 0 {
		t.Errorf("processes left: %s", out)
	}
}

// addSystemdChroot defines the chroot "sd" on CI's systemd tarball in s,
// skipping where this host boots no container.
func addSystemdChroot(t *testing.T, s *Store) {
	t.Helper()
	needBootHost(t, s)
	if _, err := os.Stat(systemdTarball); err != nil {
		t.Fatalf("%v: run test/setup-host.sh as root, which makes it with mmdebstrap", err)
	}
	if _, err := s.Registry.Add("sd", systemdTarball, nil, ""); err != nil {
		t.Fatal(err)
	}
}
