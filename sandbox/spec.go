package sandbox

import (
	"fmt"
	"os"
	"path"
	"slices"
	"strings"
)

// Spec is everything a sandbox needs, as plain data. Faces (the nook CLI, the
// bwrap and schroot personalities, embedders) build a Spec; Start runs it. It is
// serialised as JSON to the sandbox init, so it holds no behaviour and no
// process-local handles except the fields marked `json:"-"`.
type Spec struct {
	// Args is the command and its arguments. Args[0] is looked up in PATH
	// (from Env) inside the sandbox unless it contains a slash.
	Args []string `json:"args"`
	// Argv0, when set, replaces Args[0] in the argv the command sees.
	Argv0 string `json:"argv0,omitempty"`
	// Env is the command's whole environment ("KEY=value").
	Env []string `json:"env"`
	// Dir is the working directory inside. Empty means the caller's own
	// directory when it exists inside the sandbox, else "/".
	Dir string `json:"dir,omitempty"`
	// CallerDir is filled in by Start: the caller's working directory, used
	// when Dir is empty.
	CallerDir string `json:"caller_dir,omitempty"`

	Namespaces Namespaces `json:"namespaces"`
	// Hostname is set inside a new UTS namespace.
	Hostname string `json:"hostname,omitempty"`

	// Identity chooses the id mapping of the user namespace.
	Identity Identity `json:"identity"`

	// Mounts are the filesystem operations that build the new root, which
	// starts as an empty tmpfs. With SortMounts they are ordered by the
	// mount plan (parents first); otherwise they run in the order given.
	Mounts     []Mount `json:"mounts,omitempty"`
	SortMounts bool    `json:"sort_mounts,omitempty"`
	// ScratchDir is where an overlay's throwaway upper goes when tmpfs
	// cannot hold one (inside a user namespace before Linux 6.6; see
	// tmpupper.go): a directory on a disk-backed filesystem. Empty: the
	// caller's cache directory ($XDG_CACHE_HOME/nook or ~/.cache/nook),
	// else /var/tmp/nook-UID.
	ScratchDir string `json:"scratch_dir,omitempty"`
	// NoPivotRoot forces the MS_MOVE + chroot fallback that is otherwise used
	// only when pivot_root(2) fails (the root is not a mount point, as in an
	// initramfs). It exists so the fallback can be exercised deliberately.
	NoPivotRoot bool `json:"no_pivot_root,omitempty"`

	// SuppressChown makes the chown family succeed without effect, where
	// chown cannot work: in a user namespace the sandbox makes, or in a
	// single-id one nook runs in. As mkosi-sandbox's, it is ignored
	// elsewhere (real root without a user namespace chowns for real).
	SuppressChown bool `json:"suppress_chown,omitempty"`
	// SuppressSync makes the sync family succeed without effect.
	SuppressSync bool `json:"suppress_sync,omitempty"`
	// ExecLabel and FileLabel are SELinux labels, for hosts where SELinux
	// is active (bwrap's --exec-label, --file-label): the command is
	// executed with ExecLabel (/proc/thread-self/attr/exec); files the
	// sandbox creates get FileLabel (attr/fscreate), and so do its tmpfs
	// mounts (context=). Specs with labels run on the Go init.
	ExecLabel string `json:"exec_label,omitempty"`
	FileLabel string `json:"file_label,omitempty"`
	// Personality is the execution domain of the command: "" keeps the
	// caller's, "linux" is the native one, "linux32" makes uname report a
	// 32-bit machine (for i386 or armhf chroots on 64-bit hosts, as
	// linux32(8) and schroot's personality key do).
	Personality string `json:"personality,omitempty"`

	// Caps is what happens to capabilities; see Capabilities.
	Caps Capabilities `json:"caps"`
	// NoNewPrivs sets PR_SET_NO_NEW_PRIVS before exec, so setuid binaries
	// and file capabilities inside cannot raise privileges. Off by default:
	// inside a user namespace they cannot gain more than the namespace
	// holds, and package managers run setuid helpers.
	NoNewPrivs bool `json:"no_new_privs,omitempty"`

	// DieWithParent kills the sandbox when the process that started it dies.
	DieWithParent bool `json:"die_with_parent,omitempty"`
	// NewSession calls setsid(2) for the command, detaching it from the
	// terminal (and from terminal job control).
	NewSession bool `json:"new_session,omitempty"`
	// AsPID1 runs the command itself as pid 1 of a new pid namespace instead
	// of under nook's small reaper.
	AsPID1 bool `json:"as_pid1,omitempty"`

	// Fds are the caller's files the command receives, at the given numbers.
	Fds []FD `json:"fds,omitempty"`
	// PackFds renumbers Fds to 3, 4, ... and sets LISTEN_FDS and LISTEN_PID.
	PackFds bool `json:"pack_fds,omitempty"`
	// ListenPID sets LISTEN_PID to the command's pid whenever its final
	// environment has LISTEN_FDS, packed fds or not (mkosi-sandbox 25.3,
	// whose caller sets LISTEN_FDS itself and relies on it).
	ListenPID bool `json:"listen_pid,omitempty"`

	// Stdin, Stdout and Stderr default to the caller's own 0, 1 and 2.
	Stdin  *os.File `json:"-"`
	Stdout *os.File `json:"-"`
	Stderr *os.File `json:"-"`
	// DirectStdio passes Stdin, Stdout and Stderr as they are, also where
	// the command could not reopen them through /proc/self/fd or /dev/std*
	// (a pipe or file of another user's): by default nook relays those
	// through pipes the command can reopen (with a pid namespace only).
	// Wait returns once the relays delivered what the command wrote,
	// unless the command was told to end (see Process.Signal).
	DirectStdio bool `json:"direct_stdio,omitempty"`

	// The fields below were added for the bwrap personality (blockfds.go,
	// lockfiles.go, userfilters.go, execfallback.go, joinns.go,
	// usernslimit.go, modes.go). Each one's zero value keeps the
	// behaviour described above.

	// OnForked, when set, is called in the parent as soon as the sandbox's
	// first process exists with its namespaces (and, unless NoIDMaps, its
	// id maps), before setup finishes. bwrap's --info-fd reports at that
	// point, so a caller can read the pid before releasing BlockFD or
	// UserNSBlockFD.
	OnForked func(pid int) `json:"-"`
	// BeforeFork, when set, is called once in the parent right before the
	// sandbox's first process is created, after the work that needs none
	// (checks, id maps, the compiled set-up). A front end whose signal
	// subscription is still being made (SubscribeForwarded) waits for it
	// here, so that the wait overlaps that work: nothing it must forward
	// to can exist before this point.
	BeforeFork func() `json:"-"`
	// BeforeExec, when set, is called in the parent once the sandbox is
	// set up (mounts, root switch, ids, capabilities, filters), right
	// before its process executes the command; the command starts when it
	// returns. mkosi-sandbox's --suspend stops the caller's process at
	// that point (SIGSTOP) until it is continued.
	BeforeExec func() `json:"-"`
	// BlockFD, when set, is a caller fd the init reads from (until data or
	// end of file) after the mounts, before the command starts.
	BlockFD *int `json:"block_fd,omitempty"`
	// UserNSBlockFD, when set, is a caller fd the init reads from before
	// any setup; with NoIDMaps, whoever writes to it has written the id
	// maps of the sandbox's user namespace (bwrap's --userns-block-fd).
	UserNSBlockFD *int `json:"userns_block_fd,omitempty"`
	// NoIDMaps: the parent writes no uid/gid map for the new user namespace.
	NoIDMaps bool `json:"no_id_maps,omitempty"`
	// LockFiles are paths inside the sandbox that the init holds a read
	// lock on (fcntl F_SETLK) while the command runs. They imply KeepInit.
	LockFiles []string `json:"lock_files,omitempty"`
	// KeepInit starts the command under nook's init even without a pid
	// namespace, so that a process outlives the exec to hold LockFiles.
	KeepInit bool `json:"keep_init,omitempty"`
	// SeccompPrograms are compiled classic BPF programs (arrays of struct
	// sock_filter, native byte order) installed after every other setup
	// step, in order, on top of nook's own filter.
	SeccompPrograms [][]byte `json:"seccomp_programs,omitempty"`
	// BwrapModes creates directories, mount points and tmpfs roots with
	// bwrap's modes instead of nook's: 0755 whatever the name (nook gives
	// directories named tmp 1777), missing parents of binds and symlinks
	// 0700, and parents made for an operation with a mode lose the group or
	// other bits that mode lacks.
	BwrapModes bool `json:"bwrap_modes,omitempty"`
	// BwrapMountFlags gives mounts bwrap's flags: every bind (and every
	// device node bound by OpDev) nosuid, so setuid and setgid bits and
	// file capabilities of what is bound give nothing; OpDev's tmpfs
	// nosuid,nodev where nook's own is nosuid,noexec.
	BwrapMountFlags bool `json:"bwrap_mount_flags,omitempty"`
	// HomeFallback: when Dir is empty and the caller's directory does not
	// exist inside, try $HOME (from Env) before "/".
	HomeFallback bool `json:"home_fallback,omitempty"`
	// SetPWD sets PWD in the command's environment to its working
	// directory.
	SetPWD bool `json:"set_pwd,omitempty"`
	// JoinUserNS, when set, is a caller fd on an existing user namespace
	// the sandbox is made in, instead of a new one (bwrap's --userns); its
	// id maps are what they are (set NoIDMaps). See joinns.go.
	JoinUserNS *int `json:"-"`
	// EnterUserNS, when set, is a caller fd on a user namespace whose id
	// maps are exactly the ones Identity asks for, typically one kept
	// alive between sandboxes by a UserNSHolder: the sandbox is made in it
	// (every other namespace new, as usual) and no maps are written, which
	// saves the newuidmap and newgidmap runs of the subordinate-id modes.
	// Only the raw engine enters it; where the Go init has to run, the
	// sandbox gets a new user namespace with the same maps instead. Not
	// for real root without a user namespace.
	EnterUserNS *int `json:"-"`
	// HeldUserNS, with EnterUserNS, is the holder that keeps that
	// namespace. Start marks it used (UserNSHolder.Used) once the sandbox
	// runs in it, and when the namespace refuses the sandbox's new
	// namespaces (ErrHeldUserNSRefused: a user.max_* limit lowered inside
	// it) ends that holder, starts a fresh one and makes the sandbox
	// there. Without it, Start returns that error.
	HeldUserNS *UserNSHolder `json:"-"`
	// JoinPIDNS, when set, is a caller fd on an existing pid namespace the
	// sandbox starts in, or below (with Namespaces.PID) (bwrap's --pidns).
	JoinPIDNS *int `json:"-"`
	// DisableUserNS runs the command in a user namespace nested in the
	// sandbox's, whose parent allows no further user namespaces: the
	// command cannot make any (bwrap's --disable-userns). See usernslimit.go.
	DisableUserNS bool `json:"disable_userns,omitempty"`
	// AssertUserNSDisabled fails the start unless making a user namespace
	// is refused where the command runs (bwrap's --assert-userns-disabled).
	AssertUserNSDisabled bool `json:"assert_userns_disabled,omitempty"`
	// ShellFallback runs a command the kernel cannot execute (ENOEXEC: a
	// script without "#!") with /bin/sh, as execvp(3) in glibc does, and
	// so bwrap.
	ShellFallback bool `json:"shell_fallback,omitempty"`
	// UserNS2, when set, is a caller fd on a user namespace (a descendant
	// of the sandbox's) the command is moved into once the sandbox is set
	// up (bwrap's --userns2).
	UserNS2 *int `json:"userns2,omitempty"`

	// SharedPropagation makes the sandbox's mounts shared once it is set
	// up (mkosi-sandbox's default), so that a mount the command makes
	// under one of them also appears at its other places inside (a bind
	// of a bind), instead of nook's default, where each mount is private
	// (slave of the host's where nook runs without a user namespace). It
	// forms a new peer group of the sandbox's own: nothing reaches the
	// host, nor comes from it. Locked mounts stay locked.
	SharedPropagation bool `json:"shared_propagation,omitempty"`
}

// Namespaces lists the namespaces to create. A mount namespace is always
// created. The user namespace follows Identity.
type Namespaces struct {
	PID    bool `json:"pid,omitempty"`
	Net    bool `json:"net,omitempty"`
	IPC    bool `json:"ipc,omitempty"`
	UTS    bool `json:"uts,omitempty"`
	Cgroup bool `json:"cgroup,omitempty"`
}

// UserNS says whether a user namespace is made.
type UserNS string

const (
	// UserNSAuto makes one unless the caller is real root.
	UserNSAuto UserNS = ""
	// UserNSAlways makes one even for real root.
	UserNSAlways UserNS = "always"
	// UserNSNever makes none: only real root, or a process holding
	// CAP_SYS_ADMIN in its own user namespace, can then mount.
	UserNSNever UserNS = "never"
)

// personalities are the values of Spec.Personality, as personality(2)
// takes them (-1 for "" leaves it alone).
var personalities = map[string]int{"": -1, "linux": 0x0000, "linux32": 0x0008}

// Identity is how the caller appears inside.
type Identity struct {
	UserNS UserNS `json:"userns,omitempty"`
	// Mode is one of "self" (default), "root", "subids-root", "subids-self";
	// see package idmap.
	Mode string `json:"mode,omitempty"`
	// UID and GID, when set, are the ids the command runs as inside. In the
	// single-id modes they also choose what the caller is mapped to. When
	// a uid is switched to (real root, or the subordinate-id modes) without
	// a GID, the gid is the same number (the user-private group), never
	// the current group 0.
	UID *int `json:"uid,omitempty"`
	GID *int `json:"gid,omitempty"`
	// Groups are the supplementary groups after a switch of ids (as
	// initgroups would set them for the user inside); empty means the
	// gid alone. Ignored where setgroups is denied.
	Groups []int `json:"groups,omitempty"`
	// DenySetgroups writes "deny" to the new user namespace's setgroups
	// also for real root, which otherwise allows it (bwrap denies it).
	DenySetgroups bool `json:"deny_setgroups,omitempty"`
}

// Capabilities says which capabilities the command keeps. By default the
// command keeps every capability its user namespace grants (raised into the
// ambient set when it runs as a non-root uid, so it can still mount), or, for
// real root without a user namespace, root's usual set.
type Capabilities struct {
	// Add and Drop are capability names ("CAP_SYS_ADMIN" or "sys_admin") or
	// "ALL", applied in order: Drop first, then Add.
	Add  []string `json:"add,omitempty"`
	Drop []string `json:"drop,omitempty"`
	// How the sets are left, for the bwrap personality (zero values: as
	// described above). AmbientAlways raises the kept capabilities into
	// the ambient set for uid 0 too. KeepBounding leaves the bounding set
	// alone (only honoured with NoNewPrivs). LeaveSets leaves the
	// inheritable and ambient sets empty, as bwrap leaves root's when not
	// asked to change capabilities.
	AmbientAlways bool `json:"ambient_always,omitempty"`
	KeepBounding  bool `json:"keep_bounding,omitempty"`
	LeaveSets     bool `json:"leave_sets,omitempty"`
}

// FD passes the caller's file Outside to the command as fd Inside.
type FD struct {
	Inside  int `json:"inside"`
	Outside int `json:"outside"`
}

// Op is a kind of filesystem operation.
type Op string

// The filesystem operations. Sources of bind-like operations are host paths;
// destinations are paths inside the new root.
const (
	OpBind      Op = "bind"       // Source onto Dest (ReadOnly for ro-bind); Try ignores a missing source
	OpDevBind   Op = "dev-bind"   // like bind, but device nodes stay usable
	OpTmpfs     Op = "tmpfs"      // a new tmpfs (Size, Mode)
	OpProc      Op = "proc"       // a new procfs
	OpDev       Op = "dev"        // a minimal /dev on a tmpfs
	OpMqueue    Op = "mqueue"     // a new mqueue filesystem
	OpDir       Op = "dir"        // a directory (Mode, default 0755)
	OpSymlink   Op = "symlink"    // a symlink at Dest pointing to Source
	OpWrite     Op = "write"      // a file at Dest holding Data (Mode, default 0644)
	OpFile      Op = "file"       // a file at Dest with the contents read from fd FD
	OpChmod     Op = "chmod"      // chmod Dest to Mode
	OpRemountRO Op = "remount-ro" // make the mount at Dest read-only
	OpOverlay   Op = "overlay"    // overlayfs: Lower (top first), Upper+Work or a tmpfs upper
)

// Mount is one filesystem operation.
type Mount struct {
	Op Op `json:"op"`
	// Source is the host path a bind shows (the link target of a
	// symlink). A relative host path here or in Lower, Upper and Work is
	// the caller's working directory's (Spec.CallerDir), as a shell user
	// means it: joined as text, so "link/.." is the working directory
	// itself (bwrap's realpath would give link's target's parent).
	Source string `json:"source,omitempty"`
	Dest   string `json:"dest"`
	// ReadOnly makes a bind or overlay read-only (applied last).
	ReadOnly bool `json:"ro,omitempty"`
	// Try skips a bind whose source does not exist; on OpDir it leaves
	// a non-directory already at Dest as it is (mkosi-sandbox's --dir
	// makes nothing where anything exists).
	Try bool `json:"try,omitempty"`
	// Mode is the permission bits for tmpfs, dir, write, file and chmod,
	// and for an overlay with a throwaway upper (TmpfsUpper) those of that
	// upper directory, which the overlay's root shows; nil means the
	// operation's default (0755 for the upper).
	Mode *uint32 `json:"mode,omitempty"`
	// Size limits a tmpfs, in bytes (0: the kernel default).
	Size int64 `json:"size,omitempty"`
	// Data is the content of OpWrite.
	Data []byte `json:"data,omitempty"`
	// FD is the caller's fd that OpFile reads its content from.
	FD int `json:"fd,omitempty"`
	// Lower are the overlay's lower directories, uppermost first.
	Lower []string `json:"lower,omitempty"`
	// Upper and Work are the overlay's host directories; both empty with
	// TmpfsUpper means a throwaway tmpfs upper; both empty without it means a
	// read-only overlay.
	Upper      string `json:"upper,omitempty"`
	Work       string `json:"work,omitempty"`
	TmpfsUpper bool   `json:"tmpfs_upper,omitempty"`
	// Volatile mounts an overlay with a host Upper "volatile": no sync
	// reaches the upper filesystem, neither an fsync inside nor the
	// sync of the whole upper filesystem the kernel makes at every
	// unmount otherwise (which waits for every dirty page of that
	// filesystem, not only the overlay's). After a crash the upper may
	// be incomplete. overlayfs marks the work directory of a volatile
	// mount (work/incompat/volatile) and refuses to mount it again until
	// the mark is gone; see ClearVolatileMark.
	Volatile bool `json:"volatile,omitempty"`
	// ClearVolatileMark removes that mark from Work before mounting: the
	// caller vouches that the upper directory is intact (the machine has
	// not crashed while it was mounted volatile, or its loss is
	// accepted).
	ClearVolatileMark bool `json:"clear_volatile_mark,omitempty"`
	// FromFD makes a bind take its source from the caller's fd FD (an
	// open directory or O_PATH fd) instead of Source.
	FromFD bool `json:"from_fd,omitempty"`
	// SourceInRoot makes a bind's Source a path inside the new root, as
	// built so far, instead of a host path (bwrap binds parts of a new
	// /proc read-only over themselves).
	SourceInRoot bool `json:"source_in_root,omitempty"`
	// FallbackBind makes OpProc bind the host's /proc when the kernel
	// refuses a new procfs (the sandbox has no pid namespace of its own),
	// as bwrap does.
	FallbackBind bool `json:"fallback_bind,omitempty"`
	// AsBind makes OpWrite and OpFile always put the file on the staging
	// tmpfs and bind it onto Dest (ReadOnly applies), as bwrap's
	// --bind-data does, instead of creating it in place when they can.
	AsBind bool `json:"as_bind,omitempty"`
	// NoFollow makes OpBind and OpDevBind bind a symlink at Source as the
	// link itself instead of what it points to (mkosi-sandbox's
	// --bind-nofollow): a dangling link can be bound too. Dest becomes (or
	// must already be) a file to mount it on.
	NoFollow bool `json:"no_follow,omitempty"`
	// DestNoFollow makes OpBind and OpDevBind of a source that is not a
	// directory mount on Dest's symlink itself, where Dest's last
	// component is a symlink, instead of on what it points to
	// (mkosi-sandbox's rule for any bind). A directory source follows
	// Dest as usual.
	DestNoFollow bool `json:"dest_no_follow,omitempty"`
	// FollowDest resolves every symlink in Dest, the last component's
	// too, inside the new root as built by the operations before it, and
	// runs the operation where that leads (mkosi-sandbox's rule for every
	// operation but --symlink): a dangling link leads to where its target
	// would be, which the operation then makes. A bind of a non-directory
	// with DestNoFollow still mounts on a last-component link. Only the Go
	// init implements it: the raw engine hands such a sandbox to the Go
	// init.
	FollowDest bool `json:"follow_dest,omitempty"`
	// Replace makes OpSymlink cover what is already at Dest (a file, a
	// device node, or a symlink to another target) with the new symlink,
	// mounted over it, instead of failing; a symlink already pointing at
	// Source is left alone, and a directory is still an error.
	// mkosi relies on it to put /etc/passwd links into a bound /etc.
	Replace bool `json:"replace,omitempty"`
	// IndexOff mounts OpOverlay with index=off and metacopy=off, so that
	// an upper directory used before over other lower directories can be
	// used again: with the kernel's index on (CONFIG_OVERLAY_FS_INDEX or
	// the module's index parameter) that mount fails with ESTALE.
	IndexOff bool `json:"index_off,omitempty"`
	// Fuse makes OpDev also give /dev/fuse when the host has it.
	Fuse bool `json:"fuse,omitempty"`
}

// Validate checks the spec for mistakes a face can report before any process
// is started.
func (s *Spec) Validate() error {
	if len(s.Args) == 0 || s.Args[0] == "" {
		return fmt.Errorf("no command given")
	}
	if s.EnterUserNS != nil && s.JoinUserNS != nil {
		return fmt.Errorf("a sandbox cannot both enter a kept user namespace and join one (--userns)")
	}
	for i, m := range s.Mounts {
		if err := m.validate(); err != nil {
			return fmt.Errorf("filesystem operation %d (%s %s): %w", i+1, m.Op, m.Dest, err)
		}
	}
	if s.Hostname != "" && !s.Namespaces.UTS {
		return fmt.Errorf("setting the hostname needs a new UTS namespace (--unshare-uts)")
	}
	if s.AsPID1 && !s.Namespaces.PID {
		return fmt.Errorf("running the command as pid 1 needs a new pid namespace (--unshare-pid)")
	}
	if _, ok := personalities[s.Personality]; !ok {
		return fmt.Errorf("personality %q: nook knows linux and linux32", s.Personality)
	}
	if len(s.Identity.Groups) > 256 {
		return fmt.Errorf("%d supplementary groups: at most 256", len(s.Identity.Groups))
	}
	for _, g := range s.Identity.Groups {
		if g < 0 {
			return fmt.Errorf("supplementary group %d: not a group id", g)
		}
	}
	seen := map[int]bool{}
	for _, fd := range s.Fds {
		if fd.Inside < 0 || fd.Outside < 0 {
			return fmt.Errorf("invalid file descriptor %d->%d", fd.Outside, fd.Inside)
		}
		if seen[fd.Inside] {
			return fmt.Errorf("file descriptor %d passed twice", fd.Inside)
		}
		seen[fd.Inside] = true
	}
	return nil
}

// Validate checks one operation as Spec.Validate does, for a face that
// reports a mistake against the option that made it.
func (m *Mount) Validate() error { return m.validate() }

func (m *Mount) validate() error {
	if !path.IsAbs(m.Dest) {
		return fmt.Errorf("destination %q is not an absolute path", m.Dest)
	}
	switch m.Op {
	case OpBind, OpDevBind:
		if m.Source == "" && !m.FromFD {
			return fmt.Errorf("no source")
		}
		if m.NoFollow && m.FromFD {
			return fmt.Errorf("a bind from a file descriptor has no symlink to leave unfollowed")
		}
	case OpSymlink:
		if m.Source == "" {
			return fmt.Errorf("no link target")
		}
	case OpChmod:
		if m.Mode == nil {
			return fmt.Errorf("no mode")
		}
	case OpOverlay:
		if len(m.Lower) == 0 {
			return fmt.Errorf("no lower directory")
		}
		if (m.Upper == "") != (m.Work == "") {
			return fmt.Errorf("an overlay needs both an upper and a work directory, or neither")
		}
		if m.Upper != "" && m.TmpfsUpper {
			return fmt.Errorf("an overlay has either a host upper directory or a tmpfs upper, not both")
		}
		if m.Mode != nil && !m.TmpfsUpper {
			return fmt.Errorf("a mode applies to an overlay's throwaway upper directory only")
		}
		if (m.Volatile || m.ClearVolatileMark) && m.Upper == "" {
			return fmt.Errorf("only an overlay with a host upper directory can be volatile or have a volatile mark cleared")
		}
		for _, l := range m.Lower {
			if strings.ContainsAny(l, "\n") {
				return fmt.Errorf("lower directory %q holds a newline", l)
			}
		}
	case OpTmpfs, OpProc, OpDev, OpMqueue, OpDir, OpWrite, OpFile, OpRemountRO:
	default:
		return fmt.Errorf("unknown operation %q", m.Op)
	}
	for _, f := range []struct {
		set  bool
		name string
		ops  []Op
	}{
		{m.NoFollow, "not following the source's symlink", []Op{OpBind, OpDevBind}},
		{m.DestNoFollow, "not following the destination's symlink", []Op{OpBind, OpDevBind}},
		{m.Replace, "replacing what is there", []Op{OpSymlink}},
		{m.IndexOff, "index=off", []Op{OpOverlay}},
		{m.Fuse, "/dev/fuse", []Op{OpDev}},
		{m.FollowDest, "following the destination's symlinks", []Op{OpBind, OpDevBind, OpTmpfs, OpProc, OpDev, OpMqueue, OpDir, OpWrite, OpFile, OpChmod, OpRemountRO, OpOverlay}},
	} {
		if f.set && !slices.Contains(f.ops, m.Op) {
			return fmt.Errorf("%s applies to %s only", f.name, opNames(f.ops))
		}
	}
	return nil
}

func opNames(ops []Op) string {
	var names []string
	for _, o := range ops {
		names = append(names, string(o))
	}
	return strings.Join(names, " and ")
}

// Clean returns p made absolute and lexically cleaned: the form the mount
// plan compares.
func Clean(p string) string {
	return path.Clean("/" + p)
}
