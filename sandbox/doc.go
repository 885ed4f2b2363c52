// Package sandbox runs a command in a new set of Linux namespaces, without
// root: a user namespace (unless the caller is real root), a mount namespace
// whose root is built from a list of filesystem operations, and optionally
// pid, network, IPC, UTS and cgroup namespaces, with a seccomp filter and a
// chosen set of capabilities.
//
// A Spec is plain data; Start or Run executes it. The path of one command:
//
//	spec.go        what is asked (Spec, Mount, Identity)
//	plan.go        the order the filesystem operations run in
//	spawn.go       Start: identity, then one of the two engines; waiting
//	rawcompile.go  the raw engine: the set-up compiled to system calls
//	rawchild_unsafe.go  the code that runs them in the child, and pid 1
//	rawstart.go    the raw engine's parent side
//	usernshold.go  UserNSHolder: a user namespace kept for many sandboxes
//	init.go, tree.go, ops.go, pid1.go  the Go init, the fallback engine
//	lock.go, lockinit.go  the command nested, so it cannot undo nook's mounts
//	aspid1init.go  the Go init's command as pid 1 of a pid namespace below it
//
// # Two engines
//
// A Go process is always multi-threaded, and a forked copy of one may not
// run Go code: other threads held the runtime's locks at the fork. The
// usual way out is to re-execute the program as the sandbox's init — a
// second Go runtime start, 6 ms or more here. The raw engine avoids it: the
// parent compiles the whole set-up (id maps, mounts, pivot_root, host name,
// ids, capabilities, seccomp, fds, exec) into a list of system calls with
// prepared arguments, and clones a child that runs the list with nosplit,
// non-allocating code and every signal blocked, as the standard library's
// own fork/exec child does. Where it can, the child shares the parent's
// memory (CLONE_VM on a stack of its own, rawclone_amd64.s): no page
// tables are copied and the parent takes no copy-on-write faults. With a
// pid namespace the child stays as pid 1, a raw wait4 loop that reports the
// command's stops and end on a pipe and passes forwarded signals on; with
// AsPID1 too, above the command's own pid namespace.
//
// The Go init (nook re-executed through /proc/self/exe; importing the
// package is all an embedder needs for it) remains for what the list cannot
// express: splicing a mount point under a read-only bind (it reads the
// directory), the MS_MOVE + chroot fallback, overlays on kernels without
// layer fds, joining existing namespaces and the other bwrap extras. The
// choice is made up front (compileRaw refuses the spec) or by the child,
// which reports "fallback" before anything of the command ran; the parent
// then starts over with the Go init. Process.Engine says which ran.
//
//	parent                                  raw child (new namespaces)
//	------                                  ---------
//	compile, pipes, clone(NEW*) ------>     reset signal handlers, death signal
//	  (subordinate ids: newuidmap,          one id: write own uid/gid_map;
//	   then a byte on the sync pipe)          else wait for the sync byte
//	                                        mounts, pivot_root, hostname, lo,
//	                                        ids, seccomp, capabilities
//	                                 <----  on failure: (step, errno) record
//	EOF on the error pipe  <------------    execve(command) closes it
//	                                        pid 1: vfork the command, then
//	                                 <----  (stopped, sig) / (done, status)
//	wait4 (WUNTRACED): stops mirrored to nook itself for job control
//
// # Kept user namespaces
//
// Subordinate-id maps are written by two setuid helpers, the largest cost
// of a start. A caller that starts many sandboxes with one identity (a
// build session's commands) keeps the namespace with a UserNSHolder and
// sets Spec.EnterUserNS: the raw engine's first clone is then a middle
// process that joins that namespace (setns needs a single-threaded,
// unshared-fs process), clones the child with every other namespace new
// and CLONE_PARENT, reports its pid and exits; from there it is the same
// path. Where the Go init has to run, a new namespace with the same maps
// is made instead.
//
// Every destination is resolved inside the new root with openat2
// RESOLVE_IN_ROOT (filepath-securejoin's pathrs-lite in the Go init) and
// every mount is attached to an O_PATH handle with move_mount(2), so a
// symlink in a chroot cannot redirect an operation onto the host.
package sandbox
