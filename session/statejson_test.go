package session

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// sampleStates are states as nook writes them: every kind, with and
// without the optional keys.
func sampleStates() []State {
	created := time.Date(2026, 11, 23, 21, 43, 32, 756851391, time.UTC)
	return []State{
		{ID: "buildd-c7ed4043-9b9d-4abd-8f82-4fd007c9e8c4", Chroot: "buildd", Kind: KindTarball,
			Source: "/var/cache/nook-bench/bookworm-buildd.tar", Lower: "/home/u/.cache/nook/unpack/entries/d6bd-subids/root",
			Entry: "d6bd-subids", IDMode: IDSubids, Created: created, Selected: "buildd"},
		{ID: "h", Chroot: "host", Kind: KindHost, Lower: "/", IDMode: IDSingle, Created: created.In(time.FixedZone("", 3600))},
		{ID: "copy", Chroot: "dir", Kind: KindDirectory, Source: "/srv/chroot/sid", Lower: "", Copy: true, IDMode: IDSubids,
			Created: created, Keys: map[string]string{"type": "directory", "profile": "sbuild", "union-type": "overlay", "empty": ""},
			Repack: "/srv/sid.tar.gz"},
		{ID: "k", Keys: map[string]string{}},
		{ID: "sd", Chroot: "sd", Kind: KindTarball, IDMode: IDSubids, Created: created, Boot: true},
	}
}

// TestScanStateReadsWhatNookWrites: the states nook writes take the fast
// path (else it is dead code and the start-up cost is back), and read
// back as encoding/json reads them.
func TestScanStateReadsWhatNookWrites(t *testing.T) {
	for _, want := range sampleStates() {
		b, err := json.MarshalIndent(want, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		var ref State
		if err := json.Unmarshal(b, &ref); err != nil {
			t.Fatal(err)
		}
		var got State
		if !scanState(b, &got) {
			t.Errorf("scanState refused what nook writes:\n%s", b)
			continue
		}
		if !reflect.DeepEqual(got, ref) {
			t.Errorf("scanState read\n%s\nas %+v; encoding/json: %+v", b, got, ref)
		}
	}
}

// TestDecodeStateFallsBack: what the scanner does not take still decodes,
// as encoding/json decodes it, and a broken file is an error naming it.
func TestDecodeStateFallsBack(t *testing.T) {
	for _, in := range []string{
		`{"id":"a\"b","lower":"/x"}`,         // an escape
		`{"ID":"a"}`,                         // other case
		`{"id":"a","id":"b"}`,                // a key twice: the last wins
		`{"id":"a","extra":[1,2]}`,           // an unknown key
		`{"copy":null,"keys":null}`,          // null
		`{"keys":{"a":"1","a":"2"}}`,         // a key twice inside keys
		`{"created":"2026-11-23T21:43:32Z"}`, // (taken by the scanner)
	} {
		var ref, got State
		if err := json.Unmarshal([]byte(in), &ref); err != nil {
			t.Fatal(err)
		}
		if err := decodeState("state.json", []byte(in), &got); err != nil {
			t.Errorf("decodeState(%s): %v", in, err)
			continue
		}
		if !reflect.DeepEqual(got, ref) {
			t.Errorf("decodeState(%s) = %+v, encoding/json: %+v", in, got, ref)
		}
	}
	var st State
	err := decodeState("/s/state.json", []byte(`{"id":`), &st)
	if err == nil || err.Error() != "parse /s/state.json: unexpected end of JSON input" {
		t.Errorf("a truncated state: %v", err)
	}
	if err := decodeState("s", []byte(`{"created":"yesterday"}`), &st); err == nil {
		t.Error("a bad time was accepted")
	}
}

// FuzzDecodeState: wherever the scanner answers, encoding/json accepts
// the input and reads the same state.
func FuzzDecodeState(f *testing.F) {
	for _, st := range sampleStates() {
		b, _ := json.MarshalIndent(st, "", "  ")
		f.Add(b)
	}
	f.Add([]byte(`{"id":"x","copy":true,"keys":{}}`))
	f.Add([]byte(` { "kind" : "host" , "copy" : false } `))
	f.Fuzz(func(t *testing.T, b []byte) {
		var got State
		if !scanState(b, &got) {
			return
		}
		var ref State
		if err := json.Unmarshal(b, &ref); err != nil {
			t.Fatalf("scanState took %q, which encoding/json refuses: %v", b, err)
		}
		if !reflect.DeepEqual(got, ref) {
			t.Fatalf("scanState read %q as %+v; encoding/json: %+v", b, got, ref)
		}
	})
}

// TestAppendRunning: the lock record is JSON that reads back as
// json.Marshal's would.
func TestAppendRunning(t *testing.T) {
	for _, r := range []running{
		{Pid: 12, Args: []string{"sh", "-c", `echo "a\b" <&> '\n'`}},
		{Pid: 1, Args: []string{"\x00\x01\x1f\x7f", "tab\there", "ünïcödé", "\u2028\u2029", "bad\xff\xfeutf8"}},
		{Pid: 3, Args: nil},
		{Pid: 4, Args: []string{}},
	} {
		checkRunning(t, r)
	}
}

func FuzzAppendRunning(f *testing.F) {
	f.Add(7, "sh", "-c \"x\"\n")
	f.Add(-1, "\xff", "\u2028")
	f.Fuzz(func(t *testing.T, pid int, a, b string) {
		checkRunning(t, running{Pid: pid, Args: []string{a, b}})
	})
}

func checkRunning(t *testing.T, r running) {
	t.Helper()
	out := appendRunning(nil, r)
	ref, _ := json.Marshal(r)
	var got, want running
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("appendRunning(%+v) = %s, not JSON: %v", r, out, err)
	}
	json.Unmarshal(ref, &want)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("appendRunning(%+v) = %s reads as %+v; json.Marshal's %s as %+v", r, out, got, ref, want)
	}
}
