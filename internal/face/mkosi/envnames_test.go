package mkosi

import (
	"reflect"
	"testing"
)

// TestUnsetenvNameWithEquals: sandbox.py deletes a variable only where
// the name given is one (os.environ), so `--unsetenv A=B` leaves A=B=c
// alone; matching "A=B=" as a prefix of the caller's entries removes A.
func TestUnsetenvNameWithEquals(t *testing.T) {
	o, err := parse([]string{"--unsetenv", "A=B", "true"}, "/")
	if err != nil {
		t.Fatal(err)
	}
	if got := environment([]string{"A=B=c", "D=1"}, o); !reflect.DeepEqual(got, []string{"A=B=c", "D=1"}) {
		t.Errorf("--unsetenv A=B: environment %q, want A=B=c and D=1 kept", got)
	}
}

// TestSetenvNameWithEquals: Python refuses a variable name holding "="
// (or an empty one: "illegal environment variable name", a traceback),
// where the face set A to "B=v" (and overwrote an A whose value starts
// "B="). It must be refused: a parse or build error.
func TestSetenvNameWithEquals(t *testing.T) {
	for _, name := range []string{"A=B", ""} {
		o, err := parse([]string{"--setenv", name, "v", "true"}, "/")
		if err != nil {
			continue
		}
		if _, err := build(o, host{uid: 1000, effCaps: map[int]bool{}, env: []string{"A=B=c"}}, nil); err == nil {
			t.Errorf("--setenv %q v: accepted, environment %q", name, environment([]string{"A=B=c"}, o))
		}
	}
}
