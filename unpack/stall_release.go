//go:build !nooktest

package unpack

import "io"

// stalled is dec: the stall hook is for test builds only (stall.go).
func stalled(dec io.Reader) io.Reader { return dec }
