// Package seccomp builds and installs nook's classic-BPF seccomp filter.
//
// The filter is deliberately small. It is not a sandbox by itself (the
// namespaces are); it closes one hole that namespaces leave open and offers
// two conveniences for package builds:
//
//   - Always: ioctl(fd, TIOCSTI, ...) and ioctl(fd, TIOCLINUX, ...) fail with
//     EPERM. TIOCSTI pushes bytes into a terminal's input queue, so a process
//     that inherited the user's terminal could type commands into the shell
//     that runs after the sandbox exits (CVE-2017-5226). TIOCLINUX can do the
//     same on a virtual console via its paste selection.
//   - Options.SuppressChown: the chown family returns 0 without doing
//     anything, so tools that insist on chowning files to ids that are not
//     mapped in the user namespace keep going.
//   - Options.SuppressSync: the sync family returns 0 without doing
//     anything, which saves a lot of time in throw-away build trees.
//
// Everything else is allowed. A seccomp_data.arch the program does not list
// for its GOARCH kills the process: the list holds every ABI the kernels of
// that GOARCH present, so another value is an ABI whose numbers the filter
// cannot check.
//
// The program is generated in pure Go (see Program) and loaded with
// seccomp(2) (see Install). The native syscall numbers come from
// golang.org/x/sys/unix through a generator (internal/gensysnum writes
// xsysnum.go), because the tests build and evaluate the filter of every
// GOARCH on one host, where unix.SYS_* only exist for the host's GOARCH.
// Argument loads follow the kernel's byte order (s390x is big-endian).
package seccomp
