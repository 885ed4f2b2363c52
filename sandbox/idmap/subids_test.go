package idmap

import (
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseSubIDs(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		user    string
		id      int
		want    []Range
		wantErr error
	}{
		{name: "by name", file: "alice:100000:65536\n", user: "alice", id: 1000,
			want: []Range{{100000, 65536}}},
		{name: "by numeric id", file: "1000:100000:65536\n", user: "alice", id: 1000,
			want: []Range{{100000, 65536}}},
		{name: "name and id both listed, file order kept", file: "1000:300000:10\nalice:100000:65536\n", user: "alice", id: 1000,
			want: []Range{{300000, 10}, {100000, 65536}}},
		{name: "other users ignored", file: "bob:100000:65536\nalice:165536:65536\n1001:5:5\nalice2:1:1\nalic:2:2\n", user: "alice", id: 1000,
			want: []Range{{165536, 65536}}},
		{name: "comments and blank lines", file: "# alice:1:1\n\n   \nalice:100000:65536\n#\n", user: "alice", id: 1000,
			want: []Range{{100000, 65536}}},
		{name: "several ranges", file: "alice:100000:100\nalice:200000:200\nalice:300000:300\n", user: "alice", id: 1000,
			want: []Range{{100000, 100}, {200000, 200}, {300000, 300}}},
		{name: "malformed lines skipped", file: strings.Join([]string{
			"alice", "alice:1", "alice:1:", "alice::1", "alice:x:5", "alice:5:y", "alice:1:2:3",
			"alice:-1:5", "alice:5:-1", "alice:+5:1", "alice: 5:1", "alice:5 :1", " alice:5:1",
			"alice:0x10:5", "alice:100:0", "alice:99999999999999999999:1", ":5:5",
			"alice:400000:10",
		}, "\n"), user: "alice", id: 1000,
			want: []Range{{400000, 10}}},
		{name: "CRLF line ends", file: "alice:1:2\r\nalice:10:20\r\n", user: "alice", id: 1000,
			want: []Range{{1, 2}, {10, 20}}},
		{name: "no final newline", file: "alice:7:8", user: "alice", id: 1000,
			want: []Range{{7, 8}}},
		{name: "no id given matches by name only", file: "alice:7:8\n-1:1:1\n:2:2\n", user: "alice", id: -1,
			want: []Range{{7, 8}}},
		{name: "empty file", file: "", user: "alice", id: 1000},
		{name: "overflowing range rejected", file: "alice:4294967000:296\n", user: "alice", id: 1000,
			wantErr: ErrRangeOverflow},
		{name: "start past id space rejected", file: "alice:4294967295:1\n", user: "alice", id: 1000,
			wantErr: ErrRangeOverflow},
		{name: "huge count rejected", file: "1000:1:18446744073709551615\n", user: "alice", id: 1000,
			wantErr: ErrRangeOverflow},
		{name: "other user's overflow ignored", file: "bob:4294967295:10\nalice:1:1\n", user: "alice", id: 1000,
			want: []Range{{1, 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSubIDs(strings.NewReader(tt.file), tt.user, tt.id)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ranges (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseSubIDsReadError(t *testing.T) {
	boom := errors.New("boom")
	_, err := ParseSubIDs(iotest.ErrReader(boom), "alice", 1000)
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want it to wrap %v", err, boom)
	}
}

func TestLookupSubIDs(t *testing.T) {
	dir := t.TempDir()

	got, err := LookupSubIDs(filepath.Join(dir, "missing"), "alice", 1000)
	if err != nil || got != nil {
		t.Errorf("missing file: got %v, %v; want nil, nil", got, err)
	}

	p := filepath.Join(dir, "subuid")
	if err := os.WriteFile(p, []byte("bob:1:1\nalice:100000:65536\n1000:200000:5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err = LookupSubIDs(p, "alice", 1000)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Range{{100000, 65536}, {200000, 5}}, got); diff != "" {
		t.Errorf("ranges (-want +got):\n%s", diff)
	}

	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("alice:4294967295:2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LookupSubIDs(bad, "alice", 1000); !errors.Is(err, ErrRangeOverflow) || !strings.Contains(err.Error(), bad) {
		t.Errorf("overflow: err = %v, want ErrRangeOverflow naming %s", err, bad)
	}

	// A directory opens but cannot be read: the error must name the path.
	if _, err := LookupSubIDs(dir, "alice", 1000); err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("directory: err = %v, want an error naming %s", err, dir)
	}
}

// TestLookupSubIDsNoticesChanges: remembered answers are dropped when the
// file changes, in place (same size, new mtime) or replaced (new inode).
func TestLookupSubIDsNoticesChanges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "subuid")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want := func(start int) {
		t.Helper()
		for range 2 { // the second answer is the remembered one
			r, err := LookupSubIDs(path, "alice", 1000)
			if err != nil || len(r) != 1 || r[0].Start != start {
				t.Fatalf("LookupSubIDs = %v, %v; want one range at %d", r, err, start)
			}
			r[0].Start = -1 // the caller's copy is its own
		}
	}
	write("alice:100000:65536\n")
	want(100000)
	time.Sleep(20 * time.Millisecond) // past the file system's timestamp granularity
	write("alice:200000:65536\n")
	want(200000)
	tmp := path + ".new"
	os.WriteFile(tmp, []byte("alice:300000:65536\n"), 0o644)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	want(300000)
}

// TestUserName: the caller's name as os/user gives it, the same answer
// again (remembered), and the decimal form for an id without an account.
func TestUserName(t *testing.T) {
	uid := os.Getuid()
	want := strconv.Itoa(uid)
	if u, err := user.LookupId(want); err == nil {
		want = u.Username
	}
	for range 2 {
		if got := UserName(uid); got != want {
			t.Errorf("UserName(%d) = %q, want %q", uid, got, want)
		}
	}
	if got := UserName(1<<31 - 7); got != strconv.Itoa(1<<31-7) {
		t.Errorf("UserName of an id without an account = %q", got)
	}
}
