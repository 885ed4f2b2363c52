//go:build amd64 || arm64 || loong64 || mips64 || mips64le || ppc64 || ppc64le || riscv64 || s390x

package idmap

// Ids near the top of the 32-bit id space do not fit in int on 32-bit
// platforms, so these cases live here, built only where int is 64 bits.

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestTopOfIDSpace(t *testing.T) {
	if got, want := Format(idMap{m(4294967294, 4294967294, 1)}), "4294967294 4294967294 1\n"; got != want {
		t.Errorf("Format = %q, want %q", got, want)
	}

	got, err := ParseSubIDs(strings.NewReader("alice:4294967000:295\n"), "alice", 1000)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Range{{4294967000, 295}}, got); diff != "" {
		t.Errorf("range ending at the last valid id (-want +got):\n%s", diff)
	}

	for _, tt := range []struct {
		name    string
		in      idMap
		wantErr bool
	}{
		{"last valid id", idMap{m(4294967294, 4294967294, 1)}, false},
		{"inside past end", idMap{m(4294967294, 5, 2)}, true},
		{"outside is (uid_t)-1", idMap{m(0, 4294967295, 1)}, true},
		{"inside is (uid_t)-1", idMap{m(4294967295, 0, 1)}, true},
	} {
		if err := Validate(tt.in); (err != nil) != tt.wantErr || (err != nil && !errors.Is(err, ErrInvalidMap)) {
			t.Errorf("%s: Validate = %v, want error %v", tt.name, err, tt.wantErr)
		}
	}

	_, _, err = Plan(SubidsRoot, 1000, 1000, []Range{{1<<32 - 10, 65536}}, []Range{{100000, 65536}})
	if err == nil || !strings.Contains(err.Error(), "outside ids") {
		t.Errorf("range past the id space: err = %v, want 'outside ids'", err)
	}
	u, _, err := Plan(SubidsSelf, 4294967294, 1000, []Range{{4294967294 - 65536, 65536}}, []Range{{100000, 65536}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(idMap{m(0, 4294967294-65536, 65536), m(4294967294, 4294967294, 1)}, u); diff != "" {
		t.Errorf("caller at the last valid id (-want +got):\n%s", diff)
	}
}
