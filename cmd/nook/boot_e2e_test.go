package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nook-project/nook/session"
)

// nook session begin --boot and end from the command line: the chroot's
// systemd reaches multi-user.target (its console is kept in the session
// directory), a command run into it through its agent sees it running,
// end leaves no session, no cgroup and no supervisor. A user
// without subordinate ids is told what to add to /etc/subuid.
func TestBootSessionCLI(t *testing.T) {
	const tarball = "/var/cache/nook-ci/bookworm-systemd.tar"
	e := newSessionEnv(t)
	if session.DetectIDMode() == session.IDSingle {
		e.busyboxChroot("bb")
		_, errOut, code := e.nook("session", "begin", "--boot", "bb")
		if code != 1 || !strings.Contains(errOut, "/etc/subuid") || !strings.Contains(errOut, "65536") {
			t.Fatalf("begin --boot without subordinate ids: exit %d, %q; want 1 and what to add to /etc/subuid", code, errOut)
		}
		if out := e.must("session", "list", "-q"); strings.TrimSpace(out) != "" {
			t.Errorf("a failed begin --boot left sessions: %s", out)
		}
		return
	}
	if os.Geteuid() == 0 {
		// Real root is refused (its container's root would be the host's).
		e.busyboxChroot("bb")
		_, errOut, code := e.nook("session", "begin", "--boot", "bb")
		if code != 1 || !strings.Contains(errOut, "no container as real root") {
			t.Fatalf("begin --boot as real root: exit %d, %q; want 1 and the refusal", code, errOut)
		}
		if out := e.must("session", "list", "-q"); strings.TrimSpace(out) != "" {
			t.Errorf("a refused begin --boot left sessions: %s", out)
		}
		return
	}
	deleg, err := session.DelegatedCgroup()
	if err != nil {
		t.Skipf("SKIP: no delegated cgroup v2 here (CI's test/lib/runtests.sh starts the tests in one): %v", err)
	}
	if _, err := os.Stat(tarball); err != nil {
		t.Fatalf("%v: run test/setup-host.sh as root, which makes it with mmdebstrap", err)
	}
	e.must("chroot", "add", "sd", tarball)
	id := strings.TrimSpace(e.must("session", "begin", "--boot", "sd"))
	var info struct {
		Boot bool   `json:"boot"`
		Dir  string `json:"directory"`
	}
	if err := json.Unmarshal([]byte(e.must("session", "info", id, "--json")), &info); err != nil {
		t.Fatal(err)
	}
	if !info.Boot {
		t.Errorf("session info does not say the session is booted")
	}
	console, err := os.ReadFile(filepath.Join(info.Dir, "console.log"))
	if err != nil || !strings.Contains(string(console), "multi-user.target") {
		t.Errorf("the console log does not show multi-user.target reached (%v):\n%s", err, console)
	}
	if out := e.must("session", "info", id); !strings.Contains(out, "yes, running") {
		t.Errorf("session info does not say the container runs:\n%s", out)
	}
	var rec struct {
		Supervisor int `json:"supervisor"`
	}
	b, _ := os.ReadFile(filepath.Join(info.Dir, "boot.json"))
	json.Unmarshal(b, &rec)
	if out, errOut, code := e.nook("session", "run", id, "--", "sh", "-c", "systemctl is-system-running --wait; exit 7"); code != 7 || out != "running\n" {
		t.Errorf("run in a booted session: exit %d, %q (stderr %q); want 7 and running", code, out, errOut)
	}
	e.must("session", "end", id)
	if _, err := os.Stat(filepath.Join(deleg, "nook-session-"+id)); !os.IsNotExist(err) {
		t.Errorf("the session's cgroup is left after end (%v)", err)
	}
	if rec.Supervisor == 0 {
		t.Fatalf("no supervisor in boot.json: %s", b)
	}
	if st, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(rec.Supervisor), "stat")); err == nil && !strings.Contains(string(st), ") Z") {
		t.Errorf("the supervisor %d still runs after end: %s", rec.Supervisor, st)
	}
}
