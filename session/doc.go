// Package session is nook's build-session store: the chroot registry, the
// unpack cache of chroot tarballs, and the life cycle of sessions whose
// every command is one sandbox.Spec run through package sandbox.
//
// A chroot is a name and a source: a tarball (compression found from its
// first bytes), a directory, or the host root (the built-in chroot "host").
// Definitions come from nook's own configuration directory and, read-only,
// from schroot's configuration and sbuild's unshare-mode tarballs, so an
// existing set-up works unchanged; see Registry for the precedence.
//
// The first session from a tarball unpacks it once into a cache entry keyed
// by the tarball's content and by the id mapping the commands use. A
// session is then only a directory holding a state file and an empty
// overlay upper and work directory: beginning one is O(1). Every command
// mounts the overlay (cache entry below, session upper above) in fresh
// namespaces and nothing stays mounted afterwards, so a session survives a
// reboot and no process is left behind.
//
// The work that must happen inside the session's id mapping is done by
// helpers started as the command of a sandbox with the session's identity.
// Deleting a tree that holds files of subordinate ids and adding a user to
// a session: this same binary (the package's init function recognises the
// helper's argv, as package sandbox does for its init). Unpacking a tarball
// so that its files belong to the mapped ids: the program nook-unpack
// (package unpack; UnpackHelper says where it is found), kept out of this
// package so that its decompressors cost nothing to programs that do not
// unpack. An embedder installs nook-unpack, or links package unpack and
// sets UnpackHelper to UnpackSelf.
//
// Files:
//
//	dirs.go       where configuration, cache and sessions live
//	chroot.go     the registry: nook's own definitions, precedence
//	schroot.go    schroot.conf and chroot.d reader
//	sbuild.go     sbuild's unshare-mode tarballs
//	identity.go   which id mapping a user's sessions use
//	cache.go      the unpack cache: keys, locking, entries, prune
//	compression.go  compression by magic bytes, the unpack helper's result
//	unpackhelper.go where nook-unpack is found
//	helper.go     the helper verbs and how they are started
//	session.go    begin, end, list, state, copy sessions
//	command.go    the sandbox.Spec of one command in a session
//	hostroot.go   the tree of the built-in chroot "host" for a user
//	overlaycheck.go  where begin makes a copy instead of an overlay
//	boot.go       booted sessions: checks before begin, starting the supervisor
//	bootsupervisor.go  the supervisor of a booted session, and how end stops it
//	bootspec.go   the sandbox of a booted session: what systemd expects
//	bootagent.go  the agent inside a booted container, its protocol
//	bootrun.go    a command into a booted container, through the agent
//	bootcgroup.go the delegated cgroup: the rule, the session's groups
//	               (docs/system-containers.md)
//	users.go      passwd and group lookup in a session, adding a user
//	lock.go, atomic.go  flock and write-fsync-rename
package session
