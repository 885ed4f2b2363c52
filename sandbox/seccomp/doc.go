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
// Everything else, and every architecture the program does not recognise,
// is allowed: the filter never kills a process.
//
// The program is generated in pure Go (see Program) and loaded with
// seccomp(2) (see Install). Only little-endian ABIs are supported, because the
// filter reads the low 32-bit word of a 64-bit syscall argument and that
// word's offset in struct seccomp_data depends on byte order.
package seccomp
