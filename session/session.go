package session

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nook-project/nook/sandbox"
)

// Store is one user's chroots, cache and sessions.
type Store struct {
	Dirs     Dirs
	Registry *Registry
	Cache    *Cache
	// idMode is the mapping new sessions and cache entries use (Mode).
	idMode IDMode
	mode   sync.Once
}

// Mode is the id mapping new sessions and cache entries of this store use,
// detected (DetectIDMode) when first needed: a command in an existing
// session uses the session's own mapping, and detecting costs a look at
// the caller's account and subordinate ranges (most of a millisecond at
// every start here).
func (s *Store) Mode() IDMode {
	s.mode.Do(func() { s.idMode = DetectIDMode() })
	return s.idMode
}

// Open returns the caller's store in the default directories.
func Open() (*Store, error) {
	d, err := DefaultDirs()
	if err != nil {
		return nil, err
	}
	return OpenDirs(d), nil
}

// OpenDirs returns the store kept in d.
func OpenDirs(d Dirs) *Store {
	return &Store{Dirs: d, Registry: NewRegistry(d), Cache: &Cache{Dir: filepath.Join(d.Cache, "unpack")}}
}

// State is a session's state file, sessions/ID/state.json.
type State struct {
	ID     string `json:"id"`
	Chroot string `json:"chroot"`
	Kind   Kind   `json:"kind"`
	// Source is the chroot's tarball or directory.
	Source string `json:"source"`
	// Lower is the overlay's lower directory: a cache entry's tree, the
	// chroot directory, or /.
	Lower string `json:"lower"`
	// Entry names the cache entry of a tarball chroot.
	Entry string `json:"entry,omitempty"`
	// Copy says the session is a private full copy of the chroot in its
	// root directory instead of an overlay.
	Copy    bool      `json:"copy,omitempty"`
	IDMode  IDMode    `json:"id_mode"`
	Created time.Time `json:"created"`
	// Selected is the name the session was begun by (an alias, say);
	// schroot's face reports it as SCHROOT_ALIAS_NAME.
	Selected string `json:"selected,omitempty"`
	// Keys are the chroot's schroot configuration keys as they were when
	// the session began: a session keeps its configuration, as schroot's
	// session files do, even when the definition changes later.
	Keys map[string]string `json:"keys,omitempty"`
	// Repack is the tarball the session's tree replaces when it ends
	// (schroot's source sessions).
	Repack string `json:"repack,omitempty"`
	// Boot says the session is booted: its chroot's systemd runs as pid 1
	// under a supervisor (boot.go) from begin to end.
	Boot bool `json:"boot,omitempty"`
	// NoNetwork gives a booted container a network namespace of its own
	// with only loopback, for its whole life.
	NoNetwork bool `json:"no_network,omitempty"`
	// LongLived says the session keeps one sandbox from begin to end,
	// its commands through an agent (held.go).
	LongLived bool `json:"long_lived,omitempty"`
	// Owner is the process the session's life is bound to, if any
	// (owner.go): once it is gone the session is an orphan.
	Owner *Owner `json:"owner,omitempty"`
	// Dir is the session's directory, filled in when read.
	Dir string `json:"-"`
}

func (st *State) upper() string { return filepath.Join(st.Dir, "upper") }
func (st *State) work() string  { return filepath.Join(st.Dir, "work") }
func (st *State) mnt() string   { return filepath.Join(st.Dir, "mnt") }

// Location is the session's tree as the host sees it, for a copy session
// (an overlay session has none: its tree exists only inside commands).
func (st *State) Location() string {
	if st.Copy {
		return filepath.Join(st.Dir, "root")
	}
	return ""
}

// layers returns the directories a file of the session is read from, top
// first: the upper and lower of an overlay, or only the copy.
func (st *State) layers() (upper, lower string) {
	if st.Copy {
		return "", st.Location()
	}
	return st.upper(), st.Lower
}

func (s *Store) sessionsDir() string { return filepath.Join(s.Dirs.State, "sessions") }

// BeginOptions tune Begin.
type BeginOptions struct {
	// Name is the session id; empty means CHROOT-UUID.
	Name string
	// Progress is told how an unpack advances (only when one happens).
	Progress Progress
	// Busy is called when Begin has to wait for another process
	// unpacking the same tarball.
	Busy func()
	// Copy makes the session a private full copy of the chroot instead of
	// an overlay over it: begin then costs a full unpack or copy, and the
	// tree is a real directory on the host (State.Location) that clients
	// can read and write from outside, as piuparts and autopkgtest do with
	// schroot's sessions. A chroot can ask for it too (Chroot.Copy).
	Copy bool
	// Files are written into the session's tree before the session
	// exists (schroot's copyfiles and nssdatabases): a begin that fails
	// or is killed leaves no session without them.
	Files []File
	// Keys are stored in the session's state (State.Keys).
	Keys map[string]string
	// Repack makes the session replace its chroot's tarball with its
	// tree when it ends (schroot's source sessions).
	Repack bool
	// Boot starts the chroot's systemd as the session's pid 1 and waits
	// until it reports the end of its start-up (boot.go).
	Boot bool
	// NoNetwork gives a booted session a network namespace of its own
	// with only loopback (commands of an ordinary session choose theirs
	// each: RunOptions.NoNetwork).
	NoNetwork bool
	// LongLived keeps one set of namespaces for the session's life,
	// commands going to an agent inside (held.go), instead of fresh
	// ones per command.
	LongLived bool
	// Owner binds the session's life to a process (owner.go): a session
	// whose owner is gone is ended by Store.EndOrphans. Nil for sessions
	// that live until someone ends them.
	Owner *Owner
}

// BeginResult is a new session and what is worth telling about it.
type BeginResult struct {
	State *State
	// Unpacked is the cache entry made for this session, if one was.
	Unpacked *Entry
	// Warnings are one-line notes for the user (single-id mode, skipped
	// device nodes, ...).
	Warnings []string
	// deleg is a booted session's delegated cgroup.
	deleg string
}

// Begin starts a session of the chroot called name. With a warm cache it
// writes the state file and makes the empty upper, work and mount-point
// directories, nothing more. The session directory is made under a
// temporary name and renamed into place complete, so a begin killed at any
// point leaves no session, only a temporary directory that a later call
// removes.
func (s *Store) Begin(name string, o BeginOptions) (*BeginResult, error) {
	res, err := s.begin(name, o)
	if err != nil || !res.State.Supervised() {
		return res, err
	}
	// Booted: once the session exists and no lock of begin's is held
	// (ending a session that failed to boot takes the cache's).
	if err := startBoot(res.State, res.deleg); err != nil {
		if eerr := s.End(res.State.ID, nil); eerr != nil {
			return nil, fmt.Errorf("%w (and ending the session failed: %v)", err, eerr)
		}
		return nil, err
	}
	return res, nil
}

func (s *Store) begin(name string, o BeginOptions) (*BeginResult, error) {
	c, err := s.Registry.Lookup(name)
	if err != nil {
		return nil, err
	}
	id := o.Name
	if id == "" {
		u, err := uuid4()
		if err != nil {
			return nil, fmt.Errorf("begin a session of %s: %w", c.Name, err)
		}
		id = c.Name + "-" + u
	}
	if err := ValidName(id); err != nil {
		return nil, fmt.Errorf("session name: %w", err)
	}
	res := &BeginResult{}
	if err := validFiles(o.Files); err != nil {
		return nil, err
	}
	st := &State{ID: id, Chroot: c.Name, Kind: c.Kind, Source: c.Path, IDMode: s.Mode(), Created: time.Now().UTC(), Copy: o.Copy || c.Copy,
		Selected: strings.TrimPrefix(name, "chroot:"), Keys: o.Keys, Owner: o.Owner}
	if st.Copy && c.Kind == KindHost {
		return nil, fmt.Errorf("a session of the host root cannot be a copy; leave out --copy")
	}
	if o.Repack {
		if c.Kind != KindTarball {
			return nil, fmt.Errorf("chroot %s is not a tarball: only a tarball's session can be packed back into it", c.Name)
		}
		if err := checkRepackable(c.Path); err != nil {
			return nil, err
		}
		st.Repack = c.Path
	}
	var deleg string
	if o.Boot && o.LongLived {
		return nil, fmt.Errorf("%w: a session is booted or long-lived, not both (a booted one is long-lived already)", ErrBadBegin)
	}
	if o.NoNetwork && !o.Boot && !o.LongLived {
		return nil, fmt.Errorf("%w: an ordinary session's commands choose theirs (session run --no-network)", ErrNetworkNotBooted)
	}
	if o.Boot {
		st.Boot = true
		st.NoNetwork = o.NoNetwork
		if deleg, err = bootChecks(s.Mode(), c); err != nil {
			return nil, err
		}
	}
	if o.LongLived {
		st.LongLived = true
		st.NoNetwork = o.NoNetwork
		if c.Kind == KindHost {
			return nil, fmt.Errorf("%w: a session of the host root is not long-lived (its commands share the host's tree already)", ErrBadBegin)
		}
	}
	if s.Mode() == IDSingle {
		res.Warnings = append(res.Warnings, SingleIDWarning)
		if st.Repack != "" {
			res.Warnings = append(res.Warnings, SingleIDRepackWarning)
		}
	}
	if err := privateDir(s.sessionsDir()); err != nil {
		return nil, err
	}
	if why := overlayRefusedHere(s.sessionsDir(), s.Mode() == IDHost); why != "" && !st.Copy {
		if c.Kind == KindHost {
			return nil, fmt.Errorf("cannot begin a session of the host root: %s", why)
		}
		st.Copy = true
		res.Warnings = append(res.Warnings, why+"; this session is a full copy instead")
	}
	if _, err := os.Lstat(filepath.Join(s.sessionsDir(), id)); err == nil {
		return nil, &ExistsError{ID: id}
	}
	s.collect()
	switch {
	case st.Copy:
		// Filled in below, once the session's directory exists.
	case c.Kind == KindTarball:
		e, made, err := s.Cache.Ensure(c.Path, s.Mode(), o.Progress, o.Busy)
		if err != nil {
			return nil, err
		}
		if made {
			res.Unpacked = &e
			res.Warnings = append(res.Warnings, unpackWarnings(e)...)
			s.dropOldEntries(e)
		}
		st.Lower, st.Entry = e.Root, e.Name
		if st.Repack != "" {
			res.Warnings = append(res.Warnings, repackDeviceWarnings(e)...)
		}
	case c.Kind == KindDirectory:
		fi, err := os.Stat(c.Path)
		if err != nil {
			return nil, fmt.Errorf("chroot %s: %w", c.Name, err)
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("chroot %s: %s is not a directory", c.Name, c.Path)
		}
		st.Lower = c.Path
	case c.Kind == KindHost:
		st.Lower = "/"
	default:
		return nil, fmt.Errorf("chroot %s: unknown kind %q", c.Name, c.Kind)
	}

	if st.Boot {
		if _, err := findSystemd(st); err != nil {
			return nil, err
		}
	}
	sandbox.Phase("begin: cache ready")
	// Prune must not remove the entry between here and the rename.
	cl, err := s.cacheLock(false)
	if err != nil {
		return nil, err
	}
	defer cl.Unlock()
	if st.Entry != "" {
		if _, err := os.Stat(st.Lower); err != nil {
			return nil, fmt.Errorf("cache entry %s went away while the session began (a prune?); begin again", st.Entry)
		}
	}
	sl, err := s.storeLock()
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(s.sessionsDir(), ".new-")
	if err != nil {
		sl.Unlock()
		return nil, fmt.Errorf("create session directory: %w", err)
	}
	lock, err := lockFile(filepath.Join(tmp, "lock"), nil)
	sl.Unlock()
	if err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	defer lock.Unlock()
	fail := func(err error) (*BeginResult, error) {
		removeTree(s.Mode(), tmp)
		return nil, err
	}
	// upper is the root directory of every command's tree: it gets the
	// mode of a root directory.
	for _, d := range []struct {
		name string
		mode os.FileMode
	}{{"upper", 0o755}, {"work", 0o700}, {"mnt", 0o700}} {
		if err := os.Mkdir(filepath.Join(tmp, d.name), d.mode); err != nil {
			return fail(fmt.Errorf("create session directory: %w", err))
		}
		if err := os.Chmod(filepath.Join(tmp, d.name), d.mode); err != nil {
			return fail(fmt.Errorf("create session directory: %w", err))
		}
	}
	if st.Copy {
		w, err := fillCopy(c, s.Mode(), tmp, o.Progress)
		if err != nil {
			return fail(err)
		}
		res.Warnings = append(res.Warnings, w...)
	}
	sandbox.Phase("begin: directory made")
	if err := writeSessionFiles(st, tmp, o.Files); err != nil {
		return fail(err)
	}
	if err := writeJSONAtomic(filepath.Join(tmp, "state.json"), st); err != nil {
		return fail(err)
	}
	sandbox.Phase("begin: state written")
	final := filepath.Join(s.sessionsDir(), id)
	if err := unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, final, unix.RENAME_NOREPLACE); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return fail(&ExistsError{ID: id})
		}
		return fail(fmt.Errorf("create session %s: %w", final, err))
	}
	if err := syncDir(s.sessionsDir()); err != nil {
		return nil, err
	}
	st.Dir = final
	res.State = st
	res.deleg = deleg
	return res, nil
}

// fillCopy makes dir/root a full copy of the chroot, under the session's
// id mapping: a tarball is unpacked into it, a directory copied with
// cp -a by a helper in the session's user namespace.
func fillCopy(c Chroot, mode IDMode, dir string, progress Progress) ([]string, error) {
	root := filepath.Join(dir, "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		return nil, fmt.Errorf("create session directory: %w", err)
	}
	switch c.Kind {
	case KindTarball:
		helper, err := unpackHelper()
		if err != nil {
			return nil, err
		}
		f, err := os.Open(c.Path)
		if err != nil {
			return nil, fmt.Errorf("open chroot tarball: %w", err)
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return nil, fmt.Errorf("open chroot tarball: %w", err)
		}
		res, err := unpackInto(helper, f, fi.Size(), mode, dir, root, progress)
		if err != nil {
			return nil, fmt.Errorf("unpack %s: %w", c.Path, err)
		}
		return unpackWarnings(Entry{Source: c.Path, Stats: res.Stats}), nil
	case KindDirectory:
		id, err := sandboxIdentity(mode, 0, 0)
		if err != nil {
			return nil, err
		}
		spec := helperSpec(id, dir)
		spec.Args, spec.Argv0 = []string{"cp", "-a", "--", c.Path + "/.", root + "/"}, ""
		spec.SuppressChown = mode == IDSingle
		if err := runHelperSpec("copy "+c.Path, spec); err != nil {
			return nil, err
		}
		return nil, nil
	}
	return nil, fmt.Errorf("chroot %s of kind %s cannot be copied", c.Name, c.Kind)
}

func unpackWarnings(e Entry) []string {
	var w []string
	if e.Stats.Devices > 0 {
		w = append(w, fmt.Sprintf("skipped %d device nodes in %s: every command gets a fresh /dev", e.Stats.Devices, e.Source))
	}
	if e.Stats.ChownFailed > 0 {
		w = append(w, fmt.Sprintf("%d entries of %s kept the unpacking user as owner (first: %s)", e.Stats.ChownFailed, e.Source, e.Stats.ChownError))
	}
	if e.Stats.XattrFailed > 0 {
		w = append(w, fmt.Sprintf("%d extended attributes of %s could not be set (first: %s)", e.Stats.XattrFailed, e.Source, e.Stats.XattrError))
	}
	return w
}

// randomSuffix is a short name part that no other live name shares.
func randomSuffix() string {
	if u, err := uuid4(); err == nil {
		return u[:8]
	}
	return strconv.Itoa(os.Getpid()) + "." + strconv.FormatInt(time.Now().UnixNano(), 36)
}

// uuid4 is a random (version 4) UUID. The bytes come from getrandom(2)
// itself: crypto/rand would link a FIPS module whose initialisation every
// nook start would pay for. getrandom blocks until the kernel's pool is
// ready; it fails only where it is missing or filtered (ENOSYS, EPERM under
// a seccomp policy), and then /dev/urandom serves.
func uuid4() (string, error) {
	var b [16]byte
	n, err := 0, error(nil)
	for n < len(b) {
		var m int
		m, err = unix.Getrandom(b[n:], 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			break
		}
		n += m
	}
	if err != nil {
		f, ferr := os.Open("/dev/urandom")
		if ferr == nil {
			_, ferr = io.ReadFull(f, b[:])
			f.Close()
		}
		if ferr != nil {
			return "", fmt.Errorf("random bytes for an id: getrandom: %w; /dev/urandom: %w", err, ferr)
		}
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}

func (s *Store) cacheLock(exclusive bool) (*fileLock, error) {
	if err := privateDir(s.Cache.Dir); err != nil {
		return nil, err
	}
	p := filepath.Join(s.Cache.Dir, "cache.lock")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", p, err)
	}
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	for {
		err = unix.Flock(int(f.Fd()), how)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", p, err)
	}
	return &fileLock{f: f}, nil
}

// collect removes what killed begins and ends left behind: .new-* and
// .end-* directories whose lock nobody holds.
func (s *Store) collect() {
	// The store lock keeps a begin's new directory from being taken for
	// a dead one between its mkdir and the flock of its lock file.
	sl, err := s.storeLock()
	if err != nil {
		return
	}
	ents, _ := os.ReadDir(s.sessionsDir())
	type dead struct {
		dir string
		f   *os.File
	}
	var found []dead
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), ".new-") && !strings.HasPrefix(e.Name(), ".end-") {
			continue
		}
		dir := filepath.Join(s.sessionsDir(), e.Name())
		f, err := os.Open(filepath.Join(dir, "lock"))
		if err == nil {
			ok, _ := tryLock(f)
			if !ok {
				f.Close()
				continue
			}
		}
		found = append(found, dead{dir, f})
	}
	sl.Unlock()
	for _, d := range found {
		var st State
		var mode IDMode
		if readState(filepath.Join(d.dir, "state.json"), &st) == nil && st.IDMode != "" {
			mode = st.IDMode
		} else {
			mode = s.Mode()
		}
		removeTree(mode, d.dir)
		if d.f != nil {
			d.f.Close()
		}
	}
}

// storeLock is held while a begin makes its new directory and locks it,
// and while collect looks for dead ones.
func (s *Store) storeLock() (*fileLock, error) {
	return lockFile(filepath.Join(s.sessionsDir(), ".lock"), nil)
}

// ErrNoSession is wrapped by the error for an unknown session id.
var ErrNoSession = errors.New("no such session")

// Get reads a session's state. A "session:" prefix (schroot's namespace)
// is accepted.
func (s *Store) Get(id string) (*State, error) {
	id = strings.TrimPrefix(id, "session:")
	if err := ValidName(id); err != nil {
		return nil, fmt.Errorf("%w %q", ErrNoSession, id)
	}
	dir := filepath.Join(s.sessionsDir(), id)
	var st State
	if err := readState(filepath.Join(dir, "state.json"), &st); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if _, derr := os.Stat(dir); derr != nil {
				return nil, fmt.Errorf("%w %q (nook session list shows yours)", ErrNoSession, id)
			}
		}
		return &State{ID: id, Dir: dir}, fmt.Errorf("session %s is damaged (%v); nook session end %s removes it", id, err, id)
	}
	// A state file is nook's own, but a damaged or edited one must not
	// steer nook outside the store: the id must be the directory's and a
	// cache entry a plain SHA256-MODE name, not a path.
	if st.ID != id || (st.Entry != "" && !validEntryName(st.Entry)) {
		return &State{ID: id, Dir: dir}, fmt.Errorf("session %s is damaged (its state names id %q, cache entry %q); nook session end %s removes it", id, st.ID, st.Entry, id)
	}
	st.Dir = dir
	return &st, nil
}

// validEntryName reports whether name has the form of a cache entry's:
// 64 lower-case hex digits, "-", an id mode.
func validEntryName(name string) bool {
	sha, mode, ok := strings.Cut(name, "-")
	if !ok || len(sha) != 64 {
		return false
	}
	for _, c := range sha {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	switch IDMode(mode) {
	case IDHost, IDSubids, IDSingle:
		return true
	}
	return false
}

// List returns the caller's sessions, sorted by id. A session whose state
// cannot be read is listed with only its id and Dir, so it can be ended.
func (s *Store) List() ([]*State, error) {
	ents, err := os.ReadDir(s.sessionsDir())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read sessions in %s: %w", s.sessionsDir(), err)
	}
	var out []*State
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") || !e.IsDir() {
			continue
		}
		st, _ := s.Get(e.Name())
		if st != nil {
			out = append(out, st)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// End removes a session and everything in it, the files of subordinate
// ids included. It waits for a command running in the session (busy is
// called first). The directory is renamed away before it is deleted, so
// the id is free at once and a killed end leaves nothing that blocks it.
func (s *Store) End(id string, busy func()) error {
	return s.end(id, busy, false, false)
}

// Discard ends a session without packing it back into its tarball (a
// source session whose packing fails can still be ended this way).
func (s *Store) Discard(id string, busy func()) error {
	return s.end(id, busy, true, false)
}

// errBusy: a command holds the session and the caller would not wait.
var errBusy = errors.New("a command is running in the session")

// end ends session id; with nowait it fails with errBusy instead of
// waiting for a command that holds the session.
func (s *Store) end(id string, busy func(), discard, nowait bool) error {
	st, err := s.Get(id)
	if st == nil {
		return err
	}
	var lock *fileLock
	var lerr error
	if nowait {
		lock, lerr = tryLockFile(filepath.Join(st.Dir, "lock"))
	} else {
		lock, lerr = lockFile(filepath.Join(st.Dir, "lock"), busy)
	}
	if errors.Is(lerr, fs.ErrNotExist) {
		return fmt.Errorf("%w %q: it was ended meanwhile", ErrNoSession, st.ID)
	}
	if lerr != nil {
		return lerr
	}
	defer lock.Unlock()
	// Another end may have had the lock first (and a new session may
	// have taken the name since).
	if _, err := os.Stat(filepath.Join(st.Dir, "state.json")); errors.Is(err, fs.ErrNotExist) || !lock.names(filepath.Join(st.Dir, "lock")) {
		return fmt.Errorf("%w %q: it was ended while this waited", ErrNoSession, st.ID)
	}
	if st.Supervised() {
		if err := stopBoot(st); err != nil {
			return err
		}
	}
	// The user namespace holder goes first: it exits by itself once its
	// record is gone, but there is no reason to keep it that long.
	holder := sandbox.UserNSHolder{File: filepath.Join(st.Dir, usernsRecord)}
	if err := holder.Stop(); err != nil {
		return fmt.Errorf("end session %s: %w", st.ID, err)
	}
	if st.Repack != "" && !discard {
		if err := repack(st); err != nil {
			return fmt.Errorf("%w; the session is kept: end it again once the cause is fixed, or discard it with nook session end --discard %s", err, st.ID)
		}
	}
	u, err := uuid4()
	if err != nil {
		return fmt.Errorf("end session %s: %w", st.ID, err)
	}
	trash := filepath.Join(s.sessionsDir(), ".end-"+st.ID+"-"+u[:8])
	if err := os.Rename(st.Dir, trash); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w %q: it was ended meanwhile", ErrNoSession, st.ID)
		}
		return fmt.Errorf("end session %s: %w", st.ID, err)
	}
	sandbox.Phase("end: renamed")
	mode := st.IDMode
	if mode == "" {
		mode = s.Mode()
	}
	if err := removeTree(mode, trash); err != nil {
		return fmt.Errorf("end session %s: %w", st.ID, err)
	}
	if st.Entry != "" {
		s.dropUnused(st.Entry)
	}
	return nil
}

// dropOldEntries removes, after a new entry for a tarball was made, the
// entries of earlier contents of the same tarball that no session uses.
func (s *Store) dropOldEntries(fresh Entry) {
	all, _ := s.Cache.Entries()
	for _, e := range all {
		if e.Source == fresh.Source && e.Name != fresh.Name && e.IDMode == fresh.IDMode {
			s.dropUnused(e.Name)
		}
	}
}

// dropUnused removes entry name if no session uses it and it is not the
// current content of its tarball.
func (s *Store) dropUnused(name string) {
	cl, err := s.cacheLock(true)
	if err != nil {
		return
	}
	defer cl.Unlock()
	sha, mode, _ := strings.Cut(name, "-")
	e, err := s.Cache.entry(sha, IDMode(mode))
	if err != nil || s.Cache.current(e) || s.entryInUse(name) {
		return
	}
	s.Cache.remove(e)
}

func (s *Store) entryInUse(name string) bool {
	sessions, _ := s.List()
	for _, st := range sessions {
		if st.Entry == name || st.Entry == "" && st.Kind == "" {
			// A damaged session might use it: keep it.
			return true
		}
	}
	return false
}

// PruneResult says what Prune removed and kept.
type PruneResult struct {
	Removed []Entry
	Kept    []Entry
}

// Prune removes every cache entry no session uses (the next begin of its
// chroot unpacks it again), and what killed unpacks left behind.
func (s *Store) Prune() (*PruneResult, error) {
	cl, err := s.cacheLock(true)
	if err != nil {
		return nil, err
	}
	defer cl.Unlock()
	all, err := s.Cache.Entries()
	if err != nil {
		return nil, err
	}
	res := &PruneResult{}
	var first error
	for _, e := range all {
		if s.entryInUse(e.Name) {
			res.Kept = append(res.Kept, e)
			continue
		}
		// One entry that cannot go does not keep the others.
		if err := s.Cache.remove(e); err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		res.Removed = append(res.Removed, e)
	}
	// Unpacks in progress hold their key's lock; the rest are debris.
	tmps, _ := os.ReadDir(filepath.Join(s.Cache.Dir, "tmp"))
	for _, t := range tmps {
		name := t.Name()
		if !strings.HasPrefix(name, "gone-") {
			key, _, _ := strings.Cut(name, "-"+string(modeFromTmpName(name))+"-")
			f, err := os.OpenFile(filepath.Join(s.Cache.Dir, "locks", key+"-"+string(modeFromTmpName(name))+".lock"), os.O_RDWR|unix.O_CLOEXEC, 0)
			if err == nil {
				ok, _ := tryLock(f)
				f.Close()
				if !ok {
					continue
				}
			}
		}
		if err := removeTree(modeFromTmpName(name), filepath.Join(s.Cache.Dir, "tmp", name)); err != nil && first == nil {
			first = err
		}
	}
	return res, first
}

// ExistsError is Begin's failure where a session of the name asked for
// (BeginOptions.Name) exists already.
type ExistsError struct{ ID string }

func (e *ExistsError) Error() string {
	return fmt.Sprintf("session %q exists already (nook session end %s removes it)", e.ID, e.ID)
}
