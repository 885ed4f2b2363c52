package mkosi

import (
	"os"
	"strings"

	"github.com/nook-project/nook/sandbox"
)

// Capability numbers sandbox.py looks at or keeps.
const (
	capNetAdmin = 12
	capSysAdmin = 21
)

// keptCaps are the capabilities mkosi-sandbox keeps (and raises into the
// ambient set) in the user namespace it makes; with a new network
// namespace, CAP_NET_BIND_SERVICE and CAP_NET_ADMIN too.
var keptCaps = []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_ADMIN",
	"CAP_SYS_RESOURCE", "CAP_SETFCAP"}

// host is what build reads about the caller, so tests can vary it.
type host struct {
	uid     int
	effCaps map[int]bool
	env     []string
	hasFuse bool
	umask   uint32
}

func currentHost() host {
	h := host{uid: os.Getuid(), effCaps: map[int]bool{}, env: os.Environ()}
	if caps, err := sandbox.EffectiveCaps(); err == nil {
		for _, c := range caps {
			h.effCaps[c] = true
		}
	}
	_, err := os.Stat("/dev/fuse")
	h.hasFuse = err == nil
	h.umask = currentUmask()
	return h
}

// tmpName reports whether dst ends in /tmp or /var/tmp, where
// mkosi-sandbox makes directories 1777 and tmpfs keeps its default mode.
func tmpName(dst string) bool {
	return strings.HasSuffix(dst, "/tmp") || strings.HasSuffix(dst, "/var/tmp")
}

// build turns parsed options into the spec mkosi-sandbox's defaults give.
func build(o *options, h host, inherited []int) (*sandbox.Spec, error) {
	s := &sandbox.Spec{Args: o.cmd, DirectStdio: true, SortMounts: false}
	net := o.unshareNet && h.effCaps[capNetAdmin]
	s.Namespaces = sandbox.Namespaces{Net: net, IPC: o.unshareIPC}

	// No user namespace for a caller holding CAP_SYS_ADMIN, unless one
	// that is not root asks to become root.
	userns := !(h.effCaps[capSysAdmin] && (h.uid == 0 || !o.becomeRoot))
	// A caller that is not root but holds CAP_SYS_ADMIN (mkosi-sandbox
	// run inside another one, as mkosi runs sandbox.py in its sandboxes)
	// gets no new user namespace, as from mkosi-sandbox: the engine
	// builds the sandbox in the caller's own (UserNSNever), keeping the
	// capabilities it holds. A new one would need its id maps written
	// through /proc, which the outer sandbox may have bound read-only.
	nestedSelf := !userns && h.uid != 0
	s.Identity.DenySetgroups = true
	switch {
	case !userns:
		s.Identity.UserNS = sandbox.UserNSNever
	case o.becomeRoot:
		s.Identity.UserNS, s.Identity.Mode = sandbox.UserNSAlways, "root"
	default:
		s.Identity.UserNS, s.Identity.Mode = sandbox.UserNSAlways, "self"
	}
	if nestedSelf {
		// The capabilities the caller holds, kept.
		held := []string{}
		for c := range h.effCaps {
			held = append(held, strings.ToUpper(sandbox.CapName(c)))
		}
		s.Caps = sandbox.Capabilities{Drop: []string{"ALL"}, Add: held, AmbientAlways: true}
	} else if userns {
		keep := keptCaps
		if net {
			keep = append(append([]string{}, keptCaps...), "CAP_NET_BIND_SERVICE", "CAP_NET_ADMIN")
		}
		s.Caps = sandbox.Capabilities{Drop: []string{"ALL"}, Add: keep, AmbientAlways: true}
	} else {
		// Root's capabilities are left as they are: what it holds stays
		// effective and permitted, the bounding set is untouched, and the
		// inheritable and ambient sets stay empty.
		held := []string{}
		for c := range h.effCaps {
			held = append(held, strings.ToUpper(sandbox.CapName(c)))
		}
		s.Caps = sandbox.Capabilities{Drop: []string{"ALL"}, Add: held, LeaveSets: true, KeepBounding: true}
	}
	s.SuppressChown = o.suppressChown
	s.SuppressSync = o.suppressSync
	s.PackFds = o.packFds
	s.ListenPID = true
	// Shared once set up: a mount the command makes under one place
	// appears at its binds elsewhere, as under mkosi-sandbox.
	s.SharedPropagation = true

	s.Env = environment(h.env, o)
	s.Dir = "/"
	if o.chdir != "" {
		s.Dir = o.chdir
	}
	for _, fd := range inherited {
		if !containsInt(o.execFds, fd) {
			s.Fds = append(s.Fds, sandbox.FD{Inside: fd, Outside: fd})
		}
	}
	ops := order(o.ops)
	follow := followFlags(ops)
	for i, op := range ops {
		if tmpName(op.dst) && (op.kind == opTmpfs || op.kind == opBind && !op.relative && isDir(op.src)) {
			// The mount point as mkosi-sandbox makes it, 0755 (seen on
			// the host where it is made under a bind), where nook's own
			// default for a directory named tmp is 1777; a tmpfs there
			// is still 1777 itself.
			s.Mounts = append(s.Mounts, sandbox.Mount{Op: sandbox.OpDir, Dest: op.dst, Mode: ptr(uint32(0o755)), FollowDest: follow[i]})
		}
		m := mountFor(op, h)
		// sandbox.py acts where the destination leads in the new root
		// (chase(newroot, dst)), a dangling symlink's target made, for
		// every operation but --symlink; what it leads to is often known
		// only as the root is built (+SRC binds, overlays, /dev's links),
		// so the engine follows it where it may meet a link (follow.go).
		m.FollowDest = follow[i]
		s.Mounts = append(s.Mounts, m)
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s, nil
}

// mountFor is the engine's operation for one of mkosi-sandbox's.
func mountFor(op fsop, h host) sandbox.Mount {
	mode := func(m uint32) *uint32 { return &m }
	switch op.kind {
	case opTmpfs:
		// No mode: the engine's rule for the followed destination is
		// sandbox.py's (1777 where the last component is tmp, 0755
		// elsewhere).
		return sandbox.Mount{Op: sandbox.OpTmpfs, Dest: op.dst}
	case opDev:
		return sandbox.Mount{Op: sandbox.OpDev, Dest: op.dst, Fuse: h.hasFuse}
	case opProc:
		// No pid namespace: the host's /proc, bound, as mkosi-sandbox does.
		return sandbox.Mount{Op: sandbox.OpBind, Source: "/proc", Dest: op.dst}
	case opDir:
		// Try: DirOperation makes nothing where something already is.
		// No mode, as for a tmpfs.
		return sandbox.Mount{Op: sandbox.OpDir, Dest: op.dst, Try: true}
	case opBind:
		// mkosi-sandbox's binds add no flags: device nodes under them
		// stay usable (mkosi binds /dev so for its devices=True runs),
		// where nook's own binds are nodev.
		return sandbox.Mount{Op: sandbox.OpDevBind, Source: op.src, Dest: op.dst, ReadOnly: op.ro, Try: !op.required,
			SourceInRoot: op.relative, NoFollow: op.nofollow, DestNoFollow: true}
	case opSymlink:
		return sandbox.Mount{Op: sandbox.OpSymlink, Source: op.src, Dest: op.dst, Replace: true}
	case opWrite:
		// open(2) with the caller's umask, as Python's open does.
		return sandbox.Mount{Op: sandbox.OpWrite, Dest: op.dst, Data: []byte(op.data), Mode: mode(0o666 &^ h.umask)}
	default: // opOverlay
		m := sandbox.Mount{Op: sandbox.OpOverlay, Dest: op.dst, Lower: op.lower, IndexOff: true}
		switch op.upper {
		case "":
		case "tmpfs":
			m.TmpfsUpper = true
			if tmpName(op.dst) {
				// mkosi-sandbox makes the throwaway upper 1777 there,
				// and the overlay's root shows the upper's mode. (By
				// the name written: where a link leads to a tmp, it
				// decides by the name it leads to.)
				m.Mode = mode(0o1777)
			}
		default:
			m.Upper, m.Work = op.upper, op.work
		}
		return m
	}
}

// environment is the caller's with --setenv and --unsetenv applied, in
// that order, as sandbox.py applies them.
func environment(env []string, o *options) []string {
	out := append([]string{}, env...)
	set := func(k, v string) {
		for i, e := range out {
			if strings.HasPrefix(e, k+"=") {
				out[i] = k + "=" + v
				return
			}
		}
		out = append(out, k+"="+v)
	}
	for _, kv := range o.setenv {
		set(kv[0], kv[1])
	}
	for _, k := range o.unsetenv {
		// Only a variable of that very name: "A=B" names none.
		for i := 0; i < len(out); i++ {
			if name, _, _ := strings.Cut(out[i], "="); name == k {
				out = append(out[:i], out[i+1:]...)
				i--
			}
		}
	}
	return out
}

// isDir reports whether the host path p is a directory (following links).
func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

func ptr[T any](v T) *T { return &v }

func containsInt(xs []int, x int) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
