package idmap

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFormat(t *testing.T) {
	tests := []struct {
		name string
		in   idMap
		want string
	}{
		{"empty", nil, ""},
		{"one", idMap{m(0, 1000, 1)}, "0 1000 1\n"},
		{"several", idMap{m(0, 100000, 1000), m(1000, 1000, 1), m(1001, 101000, 64535)},
			"0 100000 1000\n1000 1000 1\n1001 101000 64535\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, Format(tt.in)); diff != "" {
				t.Errorf("Format (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHelperArgs(t *testing.T) {
	got := helperArgs(4711, idMap{m(0, 1000, 1), m(1, 100000, 65535)})
	want := []string{"4711", "0", "1000", "1", "1", "100000", "65535"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("helperArgs (-want +got):\n%s", diff)
	}
}
