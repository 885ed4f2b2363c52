// Package bwrap is nook's bubblewrap personality: bwrap(1)'s command line,
// as of bubblewrap 0.11, parsed by hand into a sandbox.Spec and run with
// bwrap's conventions (messages start "bwrap: ", setup errors exit 1,
// nothing is unshared unless asked, files and directories get bwrap's
// modes, --info-fd and --json-status-fd report in bwrap's JSON).
//
// The grammar: options are words starting "--" with a fixed number of
// arguments each (never "--opt=value"); filesystem operations run in the
// order given; --perms and --size change only the next operation; "--" or
// the first word that is not an option ends the options; --args FD splices
// NUL-separated words read from FD in at its place, and may repeat.
//
// Where nook deliberately behaves differently from bwrap, docs/bwrap-compat.md
// says how and why; the differential tests in cmd/nook run the same command
// lines under /usr/bin/bwrap and nook and compare what a caller observes.
package bwrap
