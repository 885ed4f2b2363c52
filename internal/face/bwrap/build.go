package bwrap

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/nook-project/nook/sandbox"
)

// build turns the parsed options into a spec with bwrap's defaults: only a
// mount namespace unless asked (plus a user namespace when not root, as a
// bwrap that is not setuid does), the caller's environment and fds, no
// capabilities for a caller that is not root, no_new_privs always.
func (p *parser) build(cmd []string, inherited []int) (*sandbox.Spec, error) {
	s := p.spec
	s.Args = cmd
	root := os.Geteuid() == 0
	userns := p.ns.user || p.ns.userTry || !root

	if p.userns != nil {
		if p.ns.user {
			return nil, fmt.Errorf("--unshare-user cannot be combined with --userns")
		}
		if s.UserNSBlockFD != nil {
			return nil, fmt.Errorf("--userns-block-fd cannot be combined with --userns")
		}
		// Made inside the given namespace: no new one, no id maps.
		s.JoinUserNS, s.NoIDMaps = p.userns, true
		userns = true
	}
	s.JoinPIDNS = p.pidns
	if p.disableUserNS {
		// Asked for by name, even where a user namespace is implied.
		if !p.ns.user && !p.ns.userTry {
			return nil, fmt.Errorf("--disable-userns requires --unshare-user")
		}
		if p.userns != nil {
			return nil, fmt.Errorf("--disable-userns cannot be combined with --userns")
		}
		if p.userns2 != nil {
			return nil, fmt.Errorf("--disable-userns cannot be combined with --userns2")
		}
		s.DisableUserNS = true
	}
	s.UserNS2 = p.userns2
	s.AssertUserNSDisabled = p.assertUserNSDisabled
	switch {
	case p.ns.user && !root:
		s.Identity.UserNS = sandbox.UserNSAuto
	case userns:
		s.Identity.UserNS = sandbox.UserNSAlways
	default:
		s.Identity.UserNS = sandbox.UserNSNever
	}
	s.Identity.Mode = "self"
	s.Identity.DenySetgroups = true
	if !userns && p.uid != nil && *p.uid != os.Getuid() {
		return nil, bwrapError("Specifying --uid requires --unshare-user or --userns")
	}
	if !userns && p.gid != nil && *p.gid != os.Getgid() {
		return nil, bwrapError("Specifying --gid requires --unshare-user or --userns")
	}
	s.Identity.UID, s.Identity.GID = p.uid, p.gid
	if p.labels && !selinuxActive() {
		return nil, fmt.Errorf("labeling not supported on this system")
	}
	if s.UserNSBlockFD != nil {
		// The options themselves, as bwrap checks them: the caller must
		// ask for the namespace whose maps it writes and learn its pid.
		if !userns || !(p.ns.user || p.ns.userTry) {
			return nil, fmt.Errorf("--userns-block-fd requires --unshare-user")
		}
		if p.infoFd == nil {
			return nil, fmt.Errorf("--userns-block-fd requires --info-fd")
		}
		s.NoIDMaps = true
	}

	s.Namespaces = sandbox.Namespaces{
		PID: p.ns.pid, Net: p.ns.net, IPC: p.ns.ipc, UTS: p.ns.uts,
		Cgroup: p.ns.cgroup || p.ns.cgroupTry,
	}
	if !s.Namespaces.PID && s.JoinPIDNS == nil {
		// Sharing the caller's pid namespace, bwrap binds the host's
		// /proc for --proc, even where it could mount a new one (root).
		for i, m := range s.Mounts {
			if m.Op == sandbox.OpProc {
				s.Mounts[i] = sandbox.Mount{Op: sandbox.OpBind, Source: "/proc", Dest: m.Dest}
			}
		}
	}
	if s.Hostname != "" && !s.Namespaces.UTS {
		return nil, bwrapError("Specifying --hostname requires --unshare-uts")
	}
	if s.AsPID1 && !s.Namespaces.PID {
		return nil, bwrapError("Specifying --as-pid-1 requires --unshare-pid")
	}
	if s.AsPID1 && len(s.LockFiles) > 0 {
		return nil, bwrapError("Specifying --as-pid-1 and --lock-file is not permitted")
	}
	if err := findSources(s.Mounts); err != nil {
		return nil, err
	}

	// Root keeps its capabilities, unless it becomes another uid inside:
	// bwrap's setuid(2) then loses them.
	caps, err := p.capabilities(root && (p.uid == nil || *p.uid == 0))
	if err != nil {
		return nil, err
	}
	// bwrap's way of leaving the sets: the kept capabilities are ambient
	// too, even for uid 0; root's bounding set is left alone outside a
	// user namespace; and root without --cap-add/--cap-drop has no set
	// changed but the bounding one.
	caps.AmbientAlways = true
	caps.KeepBounding = root && !userns
	caps.LeaveSets = root && len(p.capOps) == 0
	s.Caps = caps
	s.NoNewPrivs = true
	s.ShellFallback = true

	s.Env = p.env
	s.SetPWD, s.HomeFallback = true, true
	s.BwrapModes = true
	s.BwrapMountFlags = true
	s.SortMounts = false
	// bwrap passes stdio as it is: a file the command cannot reopen stays
	// a file it can seek, as its callers expect (no relay, nook-run(1)).
	s.DirectStdio = true
	if p.syncFd != nil {
		// bwrap holds the sync fd in its init, not in the command.
		s.KeepInit = true
	}
	if p.seccompFd != nil && len(p.addSeccompFds) > 0 {
		return nil, fmt.Errorf("--seccomp cannot be combined with --add-seccomp-fd")
	}
	progFds := p.addSeccompFds
	if p.seccompFd != nil {
		progFds = []int{*p.seccompFd}
	}
	for _, fd := range progFds {
		b, err := readAll(fd)
		if err != nil {
			return nil, fmt.Errorf("read seccomp program from fd %d: %w", fd, err)
		}
		if _, err := sandbox.DecodeFilter(b); err != nil {
			return nil, fmt.Errorf("invalid seccomp data, must be a multiple of 8 bytes: %w", err)
		}
		s.SeccompPrograms = append(s.SeccompPrograms, b)
	}
	for _, fd := range inherited {
		if !p.consumed[fd] {
			s.Fds = append(s.Fds, sandbox.FD{Inside: fd, Outside: fd})
		}
	}
	if len(p.overlaySrc) > 0 {
		return nil, errOverlaySrc
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

// capabilities applies --cap-add and --cap-drop in order to the starting
// set: root's own effective set for root, nothing for anyone else.
func (p *parser) capabilities(startFull bool) (sandbox.Capabilities, error) {
	set := map[int]bool{}
	all := sandbox.AllCaps()
	if startFull {
		// Root starts from what it holds itself, which need not be
		// everything (a container's root often lacks some).
		held, err := sandbox.EffectiveCaps()
		if err != nil {
			return sandbox.Capabilities{}, err
		}
		for _, c := range held {
			set[c] = true
		}
	}
	for _, op := range p.capOps {
		if op.name == "ALL" {
			for _, c := range all {
				set[c] = op.add
			}
			continue
		}
		c, err := sandbox.ParseCap(op.name)
		if err != nil {
			return sandbox.Capabilities{}, err
		}
		set[c] = op.add
	}
	out := sandbox.Capabilities{Drop: []string{"ALL"}}
	for _, c := range all {
		if set[c] {
			out.Add = append(out.Add, strings.ToUpper(sandbox.CapName(c)))
		}
	}
	return out, nil
}

// selinuxActive reports whether SELinux is enabled on this host (its
// filesystem is mounted), the only case where bwrap accepts labels.
func selinuxActive() bool {
	_, err := os.Stat("/sys/fs/selinux/enforce")
	return err == nil
}

// findSources fails as bwrap does when a source path of a bind or overlay
// cannot be resolved: bwrap resolves every source (realpath(3)) before it
// mounts anything, so this error comes before any other set-up error. The
// sandbox would find the same later, worded as nook words it.
func findSources(ms []sandbox.Mount) error {
	for _, m := range ms {
		var srcs []string
		switch {
		case m.Op == sandbox.OpBind || m.Op == sandbox.OpDevBind:
			if m.Try || m.FromFD || m.SourceInRoot {
				continue
			}
			srcs = []string{m.Source}
		case m.Op == sandbox.OpOverlay:
			srcs = append(srcs, m.Lower...)
			if m.Upper != "" {
				srcs = append(srcs, m.Upper, m.Work)
			}
		}
		for _, src := range srcs {
			if _, err := filepath.EvalSymlinks(src); err != nil {
				var en syscall.Errno
				if errors.As(err, &en) {
					return bwrapErrorf("Can't find source path %s: %s", src, errText(en))
				}
			}
		}
	}
	return nil
}
