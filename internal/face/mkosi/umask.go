package mkosi

import "syscall"

// currentUmask is the process's umask. Reading it means setting it, so it
// is set back at once; nook calls this before it starts other threads'
// work that creates files.
func currentUmask() uint32 {
	m := syscall.Umask(0o022)
	syscall.Umask(m)
	return uint32(m)
}
