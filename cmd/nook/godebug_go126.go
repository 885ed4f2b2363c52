//go:build go1.26

// go.mod says go 1.24 so that Debian 13's Go (1.24.4) builds nook; a newer
// toolchain would then give nook Go 1.24's GODEBUG defaults. Built with
// Go 1.26 (as CI and the release build are), nook keeps that release's
// defaults, as when go.mod said 1.26.
//
// nook is short-lived and nearly single-threaded: it has no use for the
// runtime's goroutine that keeps GOMAXPROCS up to date with the cgroup's
// CPU limit (one more goroutine and timer at every start). Go 1.25 brought
// that goroutine and its setting; Go 1.24 has neither and refuses the
// directive, hence the build constraint (under 1.24's defaults, which a
// 1.25 toolchain applies too, the goroutine is off).

//go:debug default=go1.26
//go:debug updatemaxprocs=0

package main
