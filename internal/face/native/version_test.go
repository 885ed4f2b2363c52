package native

import (
	"runtime/debug"
	"testing"
)

func TestVersionFromBuildInfo(t *testing.T) {
	bi := &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs", Value: "git"},
		{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
		{Key: "vcs.time", Value: "2026-12-02T15:00:00Z"},
		{Key: "vcs.modified", Value: "true"},
	}}
	v := versionFrom(bi)
	if v.Revision != "0123456789abcdef0123456789abcdef01234567" || v.Time != "2026-12-02T15:00:00Z" || !v.Modified || v.Module != "" {
		t.Errorf("versionFrom = %+v", v)
	}
	want := "nook " + Version + " (0123456789abcdef0123456789abcdef01234567, 2026-12-02T15:00:00Z, modified)"
	if got := v.String(); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	tagged := versionFrom(&debug.BuildInfo{Main: debug.Module{Version: "v0.3.0"}})
	if got := tagged.String(); got != "nook "+Version+" v0.3.0" {
		t.Errorf("a module version: %q", got)
	}
	if got := versionFrom(nil).String(); got != "nook "+Version {
		t.Errorf("no build info: %q", got)
	}
}
