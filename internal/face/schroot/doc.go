// Package schroot is nook's schroot personality: schroot 1.6's command
// line, as sbuild, autopkgtest, piuparts and sbuild-createchroot send it,
// answered from nook's session store (package session) instead of
// schroot's setuid helper and long-lived mounts.
//
// nook answers as schroot when called by that name (a symlink, a
// dpkg-diversion of /usr/bin/schroot, or a bind mount over it), under any
// name containing "unschroot", or as `nook schroot ARGS…`.
//
// Every session is a nook session: begin makes it (O(1) with a warm unpack
// cache), each --run-session command runs in fresh namespaces over the
// session's overlay, end deletes it. Nothing is mounted between commands
// (with subordinate ids only the session's user namespace is kept, by an
// idle-timed holder: see package session). What clients parse (list,
// info, config, location, the session id, the environment, exit statuses
// and error lines) follows what
// schroot 1.6.13 prints; docs/schroot-compat.md lists every option and key
// and where nook differs.
package schroot
