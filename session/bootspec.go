package session

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"

	"github.com/nook-project/nook/sandbox"
)

// systemdPaths are where a chroot's systemd is looked for, in order (as
// systemd-nspawn looks).
var systemdPaths = []string{"usr/lib/systemd/systemd", "lib/systemd/systemd"}

// findSystemd returns the path of systemd in the session's tree (upper
// layer first, links resolved inside each layer), or ErrBootNoSystemd.
func findSystemd(st *State) (string, error) {
	upper, lower := st.layers()
	for _, p := range systemdPaths {
		for _, root := range []string{upper, lower} {
			if root == "" {
				continue
			}
			f, err := pathrs.OpenInRoot(root, p)
			if err != nil {
				continue
			}
			fi, err := f.Stat()
			f.Close()
			if err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
				return "/" + p, nil
			}
		}
	}
	return "", fmt.Errorf("%w %s: none of /%s, /%s is there (install systemd and systemd-sysv in it, e.g. mmdebstrap --include=systemd,systemd-sysv,dbus)",
		ErrBootNoSystemd, st.Chroot, systemdPaths[0], systemdPaths[1])
}

// bootNotifyPath is where the container finds nook's notify socket (the
// place systemd-nspawn gives it).
const bootNotifyPath = "/run/host/notify"

// bootSpec is the sandbox of a booted session: systemd as pid 1 of fresh
// user (unless real root), mount, pid, ipc, uts and cgroup namespaces, the
// session's overlay as root, and what systemd expects of a container
// (systemd's CONTAINER_INTERFACE): container= in its environment,
// /run/host/container-manager, /run and /tmp tmpfs, /sys read-only with
// the session's cgroup (payload, bound from the host) writable on
// /sys/fs/cgroup, /proc with the kernel's knobs read-only and its leaky
// files masked, a console on stdio, and NOTIFY_SOCKET for READY=1.
func bootSpec(st *State, systemd, payloadCgroup, notify, exe string) (*sandbox.Spec, error) {
	id, err := sandboxIdentity(st.IDMode, 0, 0)
	if err != nil {
		return nil, err
	}
	var mounts []sandbox.Mount
	if st.Copy {
		mounts = append(mounts, sandbox.Mount{Op: sandbox.OpBind, Source: st.Location(), Dest: "/"})
	} else if st.Kind == KindHost {
		return nil, fmt.Errorf("a session of the host root cannot be booted: its systemd is the host's")
	} else {
		mounts = append(mounts, sandbox.Mount{Op: sandbox.OpOverlay, Dest: "/", Lower: []string{st.Lower}, Upper: st.upper(), Work: st.work(), ClearVolatileMark: true})
	}
	mounts = append(mounts,
		sandbox.Mount{Op: sandbox.OpProc, Dest: "/proc"},
		sandbox.Mount{Op: sandbox.OpDev, Dest: "/dev"},
		sandbox.Mount{Op: sandbox.OpTmpfs, Dest: "/dev/shm", Mode: mode(0o1777)},
		// systemd's own dev-mqueue.mount fails in a user namespace.
		sandbox.Mount{Op: sandbox.OpMqueue, Dest: "/dev/mqueue"},
		sandbox.Mount{Op: sandbox.OpBind, Source: "/sys", Dest: "/sys", ReadOnly: true},
		sandbox.Mount{Op: sandbox.OpBind, Source: payloadCgroup, Dest: "/sys/fs/cgroup"},
		sandbox.Mount{Op: sandbox.OpTmpfs, Dest: "/run", Mode: mode(0o755)},
		sandbox.Mount{Op: sandbox.OpTmpfs, Dest: "/tmp", Mode: mode(0o1777)},
		sandbox.Mount{Op: sandbox.OpDir, Dest: "/run/host", Mode: mode(0o755)},
		sandbox.Mount{Op: sandbox.OpWrite, Dest: "/run/host/container-manager", Data: []byte("nook\n"), Mode: mode(0o444)},
		sandbox.Mount{Op: sandbox.OpBind, Source: notify, Dest: bootNotifyPath},
		// The agent (bootagent.go): this binary, its socket's
		// directory, and its unit in the runtime unit directory.
		sandbox.Mount{Op: sandbox.OpBind, Source: exe, Dest: agentBinary, ReadOnly: true},
		sandbox.Mount{Op: sandbox.OpBind, Source: filepath.Join(st.Dir, agentDir), Dest: agentInside},
		sandbox.Mount{Op: sandbox.OpWrite, Dest: "/run/systemd/system/" + agentUnit, Data: []byte(agentUnitText), Mode: mode(0o644)},
		sandbox.Mount{Op: sandbox.OpSymlink, Source: "../" + agentUnit, Dest: "/run/systemd/system/sysinit.target.wants/" + agentUnit},
		// The kernel's knobs read-only (sysctl from inside would
		// reach the host's where a namespace does not cover it); the
		// host's /proc/sys shows what the reader's namespaces hold.
		sandbox.Mount{Op: sandbox.OpBind, Source: "/proc/sys", Dest: "/proc/sys", ReadOnly: true},
		sandbox.Mount{Op: sandbox.OpBind, Source: "/proc/sysrq-trigger", Dest: "/proc/sysrq-trigger", ReadOnly: true, Try: true},
	)
	// Files that show the host's kernel memory, keys or timers: an empty
	// read-only file over each (as container managers do).
	for _, f := range []string{"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug"} {
		if _, err := os.Stat(f); err == nil {
			mounts = append(mounts, sandbox.Mount{Op: sandbox.OpBind, Source: "/dev/null", Dest: f, ReadOnly: true})
		}
	}
	if st.Copy {
		if _, err := os.Stat(filepath.Join(st.Location(), "etc/resolv.conf")); errors.Is(err, fs.ErrNotExist) {
			mounts = append(mounts, sandbox.Mount{Op: sandbox.OpBind, Source: "/etc/resolv.conf", Dest: "/etc/resolv.conf", ReadOnly: true, Try: true})
		}
	} else if dest, ok := fileBindDest(st.upper(), st.Lower, "etc/resolv.conf"); ok {
		mounts = append(mounts, sandbox.Mount{Op: sandbox.OpBind, Source: "/etc/resolv.conf", Dest: dest, ReadOnly: true, Try: true})
	}
	spec := &sandbox.Spec{
		Args:  []string{systemd},
		Argv0: "/sbin/init",
		Env: []string{
			"container=nook",
			"container_uuid=" + machineID(st.ID),
			"NOTIFY_SOCKET=" + bootNotifyPath,
			"TERM=vt220",
			"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		},
		Dir:         "/",
		Namespaces:  sandbox.Namespaces{PID: true, IPC: true, UTS: true, Cgroup: true, Net: st.NoNetwork},
		Hostname:    hostname(st.Chroot),
		Identity:    id,
		Mounts:      mounts,
		SortMounts:  true,
		AsPID1:      true,
		NewSession:  true,
		DirectStdio: true,
		// What a container has no business with, as systemd-nspawn
		// leaves out: raw I/O (without it systemd skips the debugfs and
		// tracefs mounts, which a container cannot make), modules, the
		// clock, the kernel log, MAC policy, wake-ups.
		Caps: sandbox.Capabilities{Drop: []string{"CAP_SYS_RAWIO", "CAP_SYS_MODULE", "CAP_SYS_TIME", "CAP_SYSLOG",
			"CAP_MAC_ADMIN", "CAP_MAC_OVERRIDE", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND"}},
		// No DieWithParent: that ties nook itself to its own parent. The
		// sandbox's first process always gets the death signal of its
		// parent, the supervisor: if that dies, so does the container.
	}
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	return spec, nil
}

// machineID is a stable 128-bit id (32 hex digits) for the session, which
// systemd takes as the machine id when the tree has none.
func machineID(id string) string {
	// FNV-1a, twice with different offsets: stable and cheap; it only
	// needs to tell sessions apart.
	h := func(off uint64) uint64 {
		x := off
		for i := 0; i < len(id); i++ {
			x ^= uint64(id[i])
			x *= 1099511628211
		}
		return x
	}
	return fmt.Sprintf("%016x%016x", h(14695981039346656037), h(0x84222325cbf29ce4))
}

func mode(m uint32) *uint32 { return &m }
