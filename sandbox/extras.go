package sandbox

import (
	"strings"
)

// Small helpers for the Spec fields added for the bwrap personality; each
// step they serve is a no-op for the zero value of its field (see
// blockfds.go, lockfiles.go, bindsource.go, userfilters.go, execfallback.go,
// joinns.go, usernslimit.go).

// underInit reports whether the command runs as a child of nook's init
// (which then reaps, forwards and reports its status) rather than in the
// init's place.
func (s *Spec) underInit() bool {
	if s.AsPID1 {
		return false
	}
	return s.Namespaces.PID || s.KeepInit || len(s.LockFiles) > 0 || s.DisableUserNS || s.UserNS2 != nil
}

// usesCallerFD reports whether the operation reads the caller's fd m.FD.
func (m *Mount) usesCallerFD() bool {
	return m.Op == OpFile || (m.FromFD && (m.Op == OpBind || m.Op == OpDevBind))
}

// envValue is key's value in env ("" when unset).
func envValue(env []string, key string) string {
	v := ""
	for _, kv := range env {
		if s, ok := strings.CutPrefix(kv, key+"="); ok {
			v = s
		}
	}
	return v
}
