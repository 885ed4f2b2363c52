package sandbox

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/nook-project/nook/sandbox/idmap"
	"golang.org/x/sys/unix"
)

// TestHeldUserNS: sandboxes entering a held user namespace run in it, with
// its maps and every other namespace new; the holder is reused while alive,
// replaced when gone or when its maps differ, and exits when idle.
func TestHeldUserNS(t *testing.T) {
	for _, mode := range []string{"root", "subids-root"} {
		t.Run(mode, func(t *testing.T) {
			if mode == "subids-root" {
				subIDs(t)
			}
			ident := Identity{Mode: mode, UserNS: UserNSAlways}
			h := &UserNSHolder{File: filepath.Join(t.TempDir(), "userns"), Idle: scaled(2 * time.Second)}
			defer h.Stop()
			fd, started, err := h.Enter(ident)
			if err != nil {
				t.Fatal(err)
			}
			if !started {
				t.Fatalf("no holder was recorded, yet Enter did not start one")
			}
			rec, err := readHolderFile(h.File)
			if err != nil {
				t.Fatal(err)
			}
			pid := rec.pid
			held, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/user")
			if err != nil {
				t.Fatal(err)
			}

			// A sandbox made the usual way, for its maps.
			s := baseSpec()
			s.Identity = ident
			fresh, _ := runReport(t, s, reportOpts{})

			s = baseSpec()
			s.Identity = ident
			s.EnterUserNS = &fd
			r, _ := runReport(t, s, reportOpts{do: []string{"chown:/tmp", "mount-tmpfs:/tmp/m"}, stat: []string{"/tmp"}})
			// The command runs in a user namespace nested in the sandbox's
			// (lock.go); pid 1 stays in the sandbox's own, which is the
			// held one. Only the raw engine enters; the Go init (forced by
			// the CI runs with NOOK_ENGINE=init) makes a namespace with the
			// same maps, as checked below.
			// Without a pid namespace the command is the process started,
			// readable from here once it runs.
			p, release := startWaiting(t, &Spec{Identity: ident, EnterUserNS: &fd})
			unix.Close(fd)
			outer, err := parentUserNS(p.Pid)
			release()
			if err != nil {
				t.Fatal(err)
			}
			if goInit := os.Getenv("NOOK_ENGINE") == "init"; (outer == heldIno(t, pid)) == goInit {
				t.Errorf("the parent of the command's user namespace is inode %d, the held one %s (Go init forced: %v)", outer, held, goInit)
			}
			if r.NS["user"] == held {
				t.Errorf("the command runs in the held user namespace %s itself, not a nested one", r.NS["user"])
			}
			for _, n := range []string{"mnt", "pid"} {
				if r.NS[n] == hostNS(t, n) {
					t.Errorf("the %s namespace of a sandbox in a held user namespace is the host's", n)
				}
			}
			if normMap(r.UIDMap) != normMap(fresh.UIDMap) || normMap(r.GIDMap) != normMap(fresh.GIDMap) {
				t.Errorf("maps in the held namespace %q %q, in a new one %q %q", r.UIDMap, r.GIDMap, fresh.UIDMap, fresh.GIDMap)
			}
			if r.UID != fresh.UID || r.GID != fresh.GID {
				t.Errorf("ids %d:%d in the held namespace, %d:%d in a new one", r.UID, r.GID, fresh.UID, fresh.GID)
			}
			if r.Do["mount-tmpfs:/tmp/m"] != "ok" {
				t.Errorf("mount inside a sandbox in the held namespace: %s", r.Do["mount-tmpfs:/tmp/m"])
			}
			if mode == "subids-root" && (r.Do["chown:/tmp"] != "ok" || r.Files["/tmp"].UID != 12345) {
				t.Errorf("chown in the held namespace: %s, owner %+v", r.Do["chown:/tmp"], r.Files["/tmp"])
			}

			// Reused while alive.
			fd2, started, err := h.Enter(ident)
			if err != nil {
				t.Fatal(err)
			}
			unix.Close(fd2)
			if rec2, _ := readHolderFile(h.File); started || rec2.pid != pid {
				t.Errorf("second Enter: started %v, holder %d (first %d)", started, rec2.pid, pid)
			}

			// The Go init makes its own namespace with the same maps.
			fd3, _, err := h.Enter(ident)
			if err != nil {
				t.Fatal(err)
			}
			t.Setenv("NOOK_ENGINE", "init")
			s = baseSpec()
			s.Identity = ident
			s.EnterUserNS = &fd3
			ri, _ := runReport(t, s, reportOpts{})
			unix.Close(fd3)
			os.Unsetenv("NOOK_ENGINE")
			if ri.NS["user"] == held || normMap(ri.UIDMap) != normMap(fresh.UIDMap) {
				t.Errorf("Go init: user namespace %s (held %s), uid map %q", ri.NS["user"], held, ri.UIDMap)
			}

			// Idle: the holder exits by itself; the next Enter starts one.
			waitGone(t, pid, scaled(15*time.Second))
			fd4, started, err := h.Enter(ident)
			if err != nil {
				t.Fatal(err)
			}
			unix.Close(fd4)
			rec4, _ := readHolderFile(h.File)
			pid4 := rec4.pid
			if !started || pid4 == pid {
				t.Errorf("after the holder went idle: started %v, holder %d (old %d)", started, pid4, pid)
			}
			if err := h.Stop(); err != nil {
				t.Fatal(err)
			}
			waitGone(t, pid4, 5*time.Second)
			if _, err := os.Stat(h.File); !os.IsNotExist(err) {
				t.Errorf("Stop left the record: %v", err)
			}
		})
	}
}

// TestHeldUserNSRefusesImpostors: a record naming a process that is not a
// holder with the right maps is never entered; a new holder replaces it.
func TestHeldUserNSRefusesImpostors(t *testing.T) {
	dir := t.TempDir()
	h := &UserNSHolder{File: filepath.Join(dir, "userns"), Idle: time.Minute}
	defer h.Stop()
	self := os.Getpid()
	start, err := procStartTime(self)
	if err != nil {
		t.Fatal(err)
	}
	mine, _ := os.Readlink("/proc/self/ns/user")
	token, err := holderToken()
	if err != nil {
		t.Fatal(err)
	}
	// This process (its namespace is no child of its own), a stale start
	// time, garbage, a record without a token (an older nook's).
	for _, rec := range []string{
		strconv.Itoa(self) + " " + strconv.FormatUint(start, 10) + " " + token,
		strconv.Itoa(self) + " 1 " + token,
		"1 0 " + token,
		"not a record",
		strconv.Itoa(self) + " " + strconv.FormatUint(start, 10),
	} {
		if err := os.WriteFile(h.File, []byte(rec+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		fd, started, err := h.Enter(Identity{Mode: "root", UserNS: UserNSAlways})
		if err != nil {
			t.Fatalf("record %q: %v", rec, err)
		}
		got, _ := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
		unix.Close(fd)
		if !started || got == mine {
			t.Errorf("record %q: started %v, namespace %s (this process's %s)", rec, started, got, mine)
		}
		h.Stop()
	}
	// A process in a namespace with the right maps that has exited but is
	// not reaped (a zombie keeps its namespace and maps readable) is gone.
	id, err := resolveIdentity(&Spec{Identity: Identity{Mode: "root", UserNS: UserNSAlways}})
	if err != nil {
		t.Fatal(err)
	}
	if id.helper {
		t.Fatalf("mode root needs the newuidmap helper here; this test writes its maps itself")
	}
	z := exec.Command("/bin/true")
	z.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER,
		UidMappings: id.uidMap, GidMappings: id.gidMap}
	if err := z.Start(); err != nil {
		t.Fatal(err)
	}
	zstart, state, err := procStat(z.Process.Pid)
	for ; err == nil && state != 'Z'; zstart, state, err = procStat(z.Process.Pid) {
		time.Sleep(5 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(h.File, []byte(strconv.Itoa(z.Process.Pid)+" "+strconv.FormatUint(zstart, 10)+" "+token+"\n"), 0o600)
	fd, started, err := h.Enter(Identity{Mode: "root", UserNS: UserNSAlways})
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
	if !started {
		t.Errorf("the namespace of an exited, unreaped process was entered")
	}
	z.Wait()
	h.Stop()

	// A live process in a namespace with other maps is not entered: a
	// held namespace maps the identity's host ids onto themselves
	// (lock.go), and this one maps the caller to another id.
	uid := 1000
	if os.Getuid() == uid {
		uid = 1001 // (the first user of a Debian image, as in the VM stage)
	}
	ident := Identity{Mode: "self", UserNS: UserNSAlways, UID: &uid}
	other, err := resolveIdentity(&Spec{Identity: ident})
	if err != nil {
		t.Fatal(err)
	}
	if normMap(idmap.Format(other.uidMap)) == normMap(idmap.Format(identityMaps(other.uidMap))) {
		t.Fatalf("the caller is uid %d: no map that differs from the held one", uid)
	}
	live := exec.Command("/bin/sleep", "30")
	live.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER,
		UidMappings: other.uidMap, GidMappings: other.gidMap}
	if err := live.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { live.Process.Kill(); live.Wait() }()
	lstart, _, err := procStat(live.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(h.File, []byte(strconv.Itoa(live.Process.Pid)+" "+strconv.FormatUint(lstart, 10)+" "+token+"\n"), 0o600)
	fd, started, err = h.Enter(ident)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
	if rec2, _ := readHolderFile(h.File); !started || rec2.pid == live.Process.Pid {
		t.Errorf("a namespace with the caller mapped to 1000 was entered as a held one: started %v", started)
	}
	h.Stop()
}

// parentUserNS is the inode of the parent of pid's user namespace.
func parentUserNS(pid int) (uint64, error) {
	fd, err := unix.Open("/proc/"+strconv.Itoa(pid)+"/ns/user", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	parent, err := unix.IoctlRetInt(fd, nsGetParent)
	if err != nil {
		return 0, fmt.Errorf("NS_GET_PARENT: %w", err)
	}
	defer unix.Close(parent)
	var st unix.Stat_t
	err = unix.Fstat(parent, &st)
	return st.Ino, err
}

func heldIno(t *testing.T, pid int) uint64 {
	var st unix.Stat_t
	if err := unix.Stat("/proc/"+strconv.Itoa(pid)+"/ns/user", &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

func waitGone(t *testing.T, pid int, limit time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(limit); ; time.Sleep(50 * time.Millisecond) {
		if _, state, err := procStat(pid); err != nil || state == 'Z' {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("holder %d still alive after %v", pid, limit)
		}
	}
}
