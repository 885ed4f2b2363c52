package session

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"

	"github.com/nook-project/nook/sandbox"
	"github.com/nook-project/nook/sandbox/idmap"
)

// Bind is a host path shown inside a command.
type Bind struct {
	Source, Dest string
	ReadOnly     bool
}

// RunOptions describe one command in a session.
type RunOptions struct {
	// Args is the command; empty means the user's login shell.
	Args []string
	// User is a name or number in the session's passwd; empty is root. A
	// name missing there is added to the session (never to the cache).
	User string
	// Dir is the working directory inside; empty means the caller's when
	// it exists inside, else /.
	Dir string
	// NoNetwork gives the command its own network namespace with only lo.
	NoNetwork bool
	// Sync keeps the sync family working; by default it is suppressed,
	// since a session is disposable.
	Sync bool
	// Binds are host paths shown inside.
	Binds []Bind
	// Mounts are further mounts of the command (a profile's tmpfs, say),
	// after the binds.
	Mounts []sandbox.Mount
	// Personality is the command's execution domain (sandbox.Spec).
	Personality string
	// Env is the command's environment before Setenv: nil builds one from
	// the user's passwd entry (PATH, HOME, USER, LOGNAME, SHELL) and the
	// caller's TERM and locale variables, taken from CallerEnv.
	Env       []string
	CallerEnv []string
	// Setenv are KEY=VALUE pairs applied last.
	Setenv []string
	// Busy is called when the session is busy with another command, with
	// a description of it, before waiting.
	Busy func(holder string)
}

// Command is a prepared command: the session is locked for it until Close.
type Command struct {
	Spec *sandbox.Spec
	// Notes are one-line messages for the user (a user added, ...).
	Notes []string
	State *State
	lock  *fileLock
	// userns is the fd on the session's held user namespace that
	// Spec.EnterUserNS names, or -1.
	userns int
}

// Close releases the session for the next command.
func (c *Command) Close() {
	if c.userns >= 0 {
		syscall.Close(c.userns)
		c.userns = -1
	}
	if c.lock != nil {
		c.lock.f.Truncate(0)
		c.lock.Unlock()
		c.lock = nil
	}
}

// running describes the command holding a session.
type running struct {
	Pid  int      `json:"pid"`
	Args []string `json:"args"`
}

// Prepare locks session id for one command and returns its sandbox spec.
//
// Commands in one session run one at a time: an overlay upper directory in
// two live overlay mounts is undefined behaviour in the kernel, and every
// command mounts its own overlay. A second command waits until the first
// ends (o.Busy says so first). The lock is an flock held by the nook
// process that runs the command, so it goes when that process dies.
func (s *Store) Prepare(id string, o RunOptions) (*Command, error) {
	st, err := s.Get(id)
	if err != nil {
		return nil, err
	}
	lock, err := lockFile(filepath.Join(st.Dir, "lock"), func() {
		if o.Busy != nil {
			var r running
			desc := "another command"
			if readJSON(filepath.Join(st.Dir, "lock"), &r) == nil {
				desc = fmt.Sprintf("%q (nook pid %d)", strings.Join(r.Args, " "), r.Pid)
			}
			o.Busy(desc)
		}
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w %q: it was ended meanwhile", ErrNoSession, st.ID)
	}
	if err != nil {
		return nil, err
	}
	sandbox.Phase("run: locked")
	if st.Supervised() {
		lock.Unlock()
		return nil, fmt.Errorf("%w: session %s's commands go through its agent (Store.RunBooted), not a sandbox of their own", ErrBooted, st.ID)
	}
	cmd := &Command{State: st, lock: lock, userns: -1}
	ok := false
	defer func() {
		if !ok {
			cmd.Close()
		}
	}()
	// The state may have gone while this waited (session end), and a
	// new session may have taken the name since.
	if _, err := os.Stat(filepath.Join(st.Dir, "state.json")); err != nil || !lock.names(filepath.Join(st.Dir, "lock")) {
		return nil, fmt.Errorf("%w %q: it ended while this command waited", ErrNoSession, st.ID)
	}
	if _, lower := st.layers(); lower != "" {
		if _, err := os.Stat(lower); err != nil {
			return nil, fmt.Errorf("session %s: its tree %s is gone: %w", st.ID, lower, err)
		}
	}
	u, added, err := s.resolveUser(st, o.User, len(o.Args) == 0)
	if err != nil {
		return nil, err
	}
	if added {
		cmd.Notes = append(cmd.Notes, fmt.Sprintf("added user %s (uid %d, gid %d, home %s) to session %s", u.Name, u.UID, u.GID, u.Home, st.ID))
	}
	spec, err := commandSpec(st, u, o)
	if err != nil {
		return nil, err
	}
	cmd.Spec = spec
	if st.IDMode == IDSubids {
		if idle := holdIdle(); idle > 0 {
			// Best effort: without a held namespace the command makes
			// its own, with the same maps, and reports any failure.
			// Start marks the holder used once the command runs in it,
			// and replaces it when its namespace refuses the command's
			// (sandbox.ErrHeldUserNSRefused).
			h := &sandbox.UserNSHolder{File: filepath.Join(st.Dir, usernsRecord), Idle: idle}
			if fd, _, err := h.Enter(spec.Identity); err == nil {
				cmd.userns = fd
				spec.EnterUserNS = &cmd.userns
				spec.HeldUserNS = h
			}
			sandbox.Phase("run: user namespace")
		}
	}
	// What holds the session, for a command that waits: in the lock file
	// itself (no file made and removed per command).
	b := appendRunning(nil, running{Pid: os.Getpid(), Args: spec.Args})
	lock.f.WriteAt(b, 0)
	lock.f.Truncate(int64(len(b)))
	ok = true
	return cmd, nil
}

// usernsRecord names the session's user namespace holder (see
// sandbox.UserNSHolder) in its directory.
const usernsRecord = "userns"

// holdIdle is how long a session's user namespace is kept after its last
// command: NOOK_USERNS_IDLE (a Go duration; 0 turns holding off), by
// default 60 s. Only sessions with subordinate ids hold one: the two setuid
// helpers that write such maps are most of a command's start-up, while a
// single-id namespace costs the kernel next to nothing to make.
func holdIdle() time.Duration {
	v := os.Getenv("NOOK_USERNS_IDLE")
	if v == "" {
		return 60 * time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 60 * time.Second
	}
	return d
}

// resolveUser finds the user in the session's passwd, adding it when
// missing. Root running a given command needs nothing from passwd (its
// home is /root and its shell is not started), which spares most commands
// the lookup.
func (s *Store) resolveUser(st *State, name string, shell bool) (User, bool, error) {
	if name == "" {
		name = "root"
	}
	if name == "root" && !shell {
		return User{Name: "root", Home: "/root", Shell: "/bin/sh"}, false, nil
	}
	upper, lower := st.layers()
	passwd, err := readLayered(upper, lower, "etc/passwd")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return User{}, false, fmt.Errorf("read the session's /etc/passwd: %w", err)
	}
	if u, ok := parsePasswd(passwd, name); ok {
		if group, err := readLayered(upper, lower, "etc/group"); err == nil {
			u.Groups = memberOf(group, u.Name)
		}
		return u, false, nil
	}
	if name == "root" || name == "0" {
		return User{Name: "root", Home: "/root", Shell: "/bin/sh"}, false, nil
	}
	if n, err := strconv.Atoi(name); err == nil {
		// A bare number without an entry: run as it, as schroot does.
		return User{Name: name, UID: n, GID: n, Home: "/", Shell: "/bin/sh"}, false, nil
	}
	if err := ValidName(name); err != nil {
		return User{}, false, fmt.Errorf("user: %w", err)
	}
	group, err := readLayered(upper, lower, "etc/group")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return User{}, false, fmt.Errorf("read the session's /etc/group: %w", err)
	}
	uids, _ := usedIDs(passwd, 2)
	gids, gnames := usedIDs(group, 2)
	u := User{Name: name, UID: pickID(uids, os.Getuid()), Home: "/home/" + name, Shell: "/bin/sh"}
	if g, ok := gnames[name]; ok {
		u.GID = g
	} else {
		u.GID = pickID(gids, os.Getgid())
	}
	if err := addUser(st, u); err != nil {
		return User{}, false, err
	}
	return u, true, nil
}

// addUser runs the adduser helper in the session, as root of its mapping,
// with the session's overlay mounted on its mnt directory.
func addUser(st *State, u User) error {
	spec, err := treeHelperSpec(st, st.Dir, "", "adduser", st.mnt(), u.Name, strconv.Itoa(u.UID), strconv.Itoa(u.GID), u.Home)
	if err != nil {
		return err
	}
	return runHelperSpec("add user "+u.Name+" to session "+st.ID, spec)
}

// commandSpec builds the sandbox of one command: the overlay as /, fresh
// /proc, /sys read-only, a minimal /dev, the host's resolv.conf and hosts
// when networked, hostname the chroot's name, fresh user, mount, pid, ipc
// and uts namespaces, and a network namespace with --no-network.
func commandSpec(st *State, u User, o RunOptions) (*sandbox.Spec, error) {
	id, err := sandboxIdentity(st.IDMode, u.UID, u.GID)
	if err != nil {
		return nil, err
	}
	for _, g := range u.Groups {
		// Only groups the session maps can be set.
		if st.IDMode != IDSubids || g < idmap.SpanIDs {
			id.Groups = append(id.Groups, g)
		}
	}
	var mounts []sandbox.Mount
	if st.Copy {
		mounts = append(mounts, sandbox.Mount{Op: sandbox.OpBind, Source: st.Location(), Dest: "/"})
	} else if st.Kind == KindHost && st.IDMode != IDHost {
		hm, err := hostMounts(st)
		if err != nil {
			return nil, err
		}
		mounts = append(mounts, hm...)
	} else {
		mounts = append(mounts, sandbox.Mount{Op: sandbox.OpOverlay, Dest: "/", Lower: []string{st.Lower}, Upper: st.upper(), Work: st.work()})
	}
	// The session's own overlays. nook made their work directories, so
	// the mark a volatile mount leaves there is nook's to clear; and
	// unless --sync, they are volatile: the unmount at the end of the
	// command does not wait for the upper filesystem's writeback
	// (docs/sessions.md, "Sync").
	for i := range mounts {
		if mounts[i].Op == sandbox.OpOverlay && mounts[i].Upper != "" {
			mounts[i].ClearVolatileMark = true
			mounts[i].Volatile = !o.Sync
		}
	}
	mounts = append(mounts, []sandbox.Mount{
		{Op: sandbox.OpProc, Dest: "/proc"},
		{Op: sandbox.OpDev, Dest: "/dev"},
		{Op: sandbox.OpBind, Source: "/sys", Dest: "/sys", ReadOnly: true},
	}...)
	if !o.NoNetwork {
		upper, lower := st.layers()
		for _, f := range []string{"/etc/resolv.conf", "/etc/hosts"} {
			// Only onto a plain file (or none): a command may have made
			// it a symlink (systemd-resolved's stub is one, dangling
			// here), and a bind that cannot land would fail every later
			// command of the session. The session's own file serves then.
			if dest, ok := fileBindDest(upper, lower, f[1:]); ok {
				mounts = append(mounts, sandbox.Mount{Op: sandbox.OpBind, Source: f, Dest: dest, ReadOnly: true, Try: true})
			}
		}
	}
	for _, b := range o.Binds {
		if !filepath.IsAbs(b.Source) {
			abs, err := filepath.Abs(b.Source)
			if err != nil {
				return nil, fmt.Errorf("bind %s: %w", b.Source, err)
			}
			b.Source = abs
		}
		dest := b.Dest
		if dest == "" {
			dest = b.Source
		}
		if !path.IsAbs(dest) {
			return nil, fmt.Errorf("bind destination %q is not an absolute path", dest)
		}
		mounts = append(mounts, sandbox.Mount{Op: sandbox.OpBind, Source: b.Source, Dest: dest, ReadOnly: b.ReadOnly})
	}
	mounts = append(mounts, o.Mounts...)
	shell := u.Shell
	if shell == "" {
		shell = "/bin/sh"
	}
	spec := &sandbox.Spec{
		Args:          o.Args,
		Env:           commandEnv(u, shell, o),
		Dir:           o.Dir,
		Namespaces:    sandbox.Namespaces{PID: true, IPC: true, UTS: true, Net: o.NoNetwork},
		Hostname:      hostname(st.Chroot),
		Identity:      id,
		Mounts:        mounts,
		SortMounts:    true,
		SuppressSync:  !o.Sync,
		Personality:   o.Personality,
		SuppressChown: st.IDMode == IDSingle,
	}
	if len(spec.Args) == 0 {
		spec.Args = []string{shell}
		spec.Argv0 = "-" + path.Base(shell)
	}
	if u.UID != 0 {
		// A build user keeps no capabilities, as it would not on a host.
		spec.Caps.Drop = []string{"ALL"}
	}
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	return spec, nil
}

// hostname is the chroot's name cut to what the kernel allows.
func hostname(name string) string {
	if len(name) > 64 {
		name = name[:64]
	}
	return name
}

func commandEnv(u User, shell string, o RunOptions) []string {
	env := o.Env
	if env == nil {
		p := "/usr/local/bin:/usr/bin:/bin:/usr/games"
		if u.UID == 0 {
			p = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
		}
		home := u.Home
		if home == "" {
			home = "/"
		}
		env = []string{"PATH=" + p, "HOME=" + home, "USER=" + u.Name, "LOGNAME=" + u.Name, "SHELL=" + shell}
		env = append(env, keptCallerEnv(o.CallerEnv)...)
	}
	for _, kv := range o.Setenv {
		k, _, _ := strings.Cut(kv, "=")
		out := env[:0:0]
		for _, e := range env {
			if !strings.HasPrefix(e, k+"=") {
				out = append(out, e)
			}
		}
		env = append(out, kv)
	}
	return env
}

// fileBindDest reports whether a file can be bound onto rel (e.g.
// "etc/resolv.conf") in the session's tree as a command sees it, and the
// absolute path to bind it on: the name is a regular file, a whiteout or
// absent, below plain directories, or a symlink (followed inside the tree)
// to an existing regular file -- then the bind goes on that file, not on
// the name: the mounts are made parents first, so a link into another
// mount (a host session's /etc/resolv.conf into /run, systemd-resolved's
// stub) would otherwise be followed before that mount is there. upper is
// looked at first (empty for a copy session), then lower; paths resolve
// inside each layer, as readLayered's do. When unsure, it says no: the
// host's file is then not bound, and the session's own serves.
func fileBindDest(upper, lower, rel string) (string, bool) {
	return bindFits(upper, lower, rel, 0)
}

func bindFits(upper, lower, rel string, links int) (string, bool) {
	no := func() (string, bool) { return "", false }
	yes := func(ok bool) (string, bool) {
		if !ok {
			return no()
		}
		return "/" + rel, true
	}
	if links > 8 {
		return no()
	}
	// A parent in the upper layer that is not a plain directory (a
	// symlink a command made, a whiteout) makes the layers below
	// misleading: no bind then.
	if upper != "" && !plainDirs(upper, path.Dir(rel)) {
		return no()
	}
	for _, root := range []string{upper, lower} {
		if root == "" {
			continue
		}
		dir, err := pathrs.OpenInRoot(root, path.Dir(rel))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && root == upper {
				continue
			}
			// A parent missing from the tree is made for the mount
			// point, but not at the end of a symlink.
			return yes(errors.Is(err, fs.ErrNotExist) && links == 0)
		}
		var st unix.Stat_t
		err = unix.Fstatat(int(dir.Fd()), path.Base(rel), &st, unix.AT_SYMLINK_NOFOLLOW)
		var target string
		if err == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
			buf := make([]byte, 4096)
			n, rerr := unix.Readlinkat(int(dir.Fd()), path.Base(rel), buf)
			if rerr != nil {
				dir.Close()
				return no()
			}
			target = string(buf[:n])
		}
		dir.Close()
		switch {
		case err == unix.ENOENT:
			if root == upper && !opaqueParent(upper, rel) {
				continue
			}
			return yes(links == 0)
		case err != nil:
			return no()
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			return yes(true)
		case unix.S_IFCHR:
			return yes(root == upper && st.Rdev == 0 && links == 0) // a whiteout: absent
		case unix.S_IFLNK:
			if !path.IsAbs(target) {
				target = path.Join("/", path.Dir(rel), target)
			}
			return bindFits(upper, lower, path.Clean(target)[1:], links+1)
		}
		return no()
	}
	return yes(links == 0)
}

// plainDirs reports whether every component of dir that exists in the
// layer at root is a directory (not followed).
func plainDirs(root, dir string) bool {
	p := root
	for _, c := range strings.Split(dir, "/") {
		if c == "" || c == "." {
			continue
		}
		p = filepath.Join(p, c)
		var st unix.Stat_t
		err := unix.Lstat(p, &st)
		if err == unix.ENOENT {
			return true
		}
		if err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return false
		}
	}
	return true
}

// keptCallerEnv is what a session's command gets of the caller's
// environment: the terminal type and the locale, nothing else.
func keptCallerEnv(callerEnv []string) []string {
	var out []string
	for _, kv := range callerEnv {
		k, _, _ := strings.Cut(kv, "=")
		if k == "TERM" || k == "LANG" || k == "LANGUAGE" || strings.HasPrefix(k, "LC_") {
			out = append(out, kv)
		}
	}
	return out
}
