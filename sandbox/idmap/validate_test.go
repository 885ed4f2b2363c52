package idmap

import (
	"cmp"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	var tooMany idMap
	for i := range MaxLines + 1 {
		tooMany = append(tooMany, m(i, 1000+i, 1)) // short lines, under the byte limit
	}
	var tooLong idMap // 300 lines of 24 bytes: under MaxLines, over one page
	for i := range 300 {
		tooLong = append(tooLong, m(1_000_000+i, 2_000_000+i, 1))
	}
	tests := []struct {
		name    string
		in      idMap
		wantErr string // "" means valid
	}{
		{"single", idMap{m(0, 1000, 1)}, ""},
		{"adjacent on both sides", idMap{m(0, 100, 10), m(10, 110, 10)}, ""},
		{"unsorted but disjoint", idMap{m(500, 1, 5), m(0, 900, 500)}, ""},
		{"exactly MaxLines", tooMany[:MaxLines], ""},
		{"empty", nil, "no lines"},
		{"too many lines", tooMany, "at most 340"},
		{"text over one page", tooLong, "in one write"},
		{"zero size", idMap{m(0, 1000, 0)}, "empty or outside"},
		{"negative inside", idMap{m(-1, 1000, 1)}, "empty or outside"},
		{"negative outside", idMap{m(0, -1000, 1)}, "empty or outside"},
		{"inside overlap", idMap{m(0, 100, 10), m(9, 200, 10)}, "overlap on the inside"},
		{"inside overlap unsorted", idMap{m(50, 300, 1), m(0, 100, 10), m(5, 200, 1)}, "overlap on the inside"},
		{"inside duplicate", idMap{m(7, 100, 1), m(7, 200, 1)}, "overlap on the inside"},
		{"outside overlap", idMap{m(0, 100, 10), m(10, 105, 10)}, "overlap on the outside"},
		{"outside contained", idMap{m(0, 100, 100), m(200, 150, 1)}, "overlap on the outside"},
		{"outside duplicate", idMap{m(0, 1000, 1), m(1, 1000, 1)}, "overlap on the outside"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(tt.in)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrInvalidMap) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate = %v, want ErrInvalidMap containing %q", err, tt.wantErr)
			}
		})
	}
}

// overlapsBrute compares every pair of lines; it shares no code with
// Validate's sort-and-scan so the two check each other.
func overlapsBrute(mp idMap) bool {
	for i := range mp {
		for j := range i {
			a, b := mp[i], mp[j]
			if a.ContainerID < b.ContainerID+b.Size && b.ContainerID < a.ContainerID+a.Size {
				return true
			}
			if a.HostID < b.HostID+b.Size && b.HostID < a.HostID+a.Size {
				return true
			}
		}
	}
	return false
}

// TestValidateOverlapRandom checks Validate against the brute-force check
// on random small maps, where collisions are frequent.
func TestValidateOverlapRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for iter := range 20000 {
		var mp idMap
		for range 1 + rng.IntN(8) {
			mp = append(mp, m(rng.IntN(200), rng.IntN(200), 1+rng.IntN(30)))
		}
		err := Validate(mp)
		if brute := overlapsBrute(mp); brute != (err != nil) {
			t.Fatalf("iteration %d: map %v: brute force overlap=%v, Validate err=%v", iter, mp, brute, err)
		}
	}
}

// TestPlanRandom is the property test: for many random range sets, modes
// and caller ids, Plan either fails for a reason the test can confirm
// independently, or returns maps that (a) never overlap on either side,
// (b) map the caller's inside id to its host id, (c) cover exactly the
// inside ids the mode promises, (d) use only the caller's own host id or
// ids from its ranges, and (e) fit the kernel's limits.
func TestPlanRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	modes := []Mode{Self, Root, SubidsRoot, SubidsSelf}
	var okSub, short, tooLong int
	for iter := range 5000 {
		mode := modes[rng.IntN(len(modes))]
		host := randID(rng)
		inner := DefaultInner
		if (mode == Self || mode == SubidsSelf) && rng.IntN(4) == 0 {
			inner = randID(rng)
		}
		ranges := randRanges(rng, host)
		u, _, err := PlanInner(mode, host, 0, inner, DefaultInner, ranges, []Range{{100000, 65536}})
		wantInner := inner
		if inner == DefaultInner {
			wantInner = host
			if mode == Root || mode == SubidsRoot {
				wantInner = 0
			}
		}
		avail := availableIDs(ranges, host)
		need := int64(SpanIDs - 1)
		if wantInner >= SpanIDs {
			need = SpanIDs
		}
		if err != nil {
			switch {
			case !mode.usesSubIDs():
				t.Fatalf("iteration %d: mode %v host %d: unexpected error %v", iter, mode, host, err)
			case errors.Is(err, ErrNotEnoughSubIDs):
				if avail >= need {
					t.Fatalf("iteration %d: %v with %d of %d ids available: %v", iter, ranges, avail, need, err)
				}
				short++
			case errors.Is(err, ErrInvalidMap) &&
				(strings.Contains(err.Error(), "at most 340") || strings.Contains(err.Error(), "in one write")):
				if avail < need {
					t.Fatalf("iteration %d: expected a shortage error, got %v", iter, err)
				}
				tooLong++
			default:
				t.Fatalf("iteration %d: mode %v host %d ranges %v: unexpected error %v", iter, mode, host, ranges, err)
			}
			continue
		}
		if mode.usesSubIDs() {
			okSub++
			if avail < need {
				t.Fatalf("iteration %d: Plan succeeded with only %d of %d ids", iter, avail, need)
			}
		}
		checkMapProperties(t, iter, mode, u, host, wantInner, ranges)
	}
	// Guard against a generator that never reaches the interesting cases.
	if okSub < 300 || short < 100 || tooLong < 20 {
		t.Errorf("poor coverage: %d successful subids plans, %d shortages, %d over the kernel's size limits", okSub, short, tooLong)
	}
	t.Logf("%d successful subids plans, %d shortages, %d over the kernel's size limits", okSub, short, tooLong)
}

func checkMapProperties(t *testing.T, iter int, mode Mode, mp idMap, host, inner int, ranges []Range) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("iteration %d: mode %v host %d inner %d ranges %v map %v: "+format,
			append([]any{iter, mode, host, inner, ranges, mp}, args...)...)
	}
	if overlapsBrute(mp) {
		fail("lines overlap")
	}
	if err := Validate(mp); err != nil {
		fail("Validate: %v", err)
	}
	if len(mp) > MaxLines {
		fail("%d lines", len(mp))
	}
	found := false
	for i, e := range mp {
		if i > 0 && e.ContainerID <= mp[i-1].ContainerID {
			fail("not sorted by inside id")
		}
		if e.ContainerID <= inner && inner < e.ContainerID+e.Size {
			if e.HostID+(inner-e.ContainerID) != host {
				fail("inside %d maps to %d", inner, e.HostID+(inner-e.ContainerID))
			}
			found = true
		}
	}
	if !found {
		fail("caller's inside id is not mapped")
	}
	if !mode.usesSubIDs() {
		if len(mp) != 1 || mp[0].Size != 1 {
			fail("single-id mode returned more than one id")
		}
		return
	}
	// Coverage: disjoint lines whose inside ids all lie in 0..65535 or are
	// the caller's, and whose sizes add up to the count of that set, cover
	// it exactly.
	total := 0
	for _, e := range mp {
		inSpan := e.ContainerID+e.Size <= SpanIDs
		if !inSpan && !(e.ContainerID == inner && e.Size == 1) {
			fail("line %v outside 0..65535", e)
		}
		total += e.Size
		if e.ContainerID == inner && e.Size == 1 && e.HostID == host {
			continue
		}
		if !covered(ranges, e.HostID, e.Size) {
			fail("line %v uses host ids outside the ranges", e)
		}
		if e.HostID <= host && host < e.HostID+e.Size {
			fail("line %v maps the caller's host id a second time", e)
		}
	}
	want := SpanIDs
	if inner >= SpanIDs {
		want++
	}
	if total != want {
		fail("covers %d inside ids, want %d", total, want)
	}
}

// covered reports whether every id in [start, start+n) is in some range.
func covered(ranges []Range, start, n int) bool {
	for id := start; id < start+n; {
		next := id
		for _, r := range ranges {
			if r.Start <= id && id < r.Start+r.Count {
				next = max(next, r.Start+r.Count)
			}
		}
		if next == id {
			return false
		}
		id = next
	}
	return true
}

// availableIDs counts distinct ids in the ranges other than host with a
// sweep over start/end events, a different method from Plan's merge.
func availableIDs(ranges []Range, host int) int64 {
	type event struct{ at, delta int }
	var ev []event
	for _, r := range ranges {
		ev = append(ev, event{r.Start, +1}, event{r.Start + r.Count, -1})
	}
	slices.SortFunc(ev, func(a, b event) int { return cmp.Compare(a.at, b.at) })
	var n int64
	depth, last := 0, 0
	for _, e := range ev {
		if depth > 0 {
			n += int64(e.at - last)
			if last <= host && host < e.at {
				n--
			}
		}
		depth += e.delta
		last = e.at
	}
	return n
}

// randID picks caller ids around the interesting boundaries.
func randID(rng *rand.Rand) int {
	switch rng.IntN(4) {
	case 0:
		return rng.IntN(2000)
	case 1:
		return 65530 + rng.IntN(10)
	case 2:
		return rng.IntN(1 << 20)
	default:
		return 100000 + rng.IntN(200000) // often inside the ranges
	}
}

// randRanges makes range sets that are sometimes enough, sometimes short,
// often overlapping or adjacent, occasionally too fragmented for 340 lines.
func randRanges(rng *rand.Rand, host int) []Range {
	var rs []Range
	switch rng.IntN(5) {
	case 0: // one big range, maybe around the caller
		start := 100000 + rng.IntN(100000)
		if rng.IntN(3) == 0 {
			start = max(0, host-rng.IntN(65536))
		}
		rs = append(rs, Range{start, 65530 + rng.IntN(12)})
	case 1: // a few medium ranges, overlapping at random
		for range 1 + rng.IntN(6) {
			rs = append(rs, Range{100000 + rng.IntN(150000), 1 + rng.IntN(30000)})
		}
	case 2: // many small ones: the line limit
		for range 100 + rng.IntN(700) {
			rs = append(rs, Range{100000 + rng.IntN(3_000_000), 1 + rng.IntN(400)})
		}
	case 3: // adjacent pieces that merge back into few lines
		start := 200000 + rng.IntN(100000)
		for range 1 + rng.IntN(700) {
			n := 1 + rng.IntN(200)
			rs = append(rs, Range{start, n})
			start += n
		}
		rng.Shuffle(len(rs), func(i, j int) { rs[i], rs[j] = rs[j], rs[i] })
	default: // duplicates
		r := Range{100000 + rng.IntN(100000), 20000 + rng.IntN(50000)}
		for range 1 + rng.IntN(4) {
			rs = append(rs, r)
		}
	}
	return rs
}
