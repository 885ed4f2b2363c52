package sandbox

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRelayProbeDecision: the relay decision follows the kernel's check
// for the reopen: the owner's bits for the owner, an ACL's entries (not
// worked out: relay) or the group's bits for a member, the others' bits
// else; CAP_DAC_OVERRIDE for any open and CAP_DAC_READ_SEARCH for a read,
// each only where the inode's owner and group are both mapped into the
// namespace the command holds it in; an owner stat shows as the overflow
// id is unmapped in nook's own namespace, no one's, and no capability
// counts for it.
func TestRelayProbeDecision(t *testing.T) {
	const read, write = 4, 2
	user := func() *relayProbe {
		return &relayProbe{uid: 1000, gid: 1000, groups: map[uint32]bool{100: true}, overflowUID: -1, overflowGID: -1}
	}
	capsIn := func(userns bool) *relayProbe {
		p := user()
		p.dacOverride, p.userns = true, userns
		if userns {
			// A build user's namespace: 0 is 1000, 1..65536 are 100000...
			p.uidMap = []syscall.SysProcIDMap{{ContainerID: 0, HostID: 1000, Size: 1}, {ContainerID: 1, HostID: 100000, Size: 65536}}
			p.gidMap = p.uidMap
		}
		return p
	}
	nested := func(p *relayProbe) *relayProbe {
		// nook itself in a user namespace that does not map every id.
		p.overflowUID, p.overflowGID = 65534, 65534
		return p
	}
	readSearch := func() *relayProbe {
		p := capsIn(true)
		p.dacOverride, p.dacReadSearch = false, true
		return p
	}
	for _, c := range []struct {
		name     string
		p        *relayProbe
		uid, gid uint32
		mode     uint32
		want     uint32
		acl      bool
		open     bool
	}{
		{"owner, owner may write", user(), 1000, 1000, 0o600, write, false, true},
		{"owner, only the others may", user(), 1000, 1000, 0o006, write, false, false},
		{"owner, read-only file for stdout", user(), 1000, 1000, 0o400, write, false, false},
		{"another user's pipe", user(), 0, 0, 0o600, write, false, false},
		{"another user's, open to all", user(), 0, 0, 0o606, write, false, true},
		{"a supplementary group's", user(), 0, 100, 0o060, write, false, true},
		{"a group's with an ACL: relay", user(), 0, 100, 0o060, write, true, false},
		{"the owner's with an ACL: the owner's bits", user(), 1000, 100, 0o600, write, true, true},
		{"CAP_DAC_OVERRIDE, no user namespace", capsIn(false), 0, 0, 0o000, write, false, true},
		{"CAP_DAC_OVERRIDE in a namespace mapping owner and group", capsIn(true), 100005, 1000, 0o000, write, false, true},
		{"CAP_DAC_OVERRIDE, owner not mapped", capsIn(true), 0, 1000, 0o000, write, false, false},
		{"CAP_DAC_OVERRIDE, group not mapped", capsIn(true), 1000, 0, 0o000, write, false, false},
		{"CAP_DAC_OVERRIDE, owner unmapped in nook's own namespace", nested(capsIn(false)), 65534, 0, 0o000, write, false, false},
		{"CAP_DAC_OVERRIDE, group unmapped in nook's own namespace", nested(capsIn(false)), 0, 65534, 0o000, read, false, false},
		{"CAP_DAC_OVERRIDE, nested, mapped owner", nested(capsIn(false)), 0, 0, 0o000, write, false, true},
		{"an unmapped owner is no one's", nested(&relayProbe{uid: 65534, gid: 65534, overflowUID: -1, overflowGID: -1}), 65534, 65534, 0o600, write, false, false},
		{"65534 mapped for real in the initial namespace", &relayProbe{uid: 65534, gid: 65534, overflowUID: -1, overflowGID: -1}, 65534, 65534, 0o600, write, false, true},
		{"CAP_DAC_READ_SEARCH reads", readSearch(), 1000, 1000, 0o000, read, false, true},
		{"CAP_DAC_READ_SEARCH does not write", readSearch(), 1000, 1000, 0o000, write, false, false},
		{"CAP_DAC_READ_SEARCH, owner not mapped", readSearch(), 0, 1000, 0o000, read, false, false},
	} {
		st := &unix.Stat_t{Uid: c.uid, Gid: c.gid, Mode: unix.S_IFIFO | c.mode}
		if got := c.p.canOpen(st, c.want, c.acl); got != c.open {
			t.Errorf("%s: canOpen(uid %d gid %d mode %o, want %d, acl %v) = %v, want %v", c.name, c.uid, c.gid, c.mode, c.want, c.acl, got, c.open)
		}
	}
}

// TestRelayProbeCaps: the probe counts what the command will hold:
// CAP_DAC_READ_SEARCH alone reads, nothing writes.
func TestRelayProbeCaps(t *testing.T) {
	s := baseSpec()
	s.Caps = Capabilities{Drop: []string{"ALL"}, Add: []string{"CAP_DAC_READ_SEARCH"}}
	id := &identity{userns: true, switchUID: -1, switchGID: -1,
		uidMap: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}},
		gidMap: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}}}
	p, err := newRelayProbe(s, id)
	if err != nil || p == nil {
		t.Fatalf("newRelayProbe: %v, %v", p, err)
	}
	if p.dacOverride || !p.dacReadSearch {
		t.Errorf("probe for CAP_DAC_READ_SEARCH alone: override %v, read-search %v", p.dacOverride, p.dacReadSearch)
	}
	b, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		t.Fatal(err)
	}
	initial := strings.Join(strings.Fields(string(b)), " ") == "0 0 4294967295"
	if initial != (p.overflowUID == -1) {
		t.Errorf("uid_map %q: overflow uid %d", b, p.overflowUID)
	}
}

// TestRelayNotForReadSearch: a command that keeps CAP_DAC_READ_SEARCH (and
// nothing else) reopens a stdin pipe it has no mode bits for, so it gets
// the caller's pipe itself, not a relay.
func TestRelayNotForReadSearch(t *testing.T) {
	r, w := closedPipe(t)
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer outR.Close()
	s := noCapsShell(`exec 3</proc/self/fd/0 && stat -L -c %i /proc/self/fd/3`)
	s.Caps.Add = []string{"CAP_DAC_READ_SEARCH"}
	s.Stdin, s.Stdout = r, outW
	out, st := runCollect(t, s, outR, outW)
	w.Close()
	var fst unix.Stat_t
	if err := unix.Fstat(int(r.Fd()), &fst); err != nil {
		t.Fatal(err)
	}
	if st.Code != 0 || strings.TrimSpace(out) != strconv.FormatUint(fst.Ino, 10) {
		t.Errorf("status %+v, the command's stdin reopened is %q, the caller's pipe %d (relayed without need, or not reopened)", st, out, fst.Ino)
	}
}
