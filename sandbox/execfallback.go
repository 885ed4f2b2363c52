package sandbox

import (
	"errors"

	"golang.org/x/sys/unix"
)

// Spec.ShellFallback: a file the kernel cannot execute (ENOEXEC) is run by
// /bin/sh, as glibc's execvp does.

// fallbackShell runs what the kernel cannot (ShellFallback).
const fallbackShell = "/bin/sh"

// shellFallback is the init's copy of Spec.ShellFallback for pid 1.
var shellFallback bool

// shellArgv is the argv execvp(3) gives the shell for a file it could not
// execute: the shell, the file, then the command's arguments.
func shellArgv(path string, argv []string) []string {
	return append([]string{fallbackShell, path}, argv[1:]...)
}

// execWithFallback is execCommand, but with ShellFallback a file found and
// refused with ENOEXEC is run by /bin/sh.
func execWithFallback(s *Spec, argv, env []string) error {
	if s.ShellFallback {
		if path, err := resolveCommand(s.Args[0], env); err == nil {
			if err := unix.Exec(path, argv, env); errors.Is(err, unix.ENOEXEC) {
				return execCommand(fallbackShell, shellArgv(path, argv), env)
			}
		}
	}
	return execCommand(s.Args[0], argv, env)
}
