package session

import (
	"errors"
	"fmt"
	"os"
	"os/exec"

	"github.com/nook-project/nook/sandbox"
	"github.com/nook-project/nook/sandbox/idmap"
)

// IDMode is the id mapping every command of a session uses. It is chosen
// once, at begin, and kept in the session's state; cache entries are keyed
// by it too, because the owners of unpacked files depend on it.
type IDMode string

const (
	// IDHost is real root: no user namespace, the chroot's own ids.
	IDHost IDMode = "host"
	// IDSubids maps the caller to root inside and 1..65535 onto the
	// caller's subordinate range (newuidmap, /etc/subuid): what root
	// writes inside is the caller's own file, and the caller can always
	// read it and delete the session.
	IDSubids IDMode = "subids"
	// IDSingle maps only the caller's own id: ownership inside collapses
	// onto it, and chown succeeds without effect.
	IDSingle IDMode = "single"
)

// SingleIDWarning is what a caller without subordinate ids is told at
// begin.
const SingleIDWarning = "no subordinate ids for you in /etc/subuid and /etc/subgid: this session maps only your own id, so every file inside belongs to one user and chown does nothing; to keep ownership, ask root for a range (usermod --add-subuids 100000-165535 --add-subgids 100000-165535 USER)"

// SingleIDRepackWarning is said at the begin of a source session that
// maps one id only: the tarball it replaces loses its owners.
const SingleIDRepackWarning = "when this session ends, every file of the tarball it replaces will belong to root: with one id mapped, owners other than root are lost (a range of subordinate ids keeps them)"

// DetectIDMode returns the best mapping the host allows the caller.
func DetectIDMode() IDMode {
	if os.Geteuid() == 0 {
		return IDHost
	}
	uid, gid := os.Getuid(), os.Getgid()
	name := idmap.UserName(uid)
	subU, err1 := idmap.LookupSubIDs(idmap.SubUIDPath, name, uid)
	subG, err2 := idmap.LookupSubIDs(idmap.SubGIDPath, name, uid)
	if err1 != nil || err2 != nil {
		return IDSingle
	}
	if _, _, err := idmap.Plan(idmap.SubidsRoot, uid, gid, subU, subG); err != nil {
		return IDSingle
	}
	for _, h := range []string{"newuidmap", "newgidmap"} {
		if _, err := exec.LookPath(h); err != nil {
			if _, err := os.Stat("/usr/bin/" + h); err != nil {
				return IDSingle
			}
		}
	}
	return IDSubids
}

// sandboxIdentity is the sandbox identity for a command that runs as uid
// and gid inside.
//
// Single-id mode has one host id to give. For root inside it maps the
// caller to 0. For another user it maps the caller to that user's ids
// instead, so `id -u` says what the build expects (dpkg-buildpackage and
// many test suites check that they do not run as root); the price is that
// root's files then appear as that user's, since there is only one id to
// show them as. A user namespace is made for each command anyway, so the
// choice costs nothing.
func sandboxIdentity(mode IDMode, uid, gid int) (sandbox.Identity, error) {
	switch mode {
	case IDHost:
		return sandbox.Identity{UserNS: sandbox.UserNSNever, UID: &uid, GID: &gid}, nil
	case IDSubids:
		if uid >= idmap.SpanIDs || gid >= idmap.SpanIDs {
			return sandbox.Identity{}, fmt.Errorf("uid %d or gid %d is outside the 0..65535 a session maps", uid, gid)
		}
		return sandbox.Identity{UserNS: sandbox.UserNSAlways, Mode: "subids-root", UID: &uid, GID: &gid}, nil
	case IDSingle:
		if uid == 0 && gid == 0 {
			return sandbox.Identity{UserNS: sandbox.UserNSAlways, Mode: "root"}, nil
		}
		return sandbox.Identity{UserNS: sandbox.UserNSAlways, Mode: "self", UID: &uid, GID: &gid}, nil
	}
	return sandbox.Identity{}, errors.New("unknown id mode " + string(mode))
}
