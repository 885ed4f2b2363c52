// Package mkosi is nook's mkosi-sandbox personality: mkosi-sandbox(1)'s
// command line, as mkosi's own sandbox.py reads it, parsed by hand into a
// sandbox.Spec and run with mkosi-sandbox's defaults.
//
// The grammar (sandbox.py's argv loop): words starting "-" are options,
// each with a fixed number of arguments taken as they come (an argument
// may itself start with "-"); "--" or the first word that is not an option
// ends them; --help and --version answer at once, on stderr. Paths are made
// absolute against the caller's working directory. No command means bash.
//
// The defaults: the new root is empty unless an option places "/"; only a
// mount namespace, plus a user namespace mapping the caller to itself (or
// to root with --become-root) unless the caller is root with CAP_SYS_ADMIN;
// no pid or UTS namespace; --unshare-net only where the caller holds
// CAP_NET_ADMIN; the working directory is "/" unless --chdir or --same-dir
// says otherwise; the caller's environment and fds pass through.
// Filesystem operations run sorted by destination (parents first, binds
// after other operations on the same destination, binds whose source is in
// the new root, "+SRC", last), after dropping binds another bind covers.
//
// Where nook deliberately differs (one-line errors with exit statuses
// 2/125/126/127 instead of Python tracebacks, lo brought up in a new
// network namespace), docs/mkosi-sandbox-compat.md says so; the
// differential suite in cmd/nook runs the same command lines under Debian
// 13's mkosi-sandbox and nook and compares what a caller observes.
package mkosi
