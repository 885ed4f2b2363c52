package idmap

import "testing"

func TestModeRoundTrip(t *testing.T) {
	for _, m := range []Mode{Self, Root, SubidsRoot, SubidsSelf} {
		got, err := ParseMode(m.String())
		if err != nil || got != m {
			t.Errorf("ParseMode(%q) = %v, %v; want %v", m.String(), got, err, m)
		}
	}
	names := map[Mode]string{Self: "self", Root: "root", SubidsRoot: "subids-root", SubidsSelf: "subids-self", Mode(9): "Mode(9)", Mode(-1): "Mode(-1)"}
	for m, want := range names {
		if got := m.String(); got != want {
			t.Errorf("Mode(%d).String() = %q, want %q", int(m), got, want)
		}
	}
	for _, bad := range []string{"", "Self", "subids", "subids_root", "Mode(0)"} {
		if _, err := ParseMode(bad); err == nil {
			t.Errorf("ParseMode(%q) succeeded, want error", bad)
		}
	}
}
