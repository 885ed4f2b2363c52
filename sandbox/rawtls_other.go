//go:build !amd64

package sandbox

// threadTLS: only amd64 forks raw children onto a stack of their own
// (haveCloneVM), and only those need it kept (see forkOnly).
func threadTLS() [2]uintptr { return [2]uintptr{} }
