//go:build !amd64

package sandbox

import "golang.org/x/sys/unix"

// haveCloneVM: no rawCloneVM here; the raw child is a plain fork.
const haveCloneVM = false

func rawCloneVM(flags, stack uintptr, p *rawProg) (pid, errno uintptr) {
	return 0, uintptr(unix.ENOSYS)
}
