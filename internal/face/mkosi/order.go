package mkosi

import (
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// splitPath is a path's components, empty ones left out, as sandbox.py
// compares destinations.
func splitPath(p string) []string {
	var out []string
	for _, c := range strings.Split(p, "/") {
		if c != "" {
			out = append(out, c)
		}
	}
	return out
}

// under reports whether p is base or below it (both clean and absolute).
func under(p, base string) bool {
	return p == base || base == "/" || strings.HasPrefix(p, base+"/")
}

// sameBind is sandbox.py's equality of binds: source, destination,
// read-only and required; a "+" does not count.
func sameBind(a, b fsop) bool {
	return slices.Equal(splitPath(a.src), splitPath(b.src)) && slices.Equal(splitPath(a.dst), splitPath(b.dst)) &&
		a.ro == b.ro && a.required == b.required
}

// order is the sequence mkosi-sandbox executes ops in: binds deduplicated
// (the first of equal ones kept), binds dropped that another bind with the
// same flags already covers (its source and destination parents of this
// one's at the same relative path), then a stable sort by destination
// components, with every bind after the other operations on the same
// destination and binds with a source in the new root after all others.
// Sorting keeps a parent's operation before its children's whatever the
// order given.
func order(ops []fsop) []fsop {
	var binds, rest []fsop
	for _, op := range ops {
		if op.kind != opBind {
			rest = append(rest, op)
			continue
		}
		if !slices.ContainsFunc(binds, func(b fsop) bool { return sameBind(b, op) }) {
			binds = append(binds, op)
		}
	}
	var kept []fsop
	for _, m := range binds {
		covered := slices.ContainsFunc(binds, func(n fsop) bool {
			if sameBind(m, n) || m.ro != n.ro || m.required != n.required || m.relative != n.relative {
				return false
			}
			if !under(m.src, n.src) || !under(m.dst, n.dst) {
				return false
			}
			rs, _ := filepath.Rel(n.src, m.src)
			rd, _ := filepath.Rel(n.dst, m.dst)
			return rs == rd
		})
		if !covered {
			kept = append(kept, m)
		}
	}
	all := append(rest, kept...)
	sort.SliceStable(all, func(i, j int) bool {
		a, b := all[i], all[j]
		if a.relative != b.relative {
			return !a.relative
		}
		return slices.Compare(splitPath(a.dst), splitPath(b.dst)) < 0
	})
	return all
}
