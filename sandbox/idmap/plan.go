package idmap

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"syscall"
)

// SpanIDs is how many inside ids the Subids modes populate: 0..65535, the
// range that distributions and container images assume exists.
const SpanIDs = 65536

// DefaultInner, passed as the inner id to PlanInner, lets the mode decide
// which id the caller has inside.
const DefaultInner = -1

// ErrNotEnoughSubIDs is wrapped by Plan's error when the caller's
// subordinate ranges are too small for a Subids mode.
var ErrNotEnoughSubIDs = errors.New("not enough subordinate ids")

// Plan computes the uid and gid maps for mode, with the inner ids the mode
// implies (Self: the caller's own ids; Root and SubidsRoot: 0; SubidsSelf:
// the caller's own ids). See PlanInner.
func Plan(mode Mode, hostUID, hostGID int, subUID, subGID []Range) (uidMap, gidMap []syscall.SysProcIDMap, err error) {
	return PlanInner(mode, hostUID, hostGID, DefaultInner, DefaultInner, subUID, subGID)
}

// PlanInner is Plan with the caller's inside ids chosen explicitly (from
// --uid/--gid); DefaultInner keeps the mode's choice. Self and SubidsSelf
// accept any id, so Self can map caller -> N; Root and SubidsRoot accept
// only 0, because the point of those modes is that the caller is root.
//
// hostUID/hostGID are the caller's ids; subUID/subGID its ranges from
// /etc/subuid and /etc/subgid, used only by the Subids modes. The Subids
// modes fill every inside id in 0..SpanIDs-1 other than the caller's own
// from the subordinate ids, in order, drawing on as many ranges as it
// takes; when the caller's inside id is SpanIDs or more, all of 0..SpanIDs-1
// come from subordinate ids and the caller is one extra line. The result is
// sorted by inside id and always passes Validate.
func PlanInner(mode Mode, hostUID, hostGID, innerUID, innerGID int, subUID, subGID []Range) (uidMap, gidMap []syscall.SysProcIDMap, err error) {
	if mode < Self || mode > SubidsSelf {
		return nil, nil, fmt.Errorf("idmap: plan: unknown mode %v", mode)
	}
	uidMap, err = planOne(mode, "uid", hostUID, innerUID, subUID)
	if err != nil {
		return nil, nil, err
	}
	gidMap, err = planOne(mode, "gid", hostGID, innerGID, subGID)
	if err != nil {
		return nil, nil, err
	}
	return uidMap, gidMap, nil
}

// planOne builds one map; kind is "uid" or "gid" and only shapes messages.
func planOne(mode Mode, kind string, host, inner int, sub []Range) ([]syscall.SysProcIDMap, error) {
	if host < 0 || int64(host) > maxID {
		return nil, fmt.Errorf("idmap: plan %s map: host %s %d is not a valid id", kind, kind, host)
	}
	switch mode {
	case Self, SubidsSelf:
		if inner == DefaultInner {
			inner = host
		}
	case Root, SubidsRoot:
		if inner == DefaultInner {
			inner = 0
		}
		if inner != 0 {
			return nil, fmt.Errorf("idmap: plan %s map: mode %v always makes the caller %s 0, not %d; use mode self or subids-self to pick another id",
				kind, mode, kind, inner)
		}
	}
	if inner < 0 || int64(inner) > maxID {
		return nil, fmt.Errorf("idmap: plan %s map: inside %s %d is not a valid id", kind, kind, inner)
	}
	own := syscall.SysProcIDMap{ContainerID: inner, HostID: host, Size: 1}
	if !mode.usesSubIDs() {
		return []syscall.SysProcIDMap{own}, nil
	}

	pool, err := subPool(kind, sub, host)
	if err != nil {
		return nil, err
	}
	// The inside ids to fill: 0..SpanIDs-1, less the caller's own.
	need := SpanIDs
	spans := [][2]int{{0, SpanIDs}}
	if inner < SpanIDs {
		need--
		spans = [][2]int{{0, inner}, {inner + 1, SpanIDs}}
	}
	if have := poolSize(pool); have < int64(need) {
		file, flag := SubUIDPath, "--add-subuids"
		if kind == "gid" {
			file, flag = SubGIDPath, "--add-subgids"
		}
		return nil, fmt.Errorf("idmap: plan %s map for mode %v: %w: %s grants %d %ss, the mode needs %d; "+
			"as root run e.g. `usermod %s 100000-165535 USER` (pick a range no other user has)",
			kind, mode, ErrNotEnoughSubIDs, file, have, kind, need, flag)
	}

	var m []syscall.SysProcIDMap
	for i, sp := range spans {
		if i == 1 {
			m = append(m, own)
		}
		for next := sp[0]; next < sp[1]; {
			r := &pool[0]
			n := int(min(r.count, int64(sp[1]-next)))
			m = append(m, syscall.SysProcIDMap{ContainerID: next, HostID: int(r.start), Size: n})
			next += n
			r.start += int64(n)
			r.count -= int64(n)
			if r.count == 0 {
				pool = pool[1:]
			}
		}
	}
	if inner >= SpanIDs {
		m = append(m, own)
	}
	if err := validate(m); err != nil {
		return nil, fmt.Errorf("idmap: plan %s map for mode %v: %w", kind, mode, err)
	}
	return m, nil
}

// span is a run of host ids; int64 so that the arithmetic near the top of
// the id space cannot overflow where int is 32 bits.
type span struct{ start, count int64 }

// subPool turns the caller's ranges into disjoint host ranges sorted by
// start: duplicate or overlapping lines (the same range listed under the
// name and under the numeric id is common) are merged, adjacent ones joined
// to save map lines (the helpers accept a request that spans adjacent
// ranges), and the caller's own id is cut out because it is already mapped
// to the caller's inside id and the kernel refuses a host id twice.
func subPool(kind string, sub []Range, host int) ([]span, error) {
	var rs []span
	for _, r := range sub {
		if r.Start < 0 || r.Count < 0 || int64(r.Start)+int64(r.Count)-1 > maxID {
			return nil, fmt.Errorf("idmap: plan %s map: subordinate range %d:%d is outside ids 0..%d", kind, r.Start, r.Count, int64(maxID))
		}
		if r.Count > 0 {
			rs = append(rs, span{int64(r.Start), int64(r.Count)})
		}
	}
	slices.SortFunc(rs, func(a, b span) int { return cmp.Compare(a.start, b.start) })
	var merged []span
	for _, r := range rs {
		if k := len(merged) - 1; k >= 0 && r.start <= merged[k].start+merged[k].count {
			merged[k].count = max(merged[k].start+merged[k].count, r.start+r.count) - merged[k].start
			continue
		}
		merged = append(merged, r)
	}
	h := int64(host)
	var out []span
	for _, r := range merged {
		end := r.start + r.count
		if h < r.start || h >= end {
			out = append(out, r)
			continue
		}
		if h > r.start {
			out = append(out, span{r.start, h - r.start})
		}
		if h+1 < end {
			out = append(out, span{h + 1, end - h - 1})
		}
	}
	return out, nil
}

func poolSize(pool []span) int64 {
	var n int64
	for _, r := range pool {
		n += r.count
	}
	return n
}
