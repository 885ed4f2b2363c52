package native

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
)

// VersionInfo is what `nook version` reports: Version as the build set it,
// and what the Go toolchain stamped into the binary (the VCS revision of a
// build from a checkout), which a "dev" build otherwise hides.
type VersionInfo struct {
	Version  string `json:"version"`
	Module   string `json:"module_version,omitempty"`
	Revision string `json:"revision,omitempty"`
	Time     string `json:"revision_time,omitempty"`
	Modified bool   `json:"modified,omitempty"`
	Go       string `json:"go"`
}

// BuildVersion reads the binary's build information. A build from a git
// worktree (.git a file) or with -buildvcs=false carries no revision.
func BuildVersion() VersionInfo {
	bi, _ := debug.ReadBuildInfo()
	return versionFrom(bi)
}

func versionFrom(bi *debug.BuildInfo) VersionInfo {
	v := VersionInfo{Version: Version, Go: runtime.Version()}
	if bi == nil {
		return v
	}
	if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v.Module = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

// String is the one-line form: "nook VERSION (REVISION, TIME[, modified])".
func (v VersionInfo) String() string {
	s := "nook " + v.Version
	if v.Module != "" && v.Module != v.Version {
		s += " " + v.Module
	}
	if v.Revision != "" {
		s += " (" + v.Revision
		if v.Time != "" {
			s += ", " + v.Time
		}
		if v.Modified {
			s += ", modified"
		}
		s += ")"
	}
	return s
}

// PrintVersion prints v as one line or, with asJSON, as a JSON object.
func PrintVersion(w io.Writer, asJSON bool) error {
	v := BuildVersion()
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	_, err := fmt.Fprintln(w, v)
	return err
}

// Versions is `nook version [--json]`.
func Versions(args []string) int {
	asJSON := new(bool)
	fs := newJSONFlags("version", asJSON)
	if ok, code := parseVerb(fs, args, "usage: nook version [--json]\n", 0, "nook version takes no operands (only --json)"); !ok {
		return code
	}
	if err := PrintVersion(os.Stdout, *asJSON); err != nil {
		return failf("version", "%v", err)
	}
	return 0
}
