package idmap

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Paths of the files that grant subordinate ids; newuidmap and newgidmap
// read the same files, so reading them here lets Plan predict what the
// helpers will accept.
const (
	SubUIDPath = "/etc/subuid"
	SubGIDPath = "/etc/subgid"
)

// maxID is the largest usable uid/gid: ids are 32 bits and (uid_t)-1 is
// reserved to mean "no id" (e.g. for setresuid), so the kernel refuses it
// in maps.
const maxID = 1<<32 - 2

// ErrRangeOverflow is wrapped by the errors for a subordinate range that
// runs past the largest valid id.
var ErrRangeOverflow = errors.New("range overflows the id space")

// Range is one line of /etc/subuid or /etc/subgid that belongs to the
// caller: Count ids starting at Start.
type Range struct{ Start, Count int }

// ParseSubIDs reads an /etc/subuid-style file ("owner:start:count" per
// line) and returns, in file order, the ranges whose owner is name or the
// decimal form of id. Lines that do not parse (comments, blank lines, wrong
// field count, non-decimal numbers, a count of zero) are skipped, as
// shadow-utils skips them, so one bad line does not lock the user out. A
// range that runs past the largest valid id is an error instead: it
// signals a corrupt file, and silently shortening it would make Plan and
// the helpers disagree.
func ParseSubIDs(r io.Reader, name string, id int) ([]Range, error) {
	return parseSubIDs(r, name, id, "subordinate ids")
}

// parseSubIDs is ParseSubIDs with the source named in errors, so that
// LookupSubIDs can name the file without repeating the prefix.
func parseSubIDs(r io.Reader, name string, id int, source string) ([]Range, error) {
	idStr := ""
	if id >= 0 {
		idStr = strconv.Itoa(id)
	}
	var out []Range
	sc := bufio.NewScanner(r)
	for lineNo := 1; sc.Scan(); lineNo++ {
		fields := strings.Split(strings.TrimRight(sc.Text(), "\r"), ":")
		if len(fields) != 3 {
			continue
		}
		owner := fields[0]
		if owner == "" || (owner != name && owner != idStr) {
			continue
		}
		// Decimal only: shadow also takes other bases, but being stricter
		// can only make us use fewer ids than the helper would allow,
		// never ask it for ids it refuses.
		start, err1 := strconv.ParseUint(fields[1], 10, 64)
		count, err2 := strconv.ParseUint(fields[2], 10, 64)
		if err1 != nil || err2 != nil || count == 0 {
			continue
		}
		if start > maxID || count > maxID+1-start {
			return nil, fmt.Errorf("idmap: parse %s: line %d: %s:%s: %w (last valid id is %d)",
				source, lineNo, fields[1], fields[2], ErrRangeOverflow, uint64(maxID))
		}
		if start+count-1 > math.MaxInt {
			// Only reachable where int is 32 bits.
			return nil, fmt.Errorf("idmap: parse %s: line %d: %s:%s: %w (does not fit in int)", source, lineNo, fields[1], fields[2], ErrRangeOverflow)
		}
		out = append(out, Range{Start: int(start), Count: int(count)})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("idmap: read %s: %w", source, err)
	}
	return out, nil
}

// LookupSubIDs reads path (SubUIDPath or SubGIDPath) and returns the
// ranges of the user given by name and id. A missing file is not an error:
// many systems have none, and the caller then simply has no ranges.
//
// The answer is remembered for as long as the file's inode, size and
// modification time stay the same: one nook command asks up to three times
// (the session's id mode, the held user namespace, the sandbox), and a
// stat is cheaper than reading the file again.
func LookupSubIDs(path string, name string, id int) ([]Range, error) {
	stamp, ok := stampOf(path)
	if !ok {
		return readSubIDs(path, name, id)
	}
	key := lookupKey{path, name, id, stamp}
	lookups.Lock()
	defer lookups.Unlock()
	if r, ok := lookups.m[key]; ok {
		return slices.Clone(r), nil
	}
	r, err := readSubIDs(path, name, id)
	if err != nil {
		return nil, err
	}
	if lookups.m == nil || len(lookups.m) >= 64 {
		lookups.m = map[lookupKey][]Range{}
	}
	lookups.m[key] = slices.Clone(r)
	return r, nil
}

// lookups remembers LookupSubIDs's answers (see there).
var lookups struct {
	sync.Mutex
	m map[lookupKey][]Range
}

type lookupKey struct {
	path, name string
	id         int
	stamp      fileStamp
}

// fileStamp tells one version of a file from another for the caches here:
// an edit changes the mtime or the size, a replacement the inode.
type fileStamp struct {
	dev, ino uint64
	size     int64
	mtime    unix.Timespec
}

func stampOf(path string) (fileStamp, bool) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return fileStamp{}, false
	}
	// Dev is a uint32 on mips64 and mips64le.
	return fileStamp{uint64(st.Dev), st.Ino, st.Size, st.Mtim}, true
}

func readSubIDs(path string, name string, id int) ([]Range, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("idmap: open %s: %w", path, err)
	}
	defer f.Close()
	return parseSubIDs(f, name, id, path)
}
