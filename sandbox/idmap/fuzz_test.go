package idmap

import (
	"strings"
	"testing"
)

// FuzzParseSubIDs: any file content gives ranges that are non-empty and
// within the valid id space, or an error; never a panic.
func FuzzParseSubIDs(f *testing.F) {
	f.Add("alice:100000:65536\n1000:200000:65536\n", "alice", 1000)
	f.Add("#c\n\nalice:1:2:3\nalice:x:1\nalice:4294967294:2\n", "alice", -1)
	f.Add("bob:0:0\nbob:5:10\r\n", "bob", 7)
	f.Fuzz(func(t *testing.T, file, name string, id int) {
		ranges, err := ParseSubIDs(strings.NewReader(file), name, id)
		if err != nil {
			return
		}
		for _, r := range ranges {
			if r.Count <= 0 || r.Start < 0 || int64(r.Start)+int64(r.Count) > 1<<32 {
				t.Fatalf("range %+v from %q", r, file)
			}
		}
	})
}
