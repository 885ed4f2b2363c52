package sandbox

// haveCloneVM: rawCloneVM exists on this architecture.
const haveCloneVM = true

// rawCloneVM is in rawclone_amd64.s.
//
//go:noescape
func rawCloneVM(flags, stack uintptr, p *rawProg) (pid, errno uintptr)
