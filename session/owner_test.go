package session

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
)

// ownerOf describes a live process of this pid namespace as an owner.
func ownerOf(t *testing.T, pid int) *Owner {
	t.Helper()
	self, err := SelfOwner()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	start, err := statStart(b)
	if err != nil {
		t.Fatal(err)
	}
	return &Owner{PID: pid, Start: start, BootID: self.BootID, PidNS: self.PidNS}
}

func TestStatStart(t *testing.T) {
	// A command name with spaces and parentheses: the fields count from
	// the last ')'.
	line := "4242 (a) b (c)) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 50\n"
	got, err := statStart([]byte(line))
	if err != nil || got != 987654 {
		t.Fatalf("statStart = %d, %v; want 987654", got, err)
	}
	if _, err := statStart([]byte("4242 (short) S 1 2")); err == nil {
		t.Fatal("statStart of a short line: no error")
	}
}

func TestOwnerGone(t *testing.T) {
	self, err := SelfOwner()
	if err != nil {
		t.Fatal(err)
	}
	if self.Gone() {
		t.Fatalf("the test process itself counts as gone: %+v", self)
	}
	// The process holding the pid started after the owner: the pid was
	// reused.
	reused := *self
	reused.Start--
	if !reused.Gone() {
		t.Errorf("a live pid whose process started after the owner (the pid reused) counts as the owner: %+v", reused)
	}
	// One that started before it cannot be a reuse: not sure, kept.
	odd := *self
	odd.Start++
	if odd.Gone() {
		t.Errorf("a live pid whose process started before the owner counts as gone: %+v", odd)
	}
	// Another time namespace shifts start times: not sure, kept.
	shifted := *self
	shifted.Start--
	shifted.TimeNS = "time:[1]"
	if shifted.Gone() {
		t.Errorf("an owner in another time namespace counts as gone: %+v", shifted)
	}
	rebooted := *self
	rebooted.BootID = "00000000-0000-0000-0000-000000000000"
	if !rebooted.Gone() {
		t.Errorf("an owner of another boot counts as alive: %+v", rebooted)
	}
	// Another pid namespace's pid says nothing here: kept.
	elsewhere := *self
	elsewhere.PidNS = "pid:[1]"
	elsewhere.PID = 1 << 22
	if elsewhere.Gone() {
		t.Errorf("an owner in another pid namespace counts as gone: %+v", elsewhere)
	}
}

// A session whose owner was killed is ended by the next sweep; one whose
// owner lives, and one without an owner, are kept. This is what lets
// autopkgtest-virt-nook clean up after a server killed with SIGKILL.
func TestEndOrphans(t *testing.T) {
	s := testStore(t)
	addTarball(t, s, "bb", busyboxTar(t))
	child := exec.Command("sleep", "600")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer child.Process.Kill()
	owned, err := s.Begin("bb", BeginOptions{Owner: ownerOf(t, child.Process.Pid)})
	if err != nil {
		t.Fatal(err)
	}
	self, err := SelfOwner()
	if err != nil {
		t.Fatal(err)
	}
	alive, err := s.Begin("bb", BeginOptions{Owner: self})
	if err != nil {
		t.Fatal(err)
	}
	plain := begin(t, s, "bb")
	if got, _ := s.Get(owned.State.ID); got == nil || got.Owner == nil || got.Owner.PID != child.Process.Pid {
		t.Fatalf("the owner did not reach the state file: %+v", got)
	}
	if ended, err := s.EndOrphans(); err != nil || len(ended) != 0 {
		t.Fatalf("EndOrphans with every owner alive = %v, %v; want nothing ended", ended, err)
	}
	child.Process.Kill()
	child.Wait()
	ended, err := s.EndOrphans()
	if err != nil || len(ended) != 1 || ended[0] != owned.State.ID {
		t.Fatalf("EndOrphans after the owner's kill = %v, %v; want [%s]", ended, err, owned.State.ID)
	}
	for _, id := range []string{alive.State.ID, plain.State.ID} {
		if st, err := s.Get(id); st == nil {
			t.Errorf("session %s was ended too: %v", id, err)
		}
	}
	if st, _ := s.Get(owned.State.ID); st != nil {
		t.Errorf("the orphan %s is still there", owned.State.ID)
	}
}

// An orphan in which a command still runs (its lock held) is left for a
// later sweep rather than waited for.
func TestEndOrphansSkipsBusy(t *testing.T) {
	s := testStore(t)
	addTarball(t, s, "bb", busyboxTar(t))
	gone, err := SelfOwner()
	if err != nil {
		t.Fatal(err)
	}
	gone.BootID = "00000000-0000-0000-0000-000000000000"
	res, err := s.Begin("bb", BeginOptions{Owner: gone})
	if err != nil {
		t.Fatal(err)
	}
	lock, err := lockFile(res.State.Dir+"/lock", nil)
	if err != nil {
		t.Fatal(err)
	}
	if ended, err := s.EndOrphans(); err != nil || len(ended) != 0 {
		t.Fatalf("EndOrphans of a busy orphan = %v, %v; want it left", ended, err)
	}
	lock.Unlock()
	if ended, err := s.EndOrphans(); err != nil || len(ended) != 1 {
		t.Fatalf("EndOrphans once it is idle = %v, %v; want it ended", ended, err)
	}
}
