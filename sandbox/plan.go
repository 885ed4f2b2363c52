package sandbox

import (
	"reflect"
	"sort"
	"strings"
)

// Plan returns the operations in the order they run.
//
// Without sorting (bwrap semantics) that is the order given. With sorting
// (mkosi-sandbox semantics, the nook CLI's default) options may come in any
// order and the plan makes them meaningful:
//
//   - parents before children: a mount on /usr runs before one on /usr/lib,
//     so the child is not hidden by the parent;
//   - on the same destination, operations that make something (dir, tmpfs,
//     proc, overlay, ...) run before binds, so a bind always wins over a
//     mount point made for it;
//   - operations that modify what is there (chmod, remount-ro) run after all
//     others, so they find what deeper operations created and apply to
//     what the command will see;
//   - exact duplicates are dropped;
//   - a bind that is already visible through a covering bind (same relative
//     place, same read-only-ness, same try-ness) is dropped, but only when no
//     other operation sits between the two: in
//     "--ro-bind /usr /usr --tmpfs /usr/lib --ro-bind /usr/lib/x /usr/lib/x"
//     the tmpfs hides /usr/lib, so the last bind is needed. (mkosi-sandbox
//     drops it there; that is the bug this rule avoids.)
func Plan(ops []Mount, sorted bool) []Mount {
	out := make([]Mount, 0, len(ops))
	for _, m := range ops {
		m.Dest = Clean(m.Dest)
		out = append(out, m)
	}
	if !sorted {
		return out
	}
	out = dropDuplicates(out)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		// Modifiers run after everything else: a chmod must find the
		// directory that a deeper operation creates.
		if ma, mb := opClass(a.Op) == 2, opClass(b.Op) == 2; ma != mb {
			return mb
		}
		if c := comparePaths(a.Dest, b.Dest); c != 0 {
			return c < 0
		}
		return opClass(a.Op) < opClass(b.Op)
	})
	return dropCoveredBinds(out)
}

// opClass orders operations that share a destination.
func opClass(op Op) int {
	switch op {
	case OpBind, OpDevBind:
		return 1
	case OpChmod, OpRemountRO:
		return 2
	default:
		return 0
	}
}

// comparePaths orders cleaned absolute paths component by component, so that
// every path sorts right after its parent ("/a", "/a/b", "/a-b" rather than
// the byte order "/a", "/a-b", "/a/b").
func comparePaths(a, b string) int {
	if a == b {
		return 0
	}
	pa, pb := splitPath(a), splitPath(b)
	for i := 0; i < len(pa) && i < len(pb); i++ {
		if c := strings.Compare(pa[i], pb[i]); c != 0 {
			return c
		}
	}
	return len(pa) - len(pb)
}

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

func dropDuplicates(ops []Mount) []Mount {
	out := ops[:0:0]
	for i, m := range ops {
		dup := false
		for _, k := range ops[i+1:] {
			if reflect.DeepEqual(k, m) {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, m)
		}
	}
	return out
}

// dropCoveredBinds removes binds that add nothing because a bind of an
// ancestor source onto the matching ancestor destination already shows the
// same files, and nothing mounted in between hides them.
func dropCoveredBinds(ops []Mount) []Mount {
	keep := make([]bool, len(ops))
	for i := range ops {
		keep[i] = true
	}
	for i, m := range ops {
		if !isBind(m.Op) {
			continue
		}
		for j, n := range ops {
			if i == j || !keep[j] || !isBind(n.Op) || j > i {
				continue
			}
			if n.Op != m.Op || n.ReadOnly != m.ReadOnly || n.Try != m.Try {
				continue
			}
			rs, okS := relative(n.Source, m.Source)
			rd, okD := relative(n.Dest, m.Dest)
			if !okS || !okD || rs != rd {
				continue
			}
			if interposed(ops, keep, j, i) || remountedBelow(ops, m.Dest) {
				continue
			}
			keep[i] = false
			break
		}
	}
	out := ops[:0:0]
	for i, m := range ops {
		if keep[i] {
			out = append(out, m)
		}
	}
	return out
}

// interposed reports whether an operation other than outer and inner, running
// between them, touches a path on the way from outer's destination to
// inner's (inclusive), so it could hide or change what outer shows there.
func interposed(ops []Mount, keep []bool, outer, inner int) bool {
	for k := outer + 1; k < inner; k++ {
		if !keep[k] {
			continue
		}
		d := ops[k].Dest
		if _, under := relative(ops[outer].Dest, d); !under {
			continue
		}
		if _, above := relative(d, ops[inner].Dest); above {
			return true
		}
	}
	return false
}

func isBind(op Op) bool { return op == OpBind || op == OpDevBind }

// relative returns p relative to base when p is base or below it.
func relative(base, p string) (string, bool) {
	base, p = Clean(base), Clean(p)
	if base == p {
		return ".", true
	}
	if base == "/" {
		return strings.TrimPrefix(p, "/"), true
	}
	if strings.HasPrefix(p, base+"/") {
		return p[len(base)+1:], true
	}
	return "", false
}

// remountedBelow reports whether a remount-ro applies at or below dest: it
// acts on the mount its path is on, which must stay the bind at dest.
func remountedBelow(ops []Mount, dest string) bool {
	for _, o := range ops {
		if o.Op == OpRemountRO {
			if _, ok := relative(dest, o.Dest); ok {
				return true
			}
		}
	}
	return false
}
