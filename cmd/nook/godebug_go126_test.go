//go:build go1.26

package main

import (
	"runtime/debug"
	"strings"
	"testing"
)

// TestGodebugDefaultsGo126: go.mod's go line is 1.24 (Debian 13's Go), which
// alone would give a Go 1.26 build 1.24's GODEBUG defaults (no
// container-aware GOMAXPROCS among them); godebug_go126.go keeps 1.26's,
// with the GOMAXPROCS updater off. The test binary of package main takes
// the same directives.
func TestGodebugDefaultsGo126(t *testing.T) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		t.Fatal("no build information in the test binary")
	}
	var def string
	for _, s := range bi.Settings {
		if s.Key == "DefaultGODEBUG" {
			def = s.Value
		}
	}
	settings := strings.Split(def, ",")
	has := func(kv string) bool {
		for _, s := range settings {
			if s == kv {
				return true
			}
		}
		return false
	}
	if !has("updatemaxprocs=0") {
		t.Errorf("DefaultGODEBUG %q lacks updatemaxprocs=0", def)
	}
	if has("containermaxprocs=0") {
		t.Errorf("DefaultGODEBUG %q has Go 1.24's containermaxprocs=0: the go1.26 defaults were not kept", def)
	}
}
