package idmap

import "fmt"

// Mode is how the caller's ids appear inside a new user namespace.
type Mode int

const (
	// Self maps the caller to itself, one id; no helper is needed.
	Self Mode = iota
	// Root maps the caller to 0, one id; no helper is needed.
	Root
	// SubidsRoot maps 0 to the caller and 1..65535 to the caller's
	// subordinate ids; it needs newuidmap/newgidmap.
	SubidsRoot
	// SubidsSelf maps the caller to itself and fills every other id in
	// 0..65535 from the subordinate ids; it needs newuidmap/newgidmap.
	SubidsSelf
)

var modeNames = [...]string{
	Self:       "self",
	Root:       "root",
	SubidsRoot: "subids-root",
	SubidsSelf: "subids-self",
}

// ParseMode parses the names that String returns.
func ParseMode(s string) (Mode, error) {
	for m, name := range modeNames {
		if s == name {
			return Mode(m), nil
		}
	}
	return 0, fmt.Errorf("idmap: parse mode %q: want one of self, root, subids-root, subids-self", s)
}

// String returns the name used on the command line.
func (m Mode) String() string {
	if m >= 0 && int(m) < len(modeNames) {
		return modeNames[m]
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// usesSubIDs reports whether the mode draws on /etc/subuid and /etc/subgid
// and therefore needs the setuid helpers for an unprivileged caller.
func (m Mode) usesSubIDs() bool { return m == SubidsRoot || m == SubidsSelf }
