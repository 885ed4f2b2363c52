package sandbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Reopening stdio. Programs reopen what they were given: `tee /proc/self/fd/2`
// (autopkgtest's apt-get update), `echo x >/dev/stderr` in build systems and
// test suites. Opening /proc/self/fd/N is a new open of the inode behind fd N,
// with the kernel's permission check against the opener's credentials: a pipe
// is its creator's with mode 0600, a log file is whoever made it. Under
// schroot the command runs with host credentials (root can open anything);
// in a sandbox root is the caller, and a build user is a subordinate id, so
// a pipe or log of host root's, or the caller's own pipe for a build user,
// cannot be reopened, and the program fails (or, as autopkgtest, retries).
//
// So, for each of fds 0, 1 and 2 that is a pipe or a regular file the
// command could not reopen with its credentials, nook hands the command a
// pipe of its own instead and relays between it and the caller's file. Pipes
// and files the command can reopen, terminals (job control and window size
// stay the terminal's), sockets (no one can reopen those) and devices are
// passed as they are: in the common case nothing changes and nothing costs.

// relayProbe decides per stdio fd: the kernel's permission check for the
// reopen (generic_permission, capable_wrt_inode_uidgid), as seen from the
// host. A capability counts only for an inode whose owner and group are
// both mapped into the namespace the command holds it in: CAP_DAC_OVERRIDE
// for any open, CAP_DAC_READ_SEARCH for a read (stdin).
type relayProbe struct {
	uid, gid                   uint32
	groups                     map[uint32]bool
	dacOverride, dacReadSearch bool
	// uidMap, gidMap: the host ids the command's user namespace maps,
	// when userns (without one, a capability applies to every inode
	// this process's own namespace maps).
	uidMap, gidMap []syscall.SysProcIDMap
	userns         bool
	// overflowUID, overflowGID: what stat shows for an owner this
	// process's own user namespace does not map (the kernel's overflowuid
	// and overflowgid), or -1 when it maps every id (the initial one).
	// Such an owner is no one's here: it matches no uid or group and no
	// capability counts for it. Where the overflow id is also a mapped one
	// (a namespace that maps 65534 itself), stat cannot tell the two
	// apart and the owner counts as unmapped: a relay that was not needed
	// costs a copy, a missing one fails the command.
	overflowUID, overflowGID int64
}

// canOpen: could the command open st for want (4 read, 2 write)? acl: the
// inode has an access ACL, whose entries, not the group bits, decide for
// anyone but the owner.
func (p *relayProbe) canOpen(st *unix.Stat_t, want uint32, acl bool) bool {
	ownerKnown := int64(st.Uid) != p.overflowUID
	groupKnown := int64(st.Gid) != p.overflowGID
	capHere := ownerKnown && groupKnown && (!p.userns || (idMapped(p.uidMap, st.Uid) && idMapped(p.gidMap, st.Gid)))
	if capHere && (p.dacOverride || (want == 4 && p.dacReadSearch)) {
		return true
	}
	mode := st.Mode & 0o777
	var bits uint32
	switch {
	case ownerKnown && st.Uid == p.uid:
		bits = mode >> 6
	case acl:
		// Named users and groups: not worked out here; a relay is
		// always safe.
		return false
	case groupKnown && (st.Gid == p.gid || p.groups[st.Gid]):
		bits = mode >> 3
	default:
		bits = mode
	}
	return bits&want == want
}

func idMapped(m []syscall.SysProcIDMap, host uint32) bool {
	for _, e := range m {
		if int64(host) >= int64(e.HostID) && int64(host) < int64(e.HostID)+int64(e.Size) {
			return true
		}
	}
	return false
}

func hostID(m []syscall.SysProcIDMap, inside int) (uint32, bool) {
	for _, e := range m {
		if inside >= e.ContainerID && inside < e.ContainerID+e.Size {
			return uint32(e.HostID + inside - e.ContainerID), true
		}
	}
	return 0, false
}

// newRelayProbe works out the command's host credentials: the caller's
// own, or the ids it switches to, through the sandbox's maps.
func newRelayProbe(s *Spec, id *identity) (*relayProbe, error) {
	keep, err := commandCaps(s, id)
	if err != nil {
		return nil, err
	}
	p := &relayProbe{
		uid: uint32(os.Geteuid()), gid: uint32(os.Getegid()),
		dacOverride:   keep&(1<<unix.CAP_DAC_OVERRIDE) != 0,
		dacReadSearch: keep&(1<<unix.CAP_DAC_READ_SEARCH) != 0,
		uidMap:        id.uidMap, gidMap: id.gidMap, userns: id.userns,
	}
	p.overflowUID = overflowID("uid_map", "/proc/sys/kernel/overflowuid")
	p.overflowGID = overflowID("gid_map", "/proc/sys/kernel/overflowgid")

	switched := id.switchUID >= 0 || id.switchGID >= 0
	if id.switchUID >= 0 {
		p.uid = uint32(id.switchUID)
		if id.userns {
			u, ok := hostID(id.uidMap, id.switchUID)
			if !ok {
				return nil, nil
			}
			p.uid = u
		}
	}
	if id.switchGID >= 0 {
		p.gid = uint32(id.switchGID)
		if id.userns {
			g, ok := hostID(id.gidMap, id.switchGID)
			if !ok {
				return nil, nil
			}
			p.gid = g
		}
	}
	if !id.userns && p.uid == 0 && !switched {
		// Host root keeps root's usual set unless told otherwise.
		return p, nil
	}
	p.groups = map[uint32]bool{}
	if switched && id.switchGID >= 0 {
		// The groups the command switches to, as host ids.
		for _, g := range supplementaryGroups(s.Identity.Groups, id.switchGID) {
			if id.userns {
				h, ok := hostID(id.gidMap, g)
				if !ok {
					continue
				}
				p.groups[h] = true
			} else {
				p.groups[uint32(g)] = true
			}
		}
	}
	if !switched {
		// The caller's supplementary groups stay the command's. (After a
		// switch where setgroups is refused they stay too; not counting
		// them then costs at worst a relay that was not needed, where
		// counting groups the command lacks would leave it unable to
		// reopen.)
		if gs, err := unix.Getgroups(); err == nil {
			for _, g := range gs {
				p.groups[uint32(g)] = true
			}
		}
	}
	return p, nil
}

// stdioRelay is the relays of one sandbox.
type stdioRelay struct {
	// given: the pipe ends the command gets, by stdio number; nook closes
	// its copies once the sandbox started.
	given [3]*os.File
	outs  sync.WaitGroup
	// stopIn ends the stdin relay without reading more (the command is
	// gone); nil without one.
	stopIn *os.File
	in     sync.WaitGroup
	// The stdin relay's fds (valid while stopIn is set): the caller's
	// stdin (a duplicate), nook's write end of the relay pipe (closed by
	// the relay when it ends) and a read end to count what is left in
	// it, the stop pipe's read end; inLost, what it read and could not
	// deliver.
	inFd, inPipe, inPeek, inStop, inLost int
	// inRead is how much the stdin relay read in all: what goes back is
	// never more, though the command may have written into its own pipe.
	inRead int
	// stopOut, closed, tells the output relays the sandbox is gone;
	// stopOutR is its other end, which they poll.
	stopOut  *os.File
	stopOutR int
	// giveUp, closed, tells the output relays to drop what their
	// destination does not take (see dropStalled); giveUpR is its other
	// end, which they poll while they wait for room. mu guards giveUp,
	// told (the command was told to end) and over (the sandbox is gone).
	mu         sync.Mutex
	giveUp     *os.File
	giveUpR    int
	told, over bool
}

// relayStdio replaces the stdio files in s that the command could not
// reopen with relay pipes, and starts the relays. Only with a pid namespace
// of the sandbox's own: its end is the end of every process that could hold
// the relay's pipe, so the relays end too. nil when nothing needs a relay.
func (s *Spec) relayStdio(id *identity) (*stdioRelay, error) {
	if s.DirectStdio || !s.Namespaces.PID {
		return nil, nil
	}
	probe, err := newRelayProbe(s, id)
	if err != nil || probe == nil {
		return nil, err
	}
	files := [3]**os.File{&s.Stdin, &s.Stdout, &s.Stderr}
	defaults := [3]*os.File{os.Stdin, os.Stdout, os.Stderr}
	var need [3]bool
	var stats [3]unix.Stat_t
	anyNeed := false
	for i, fp := range files {
		f := orDefault(*fp, defaults[i])
		if err := unix.Fstat(int(f.Fd()), &stats[i]); err != nil {
			continue // not open: nothing to reopen either
		}
		t := stats[i].Mode & unix.S_IFMT
		if t != unix.S_IFIFO && t != unix.S_IFREG {
			continue
		}
		want := uint32(2)
		if i == 0 {
			want = 4
		}
		if !probe.canOpen(&stats[i], want, t == unix.S_IFREG && hasACL(int(f.Fd()))) {
			need[i], anyNeed = true, true
		}
	}
	if !anyNeed {
		return nil, nil
	}
	r := &stdioRelay{}
	ok := false
	defer func() {
		if !ok {
			r.abort()
		}
	}()
	if need[0] {
		if err := r.startIn(orDefault(s.Stdin, os.Stdin)); err != nil {
			return nil, err
		}
		s.Stdin = r.given[0]
	}
	// stdout and stderr on the same file (2>&1) share one relay, so what
	// the command writes to each keeps its order.
	if need[1] && need[2] && stats[1].Dev == stats[2].Dev && stats[1].Ino == stats[2].Ino {
		if err := r.startOut(1, orDefault(s.Stdout, os.Stdout)); err != nil {
			return nil, err
		}
		r.given[2] = r.given[1]
		s.Stdout, s.Stderr = r.given[1], r.given[1]
	} else {
		for i := 1; i <= 2; i++ {
			if !need[i] {
				continue
			}
			if err := r.startOut(i, orDefault(*files[i], defaults[i])); err != nil {
				return nil, err
			}
			*files[i] = r.given[i]
		}
	}
	ok = true
	return r, nil
}

// relayPipe makes a pipe whose inode anyone may open: the command may run
// as an id other than nook's. Only processes that hold an end (and may look
// at each other's /proc/PID/fd) can reach it. Raw fds: an *os.File's Fd
// would make the end blocking again.
func relayPipe() (r, w int, err error) {
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
		return -1, -1, os.NewSyscallError("pipe2 for a stdio relay", err)
	}
	if err := unix.Fchmod(fds[0], 0o666); err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return -1, -1, os.NewSyscallError("fchmod a stdio relay pipe", err)
	}
	return fds[0], fds[1], nil
}

// dupFd duplicates f above the stdio numbers: nook writing to its own fd 1
// or 2 would make a broken pipe kill nook (the Go runtime raises SIGPIPE for
// those two), where the command is the one to learn of it.
func dupFd(f *os.File, name string) (int, error) {
	d, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		return -1, fmt.Errorf("duplicate %s for its relay: %w", name, err)
	}
	return d, nil
}

// startOut relays what the command writes to fd n into dst.
func (r *stdioRelay) startOut(n int, dst *os.File) error {
	out, err := dupFd(dst, fmt.Sprintf("stdio %d", n))
	if err != nil {
		return err
	}
	pr, pw, err := relayPipe()
	if err != nil {
		unix.Close(out)
		return err
	}
	if r.stopOut == nil {
		var stop [2]int
		if err := unix.Pipe2(stop[:], unix.O_CLOEXEC); err != nil {
			unix.Close(out)
			unix.Close(pr)
			unix.Close(pw)
			return os.NewSyscallError("pipe2 to end the stdio relays", err)
		}
		var give [2]int
		if err := unix.Pipe2(give[:], unix.O_CLOEXEC); err != nil {
			unix.Close(out)
			unix.Close(pr)
			unix.Close(pw)
			unix.Close(stop[0])
			unix.Close(stop[1])
			return os.NewSyscallError("pipe2 to end stalled stdio relays", err)
		}
		r.stopOutR, r.stopOut = stop[0], os.NewFile(uintptr(stop[1]), "stdio relays stop")
		r.giveUpR, r.giveUp = give[0], os.NewFile(uintptr(give[1]), "stdio relays give up")
	}
	// nook's end is nonblocking, so that once the sandbox is gone the
	// relay takes what is left and stops; the command's stays blocking.
	if err := unix.SetNonblock(pr, true); err != nil {
		unix.Close(out)
		unix.Close(pr)
		unix.Close(pw)
		return os.NewSyscallError("set a stdio relay nonblocking", err)
	}
	r.given[n] = os.NewFile(uintptr(pw), "stdio relay")
	r.outs.Add(1)
	go func() {
		defer r.outs.Done()
		defer unix.Close(out)
		defer unix.Close(pr)
		relayOut(pr, out, r.stopOutR, r.giveUpR)
	}()
	return nil
}

// relayOut copies src (nonblocking) to dst until src ends or dst fails
// (EPIPE: closing src then gives the command the same EPIPE on its next
// write). Once stop is readable the sandbox is gone and every process of
// its pid namespace with it, so src is at its end at once; what is left is
// taken and the relay stops, also where a command passed its end to a
// process outside (over a socket), which Wait must not wait for. Once
// giveUp is readable too, a dst that takes nothing for stallGrace ends the
// relay, and what is left is dropped (see dropStalled).
func relayOut(src, dst, stop, giveUp int) {
	mv := &mover{buf: make([]byte, 64<<10), splice: true, giveUp: giveUp}
	ended := false
	left := 0 // once ended: what the pipe held then, all there is to take
	for {
		if ended && left <= 0 {
			return
		}
		if !ended {
			fds := []unix.PollFd{{Fd: int32(src), Events: unix.POLLIN}, {Fd: int32(stop), Events: unix.POLLIN}}
			if _, err := unix.Poll(fds, -1); err != nil {
				if errors.Is(err, unix.EINTR) {
					continue
				}
				return
			}
			if ended = fds[1].Revents != 0; ended {
				// Not until the end of the pipe: a relay end a command
				// passed outside could keep it open forever.
				n, err := unix.IoctlGetInt(src, unix.TIOCINQ) // FIONREAD
				if err != nil {
					return
				}
				left = n
				continue
			}
		}
		most := 1 << 20
		if ended && left < most {
			most = left
		}
		n, err := mv.move(src, dst, most)
		switch {
		case errors.Is(err, unix.EAGAIN):
			if ended {
				return
			}
			continue
		case err != nil || n == 0:
			return
		}
		left -= n
	}
}

// mover moves what a nonblocking pipe holds to an fd: with splice(2)
// when it holds much (spliceMin) and the kernel takes it (pipe to pipe or to a file no copy passes
// through nook; measured in BenchmarkStdioRelayThroughput), else with read
// and write through buf (an O_APPEND file, say, where splice is EINVAL).
type mover struct {
	buf    []byte
	splice bool
	// giveUp: an fd whose being readable ends a wait for room in dst
	// that lasts stallGrace (errOutputStalled); -1 for none.
	giveUp int
}

// move moves at most most bytes from src to dst: n > 0, or 0 at src's end,
// or EAGAIN when src is empty. A full dst is waited for, as a blocking
// write would, whether or not the caller made dst nonblocking (but see
// giveUp).
func (m *mover) move(src, dst, most int) (int, error) {
	for m.splice && bulk(src) {
		// SPLICE_F_NONBLOCK: src is nonblocking, and a pipe-to-pipe
		// splice is so for both pipes anyway.
		n, err := unix.Splice(src, nil, dst, nil, most, unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
		switch {
		case err == nil:
			return int(n), nil
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EAGAIN):
			// src empty, or dst full: wait for room in dst; if it has
			// room already, src was empty.
			full, err := waitWritable(dst, m.giveUp)
			if err != nil {
				return 0, err
			}
			if !full {
				return 0, unix.EAGAIN
			}
		case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOSYS):
			m.splice = false
		default:
			return 0, err
		}
	}
	if most > len(m.buf) {
		most = len(m.buf)
	}
	for {
		n, err := unix.Read(src, m.buf[:most])
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || n == 0 {
			return 0, err
		}
		_, err = writeFd(dst, m.buf[:n], m.giveUp)
		return n, err
	}
}

// spliceMin is what src must hold for a splice. A splice moves src's pipe
// buffers into dst as they are, one slot of dst's (16 by default) each,
// however little they hold: a command writing line by line would fill the
// caller's pipe after 16 lines, where writes fill its pages (64 KiB) — and
// a caller that reads only once nook has ended (Popen's wait, then read)
// would wait for ever on a few hundred bytes. Below this, read and write.
const spliceMin = 32 << 10

// bulk reports whether the pipe src holds at least spliceMin bytes.
func bulk(src int) bool {
	n, err := unix.IoctlGetInt(src, unix.TIOCINQ) // FIONREAD
	return err == nil && n >= spliceMin
}

// stallGrace is how long a relay, once it is to give up, waits for any
// room in its destination before it drops what is left: a reader that is
// reading makes room within milliseconds, one that stalled (`| sleep
// infinity`, a pager left open) never does.
const stallGrace = 250 * time.Millisecond

// errOutputStalled: a relay gave up on a destination that took nothing.
var errOutputStalled = errors.New("stdio relay's output took nothing after the command was told to end")

// waitWritable waits until fd has room, and reports whether it had none
// at first. Once giveUp (-1: none; poll skips a negative fd) is readable,
// it waits at most stallGrace more, then fails with errOutputStalled.
func waitWritable(fd, giveUp int) (bool, error) {
	waited := false
	var deadline time.Time // set once giveUp is readable
	for {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}, {Fd: int32(giveUp), Events: unix.POLLIN}}
		timeout := 0
		switch {
		case !deadline.IsZero():
			// giveUp stays readable: poll fd alone.
			fds = fds[:1]
			timeout = int(time.Until(deadline).Milliseconds()) + 1
			if timeout < 0 {
				timeout = 0
			}
		case waited:
			timeout = -1
		}
		n, err := unix.Poll(fds, timeout)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return waited, os.NewSyscallError("poll a stdio relay's output", err)
		case fds[0].Revents != 0:
			// Writable, or its reader gone (POLLERR): the next write
			// tells.
			return waited, nil
		case !deadline.IsZero():
			if !time.Now().Before(deadline) {
				return waited, errOutputStalled
			}
		case n > 0:
			// giveUp readable, fd full.
			deadline = time.Now().Add(stallGrace)
		}
		waited = true
	}
}

// fdWriter writes to a raw fd with write(2), retrying after EINTR and
// short writes, and waiting while a nonblocking fd is full.
type fdWriter int

func (w fdWriter) Write(b []byte) (int, error) {
	return writeFd(int(w), b, -1)
}

// writeFd is fdWriter's Write, giving up as waitWritable does with giveUp.
func writeFd(fd int, b []byte, giveUp int) (int, error) {
	// With giveUp, a wait for room must be one poll can end: on a pipe or
	// socket a blocking write of more than PIPE_BUF waits inside write(2)
	// for the rest once part of it fit, so after each poll it writes at
	// most PIPE_BUF, which a pipe with room takes whole.
	chunk := len(b)
	if giveUp >= 0 && streamFd(fd) {
		chunk = pipeBuf
	}
	done := 0
	for done < len(b) {
		if giveUp >= 0 {
			if _, err := waitWritable(fd, giveUp); err != nil {
				return done, err
			}
		}
		end := len(b)
		if end-done > chunk {
			end = done + chunk
		}
		n, err := unix.Write(fd, b[done:end])
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EAGAIN):
			if _, err := waitWritable(fd, giveUp); err != nil {
				return done, err
			}
			continue
		case err != nil:
			return done, err
		}
		done += n
	}
	return done, nil
}

// pipeBuf is PIPE_BUF: a write of at most this much to a pipe with room is
// taken whole, never partly.
const pipeBuf = 4096

// streamFd reports whether fd is a pipe or a socket, where a write may
// wait for a reader.
func streamFd(fd int) bool {
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		return true
	}
	t := st.Mode & unix.S_IFMT
	return t == unix.S_IFIFO || t == unix.S_IFSOCK
}

// startIn prepares the relay of the caller's stdin to the command;
// started starts it, so nothing is read for a sandbox that never started.
// It reads only when the relay pipe (one page, the smallest a pipe is) has
// room, and stops without reading once the command is gone. What the
// command did not read goes back where the caller's stdin is a regular file
// (its offset, shared with the caller, is moved back); from a pipe at most a
// page more than the command read is taken.
func (r *stdioRelay) startIn(src *os.File) error {
	in, err := dupFd(src, "stdin")
	if err != nil {
		return err
	}
	pr, pw, err := relayPipe()
	if err != nil {
		unix.Close(in)
		return err
	}
	var stop [2]int
	if err := unix.Pipe2(stop[:], unix.O_CLOEXEC); err != nil {
		unix.Close(in)
		unix.Close(pr)
		unix.Close(pw)
		return os.NewSyscallError("pipe2 to stop the stdin relay", err)
	}
	// nook keeps a read end of its own, to count at the end what the
	// command left unread (the writer is closed at the input's end, so
	// the command sees it).
	peek, err := unix.FcntlInt(uintptr(pr), unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		for _, fd := range []int{in, pr, pw, stop[0], stop[1]} {
			unix.Close(fd)
		}
		return os.NewSyscallError("dup the stdin relay pipe", err)
	}
	_, _ = unix.FcntlInt(uintptr(pw), unix.F_SETPIPE_SZ, os.Getpagesize())
	// Nonblocking: see relayIn. The command's end is a file description
	// of its own, blocking as a pipe's read end is.
	if err := unix.SetNonblock(pw, true); err != nil {
		for _, fd := range []int{in, pr, pw, stop[0], stop[1], peek} {
			unix.Close(fd)
		}
		return os.NewSyscallError("make the stdin relay pipe nonblocking", err)
	}
	r.given[0], r.stopIn = os.NewFile(uintptr(pr), "stdin relay"), os.NewFile(uintptr(stop[1]), "stdin relay stop")
	r.inFd, r.inPipe, r.inPeek, r.inStop = in, pw, peek, stop[0]
	return nil
}

// runIn is the stdin relay's goroutine.
func (r *stdioRelay) runIn() {
	r.in.Add(1)
	go func() {
		defer r.in.Done()
		r.inRead, r.inLost = relayIn(r.inFd, r.inPipe, r.inStop)
		unix.Close(r.inPipe) // the command reads to the end
	}()
}

// endIn stops the stdin relay and gives back what the command did not read
// where the caller's stdin can seek.
func (r *stdioRelay) endIn() {
	if r.stopIn == nil {
		return
	}
	r.stopIn.Close()
	r.in.Wait()
	unread := r.inLost
	if n, err := unix.IoctlGetInt(r.inPeek, unix.TIOCINQ); err == nil { // FIONREAD
		unread += n
	}
	// A command that writes into its own relayed stdin (the pipe is
	// anyone's to open) makes the pipe hold more than the relay put there;
	// capped at what the relay read, the offset goes back at most over
	// input the command had, which a command given the caller's file
	// itself could do anyway (it shares the offset and may lseek).
	unread = min(unread, r.inRead)
	var st unix.Stat_t
	if unread > 0 && unix.Fstat(r.inFd, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG {
		_, _ = unix.Seek(r.inFd, -int64(unread), io.SeekCurrent)
	}
	unix.Close(r.inFd)
	unix.Close(r.inPeek)
	unix.Close(r.inStop)
	r.stopIn = nil
}

// relayIn copies src to dst a page at a time while dst has room, until src
// ends, dst's reader is gone, or stop becomes readable; it returns how many
// bytes it read in all and how many of those it could not deliver.
func relayIn(src, dst, stop int) (read, lost int) {
	buf := make([]byte, os.Getpagesize())
	wait := func(fd int, ev int16) bool {
		for {
			fds := []unix.PollFd{{Fd: int32(fd), Events: ev}, {Fd: int32(stop), Events: unix.POLLIN}}
			_, err := unix.Poll(fds, -1)
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return err == nil && fds[1].Revents == 0 && fds[0].Revents != 0
		}
	}
	for {
		if !wait(dst, unix.POLLOUT) || !wait(src, unix.POLLIN) {
			return read, 0
		}
		n, err := unix.Read(src, buf)
		if errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN) {
			continue
		}
		if err != nil || n == 0 {
			return read, 0
		}
		read += n
		// dst is nonblocking and waited for with stop: the command can
		// reopen the relay pipe for writing and fill it, and a blocking
		// write would then hold this relay, and Wait, for ever.
		for done := 0; done < n; {
			w, err := unix.Write(dst, buf[done:n])
			switch {
			case errors.Is(err, unix.EINTR):
				continue
			case errors.Is(err, unix.EAGAIN):
				if !wait(dst, unix.POLLOUT) {
					return read, n - done
				}
				continue
			case err != nil:
				return read, n - done
			}
			done += w
		}
	}
}

// started closes nook's copies of the ends the command got.
func (r *stdioRelay) started() {
	if r == nil {
		return
	}
	seen := map[*os.File]bool{}
	for _, f := range r.given {
		if f != nil && !seen[f] {
			seen[f] = true
			f.Close()
		}
	}
	if r.stopIn != nil {
		r.runIn()
	}
}

// wait lets the output relays finish (every writer in the sandbox is gone
// once its pid namespace is) and stops the input relay.
func (r *stdioRelay) wait() {
	if r == nil {
		return
	}
	r.endIn()
	if r.stopOut != nil {
		r.mu.Lock()
		r.over = true
		r.dropStalled()
		r.mu.Unlock()
		r.stopOut.Close()
		r.outs.Wait()
		unix.Close(r.stopOutR)
		r.mu.Lock()
		if r.giveUp != nil {
			r.giveUp.Close()
			r.giveUp = nil
		}
		r.mu.Unlock()
		unix.Close(r.giveUpR)
	}
}

// toldToEnd notes that the command was sent a signal that ends it (see
// Process.Signal), before or after it ended.
func (r *stdioRelay) toldToEnd() {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.told = true
	r.dropStalled()
	r.mu.Unlock()
}

// dropStalled, with mu held: once the command was told to end and the
// sandbox is gone, an output relay whose destination takes nothing for
// stallGrace drops what it holds and ends, so that nook exits as it would
// without the relay (`nook run ... | sleep infinity`, sent SIGTERM), where
// it would wait on that reader for ever. Not before the end: a command
// that traps the signal goes on writing, and nothing of that is lost. A
// destination that is being read still gets everything.
func (r *stdioRelay) dropStalled() {
	if r.told && r.over && r.giveUp != nil {
		r.giveUp.Close()
		r.giveUp = nil
	}
}

// abort undoes relayStdio for a sandbox that did not start: nothing of
// the caller's stdin is read.
func (r *stdioRelay) abort() {
	if r == nil {
		return
	}
	if r.stopIn != nil {
		r.given[0].Close()
		r.given[0] = nil
		unix.Close(r.inFd)
		unix.Close(r.inPipe)
		unix.Close(r.inPeek)
		unix.Close(r.inStop)
		r.stopIn.Close()
		r.stopIn = nil
	}
	r.started()
	r.wait()
}
