// Package sandbox runs a command in a new set of Linux namespaces, without
// root: a user namespace (unless the caller is real root), a mount namespace
// whose root is built from a list of filesystem operations, and optionally
// pid, network, IPC, UTS and cgroup namespaces, with a seccomp filter and a
// chosen set of capabilities.
//
// A Spec is plain data; Start or Run executes it. The whole path of one
// command runs through five files:
//
//	spec.go   what is asked (Spec, Mount, Identity)
//	plan.go   the order the filesystem operations run in
//	spawn.go  the parent: namespaces, id maps, the sync dance, waiting
//	init.go   the child: mounts, pivot_root, identity, caps, seccomp, exec
//	pid1.go   the reaper when the command does not run as pid 1
//
// Why a re-executed init: a Go process is always multi-threaded, and the
// kernel refuses unshare(CLONE_NEWUSER) to a multi-threaded process. So the
// parent starts /proc/self/exe with the namespaces already requested in
// clone(2) (through os.StartProcess), and the new process — this same
// package, whose init function recognises its argv — builds the sandbox and
// execs the command. Importing the package is therefore all an embedder has
// to do.
//
// The parent and the init talk over two pipes, spec (parent to init) and
// status (init to parent, close-on-exec in the init):
//
//	parent                                  init (in the new namespaces)
//	------                                  ----
//	clone(NEW*) + exec /proc/self/exe  -->  Go runtime starts, waits on spec
//	single id: Go writes uid/gid_map
//	subordinate ids: newuidmap and
//	  newgidmap, run concurrently
//	write spec (JSON), close      ------>  read spec
//	                                        mounts, pivot_root, hostname, lo,
//	                                        ids, capabilities, seccomp, fds
//	                                 <----  on failure: {"error", "exit"}, exit
//	exec mode: EOF on status  <-----------  execve(command) closes status
//	pid-1 mode:                      <----  {"started"} after fork+exec
//	                                 <----  {"stopped": sig} on Ctrl-Z
//	                                 <----  {"done", code|signal}, exit
//	wait4 (WUNTRACED): stops mirrored to nook itself for job control
//
// Every destination is resolved inside the new root with openat2
// RESOLVE_IN_ROOT (filepath-securejoin's pathrs-lite) and every mount is
// attached to an O_PATH handle with move_mount(2), so a symlink in a chroot
// cannot redirect an operation onto the host.
package sandbox
