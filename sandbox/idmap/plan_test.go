package idmap

import (
	"errors"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// m is shorthand for one map line in the tables below.
func m(inside, outside, size int) syscall.SysProcIDMap {
	return syscall.SysProcIDMap{ContainerID: inside, HostID: outside, Size: size}
}

type idMap = []syscall.SysProcIDMap

func TestPlan(t *testing.T) {
	one := []Range{{100000, 65536}}
	tests := []struct {
		name             string
		mode             Mode
		hostUID, hostGID int
		innerUID         int // 0 means DefaultInner here
		subUID, subGID   []Range
		wantUID, wantGID idMap
	}{
		{name: "self", mode: Self, hostUID: 1000, hostGID: 1001,
			wantUID: idMap{m(1000, 1000, 1)}, wantGID: idMap{m(1001, 1001, 1)}},
		{name: "self ignores ranges", mode: Self, hostUID: 1000, hostGID: 1000, subUID: one, subGID: one,
			wantUID: idMap{m(1000, 1000, 1)}, wantGID: idMap{m(1000, 1000, 1)}},
		{name: "self with --uid override", mode: Self, hostUID: 1000, hostGID: 1000, innerUID: 4242,
			wantUID: idMap{m(4242, 1000, 1)}, wantGID: idMap{m(1000, 1000, 1)}},
		{name: "root", mode: Root, hostUID: 1000, hostGID: 1001,
			wantUID: idMap{m(0, 1000, 1)}, wantGID: idMap{m(0, 1001, 1)}},
		{name: "root as root", mode: Root, hostUID: 0, hostGID: 0,
			wantUID: idMap{m(0, 0, 1)}, wantGID: idMap{m(0, 0, 1)}},
		{name: "subids-root one range", mode: SubidsRoot, hostUID: 1000, hostGID: 1000, subUID: one, subGID: one,
			wantUID: idMap{m(0, 1000, 1), m(1, 100000, 65535)},
			wantGID: idMap{m(0, 1000, 1), m(1, 100000, 65535)}},
		{name: "subids-self one range", mode: SubidsSelf, hostUID: 1000, hostGID: 1000, subUID: one, subGID: one,
			wantUID: idMap{m(0, 100000, 1000), m(1000, 1000, 1), m(1001, 101000, 64535)},
			wantGID: idMap{m(0, 100000, 1000), m(1000, 1000, 1), m(1001, 101000, 64535)}},
		{name: "subids-self uid and gid differ", mode: SubidsSelf, hostUID: 1000, hostGID: 50,
			subUID: one, subGID: []Range{{300000, 65535}},
			wantUID: idMap{m(0, 100000, 1000), m(1000, 1000, 1), m(1001, 101000, 64535)},
			wantGID: idMap{m(0, 300000, 50), m(50, 50, 1), m(51, 300050, 65485)}},
		{name: "subids-self caller is 0", mode: SubidsSelf, hostUID: 0, hostGID: 0, subUID: one, subGID: one,
			wantUID: idMap{m(0, 0, 1), m(1, 100000, 65535)},
			wantGID: idMap{m(0, 0, 1), m(1, 100000, 65535)}},
		{name: "subids-root several small ranges", mode: SubidsRoot, hostUID: 1000, hostGID: 1000,
			subUID:  []Range{{100000, 30000}, {200000, 30000}, {300000, 10000}},
			subGID:  []Range{{300000, 10000}, {100000, 30000}, {200000, 30000}}, // order in the file does not matter
			wantUID: idMap{m(0, 1000, 1), m(1, 100000, 30000), m(30001, 200000, 30000), m(60001, 300000, 5535)},
			wantGID: idMap{m(0, 1000, 1), m(1, 100000, 30000), m(30001, 200000, 30000), m(60001, 300000, 5535)}},
		{name: "subids-self range split around the caller", mode: SubidsSelf, hostUID: 1000, hostGID: 1000,
			subUID:  []Range{{100000, 500}, {200000, 65035}},
			subGID:  []Range{{100000, 500}, {200000, 65035}},
			wantUID: idMap{m(0, 100000, 500), m(500, 200000, 500), m(1000, 1000, 1), m(1001, 200500, 64535)},
			wantGID: idMap{m(0, 100000, 500), m(500, 200000, 500), m(1000, 1000, 1), m(1001, 200500, 64535)}},
		{name: "subids-self caller >= 65536", mode: SubidsSelf, hostUID: 70000, hostGID: 65536, subUID: one, subGID: one,
			wantUID: idMap{m(0, 100000, 65536), m(70000, 70000, 1)},
			wantGID: idMap{m(0, 100000, 65536), m(65536, 65536, 1)}},
		{name: "subids-root caller >= 65536", mode: SubidsRoot, hostUID: 70000, hostGID: 70000, subUID: one, subGID: one,
			wantUID: idMap{m(0, 70000, 1), m(1, 100000, 65535)},
			wantGID: idMap{m(0, 70000, 1), m(1, 100000, 65535)}},
		{name: "duplicate and overlapping lines merged", mode: SubidsRoot, hostUID: 1000, hostGID: 1000,
			subUID:  []Range{{100000, 65536}, {100000, 65536}, {120000, 100}},
			subGID:  []Range{{100000, 40000}, {140000, 30000}, {139000, 2000}}, // adjacent and overlapping
			wantUID: idMap{m(0, 1000, 1), m(1, 100000, 65535)},
			wantGID: idMap{m(0, 1000, 1), m(1, 100000, 65535)}},
		{name: "caller's own id inside its range is skipped", mode: SubidsRoot, hostUID: 100500, hostGID: 1000,
			subUID: []Range{{100000, 65536}}, subGID: one,
			wantUID: idMap{m(0, 100500, 1), m(1, 100000, 500), m(501, 100501, 65035)},
			wantGID: idMap{m(0, 1000, 1), m(1, 100000, 65535)}},
		{name: "empty ranges ignored", mode: SubidsRoot, hostUID: 1000, hostGID: 1000,
			subUID: []Range{{5, 0}, {100000, 65536}}, subGID: one,
			wantUID: idMap{m(0, 1000, 1), m(1, 100000, 65535)},
			wantGID: idMap{m(0, 1000, 1), m(1, 100000, 65535)}},
		{name: "exactly 65535 ids suffice", mode: SubidsRoot, hostUID: 1000, hostGID: 1000,
			subUID: []Range{{100000, 65535}}, subGID: []Range{{100000, 65535}},
			wantUID: idMap{m(0, 1000, 1), m(1, 100000, 65535)},
			wantGID: idMap{m(0, 1000, 1), m(1, 100000, 65535)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inner := DefaultInner
			if tt.innerUID != 0 {
				inner = tt.innerUID
			}
			u, g, err := PlanInner(tt.mode, tt.hostUID, tt.hostGID, inner, DefaultInner, tt.subUID, tt.subGID)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantUID, u); diff != "" {
				t.Errorf("uid map (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantGID, g); diff != "" {
				t.Errorf("gid map (-want +got):\n%s", diff)
			}
			if inner == DefaultInner {
				u2, g2, err := Plan(tt.mode, tt.hostUID, tt.hostGID, tt.subUID, tt.subGID)
				if err != nil || !cmp.Equal(u, u2) || !cmp.Equal(g, g2) {
					t.Errorf("Plan disagrees with PlanInner(DefaultInner): %v %v %v", u2, g2, err)
				}
			}
		})
	}
}

func TestPlanErrors(t *testing.T) {
	one := []Range{{100000, 65536}}
	// 600 far-apart ranges of 110 ids: about 600 map lines, over the limit.
	var many []Range
	for i := range 600 {
		many = append(many, Range{Start: 1_000_000 + i*1000, Count: 110})
	}
	tests := []struct {
		name             string
		mode             Mode
		hostUID, hostGID int
		innerUID         int
		subUID, subGID   []Range
		wantErr          error
		wantText         []string
	}{
		{name: "no ranges", mode: SubidsRoot, hostUID: 1000, hostGID: 1000, innerUID: DefaultInner,
			wantErr: ErrNotEnoughSubIDs, wantText: []string{"/etc/subuid", "usermod --add-subuids", "grants 0 uids", "needs 65535"}},
		{name: "too few uids", mode: SubidsSelf, hostUID: 1000, hostGID: 1000, innerUID: DefaultInner,
			subUID: []Range{{100000, 30000}, {200000, 35534}}, subGID: one,
			wantErr: ErrNotEnoughSubIDs, wantText: []string{"/etc/subuid", "--add-subuids", "grants 65534 uids", "needs 65535"}},
		{name: "too few gids", mode: SubidsRoot, hostUID: 1000, hostGID: 1000, innerUID: DefaultInner,
			subUID: one, subGID: []Range{{100000, 100}},
			wantErr: ErrNotEnoughSubIDs, wantText: []string{"/etc/subgid", "usermod --add-subgids", "grants 100 gids"}},
		{name: "duplicates do not count twice", mode: SubidsRoot, hostUID: 1000, hostGID: 1000, innerUID: DefaultInner,
			subUID: []Range{{100000, 40000}, {100000, 40000}}, subGID: one,
			wantErr: ErrNotEnoughSubIDs, wantText: []string{"grants 40000 uids"}},
		{name: "own id does not count", mode: SubidsRoot, hostUID: 100000, hostGID: 1000, innerUID: DefaultInner,
			subUID: []Range{{100000, 65535}}, subGID: one,
			wantErr: ErrNotEnoughSubIDs, wantText: []string{"grants 65534 uids"}},
		{name: "caller >= 65536 needs 65536", mode: SubidsSelf, hostUID: 70000, hostGID: 1000, innerUID: DefaultInner,
			subUID: []Range{{100000, 65535}}, subGID: one,
			wantErr: ErrNotEnoughSubIDs, wantText: []string{"needs 65536"}},
		{name: "too many lines", mode: SubidsRoot, hostUID: 1000, hostGID: 1000, innerUID: DefaultInner,
			subUID: many, subGID: one,
			wantErr: ErrInvalidMap, wantText: []string{"at most 340"}},
		{name: "root mode refuses other inner id", mode: Root, hostUID: 1000, hostGID: 1000, innerUID: 5,
			wantText: []string{"mode root", "not 5"}},
		{name: "subids-root refuses other inner id", mode: SubidsRoot, hostUID: 1000, hostGID: 1000, innerUID: 5,
			subUID: one, subGID: one, wantText: []string{"mode subids-root"}},
		{name: "bad host id", mode: Self, hostUID: -1, hostGID: 1000, innerUID: DefaultInner,
			wantText: []string{"host uid -1"}},
		{name: "bad inner id", mode: Self, hostUID: 1000, hostGID: 1000, innerUID: -7,
			wantText: []string{"inside uid -7"}},
		{name: "bad range", mode: SubidsRoot, hostUID: 1000, hostGID: 1000, innerUID: DefaultInner,
			subUID: []Range{{-5, 65536}}, subGID: one, wantText: []string{"subordinate range -5:65536"}},
		{name: "unknown mode", mode: Mode(42), hostUID: 1000, hostGID: 1000, innerUID: DefaultInner,
			wantText: []string{"unknown mode Mode(42)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, g, err := PlanInner(tt.mode, tt.hostUID, tt.hostGID, tt.innerUID, DefaultInner, tt.subUID, tt.subGID)
			if err == nil {
				t.Fatalf("got maps %v / %v, want error", u, g)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("err = %v, want it to wrap %v", err, tt.wantErr)
			}
			for _, s := range tt.wantText {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("err = %q, want it to contain %q", err, s)
				}
			}
			if u != nil || g != nil {
				t.Errorf("maps returned with error: %v / %v", u, g)
			}
		})
	}
}

func TestPlanLineCount(t *testing.T) {
	var many []Range
	for i := range 100 {
		many = append(many, Range{Start: 3_000_000 + i*1000, Count: 700})
	}
	u, _, err := Plan(SubidsRoot, 0, 0, many, many)
	if err != nil {
		t.Fatal(err)
	}
	if len(u) != 95 { // 0 -> caller, then ceil(65535/700) = 94 slices
		t.Errorf("%d lines, want 95", len(u))
	}
}
