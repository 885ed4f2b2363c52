// Package virtnook is nook's autopkgtest face: the virtualisation server
// autopkgtest drives through `autopkgtest … -- autopkgtest-virt-nook
// CHROOT` (autopkgtest's doc/README.virtualisation-server.rst), answered
// from nook's session store (package session) instead of schroot's.
//
// nook answers so when called by the name autopkgtest-virt-nook (a symlink
// or a copy) or as `nook autopkgtest-virt-nook ARGS…`.
//
// The testbed is one nook session: open begins it, every command
// autopkgtest runs goes through `nook autopkgtest-virt-nook --execute ID`,
// which is nook session run with the protocol's exit status for nook's own
// failures (the prefix print-execute-command hands out, as
// autopkgtest-virt-schroot hands out `schroot --run-session`), revert
// ends it and begins a fresh one from the
// cached tree (no unpack: O(1)), close ends it. With --boot the session is
// booted (systemd as its pid 1) and commands reach it through its agent;
// only then is isolation-container offered. docs/autopkgtest.md has the
// options, the capabilities and how this compares with autopkgtest's own
// servers.
package virtnook
