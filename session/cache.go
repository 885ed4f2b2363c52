package session

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nook-project/nook/sandbox"
	"github.com/nook-project/nook/unpack/proto"
)

// Cache is the unpack cache: one read-only tree per tarball content and id
// mapping.
//
//	DIR/entries/SHA256-MODE/root        the unpacked tree (an overlay's lower)
//	DIR/entries/SHA256-MODE/entry.json  what it came from (Entry)
//	DIR/index/KEY.json                  tarball identity -> content hash
//	DIR/locks/KEY-MODE.lock             one unpack at a time per tarball
//	DIR/tmp/KEY-MODE-*                  unpacks in progress
//	DIR/cache.lock                      shared by begin, exclusive for prune
//
// KEY is the tarball's device, inode, size and mtime: hashing a 445 MB file
// costs a quarter of a second, so the hash is computed once (while
// unpacking) and found again through KEY while the file is unchanged. An
// unpack happens in a temporary directory that is renamed into entries/
// only when complete, so a killed unpack never looks done.
type Cache struct {
	Dir string
}

// Entry describes one unpacked tarball.
type Entry struct {
	Name        string       `json:"name"`
	SHA256      string       `json:"sha256"`
	IDMode      IDMode       `json:"id_mode"`
	Source      string       `json:"source"`
	Compression Compression  `json:"compression"`
	TarballSize int64        `json:"tarball_size"`
	Size        int64        `json:"size"`
	Unpacked    time.Time    `json:"unpacked"`
	Seconds     float64      `json:"seconds"`
	Stats       ExtractStats `json:"stats"`
	// Root is the tree, filled in when read.
	Root string `json:"-"`
}

type indexRecord struct {
	Source string `json:"source"`
	SHA256 string `json:"sha256"`
}

func (c *Cache) entriesDir() string { return filepath.Join(c.Dir, "entries") }

func (c *Cache) entry(sha string, mode IDMode) (Entry, error) {
	name := sha + "-" + string(mode)
	dir := filepath.Join(c.entriesDir(), name)
	var e Entry
	if err := readJSON(filepath.Join(dir, "entry.json"), &e); err != nil {
		return Entry{}, err
	}
	e.Name, e.Root = name, filepath.Join(dir, "root")
	return e, nil
}

func statKey(st *unix.Stat_t) string {
	return fmt.Sprintf("%x-%x-%x-%x.%x", st.Dev, st.Ino, st.Size, st.Mtim.Sec, st.Mtim.Nsec)
}

// Progress is told how far an unpack has read its tarball.
type Progress func(done, total int64)

// Ensure returns the cache entry for the tarball at path, unpacking it
// first when the cache has none. Two callers unpacking the same tarball
// at once unpack it once: the second waits (busy is called when it has
// to) and then finds the entry.
func (c *Cache) Ensure(path string, mode IDMode, progress Progress, busy func()) (Entry, bool, error) {
	for _, d := range []string{c.Dir, c.entriesDir(), filepath.Join(c.Dir, "index"), filepath.Join(c.Dir, "locks"), filepath.Join(c.Dir, "tmp")} {
		if err := privateDir(d); err != nil {
			return Entry{}, false, err
		}
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return Entry{}, false, fmt.Errorf("chroot tarball: %w", &os.PathError{Op: "stat", Path: path, Err: err})
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return Entry{}, false, fmt.Errorf("chroot tarball %s is not a regular file", path)
	}
	key := statKey(&st)
	if e, err := c.lookup(key, mode); err == nil {
		return e, false, nil
	}
	lock, err := lockFile(filepath.Join(c.Dir, "locks", key+"-"+string(mode)+".lock"), busy)
	if err != nil {
		return Entry{}, false, err
	}
	defer lock.Unlock()
	if e, err := c.lookup(key, mode); err == nil {
		return e, false, nil
	}
	// Holding the lock, any temporary directory of this key is left over
	// from an unpack that was killed.
	c.removeStale(key + "-" + string(mode) + "-")
	e, err := c.unpack(path, key, &st, mode, progress)
	return e, true, err
}

func (c *Cache) lookup(key string, mode IDMode) (Entry, error) {
	var rec indexRecord
	if err := readJSON(filepath.Join(c.Dir, "index", key+".json"), &rec); err != nil {
		return Entry{}, err
	}
	return c.entry(rec.SHA256, mode)
}

func (c *Cache) removeStale(prefix string) {
	ents, _ := os.ReadDir(filepath.Join(c.Dir, "tmp"))
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), prefix) {
			removeTree(modeFromTmpName(e.Name()), filepath.Join(c.Dir, "tmp", e.Name()))
		}
	}
}

// modeFromTmpName reads the id mode out of KEY-MODE-RANDOM.
func modeFromTmpName(name string) IDMode {
	for _, m := range []IDMode{IDSubids, IDSingle, IDHost} {
		if strings.Contains(name, "-"+string(m)+"-") {
			return m
		}
	}
	return DetectIDMode()
}

func (c *Cache) unpack(path, key string, st *unix.Stat_t, mode IDMode, progress Progress) (Entry, error) {
	started := time.Now()
	helper, err := unpackHelper()
	if err != nil {
		return Entry{}, err
	}
	tmp, err := os.MkdirTemp(filepath.Join(c.Dir, "tmp"), key+"-"+string(mode)+"-")
	if err != nil {
		return Entry{}, fmt.Errorf("create unpack directory: %w", err)
	}
	fail := func(err error) (Entry, error) {
		removeTree(mode, tmp)
		return Entry{}, err
	}
	root := filepath.Join(tmp, "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		return fail(fmt.Errorf("create unpack directory: %w", err))
	}
	f, err := os.Open(path)
	if err != nil {
		return fail(fmt.Errorf("open chroot tarball: %w", err))
	}
	defer f.Close()
	var fst unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &fst); err != nil || statKey(&fst) != key {
		return fail(fmt.Errorf("chroot tarball %s changed while nook opened it; try again", path))
	}
	res, err := unpackInto(helper, f, fst.Size, mode, tmp, root, progress)
	if err != nil {
		if he := (*HelperError)(nil); errors.As(err, &he) && he.Status == proto.ExitNoSpace {
			return fail(fmt.Errorf("unpack %s: %w (the file system of %s is full: free space there, or point XDG_CACHE_HOME at a larger one)", path, err, c.Dir))
		}
		return fail(fmt.Errorf("unpack %s: %w", path, err))
	}
	var after unix.Stat_t
	if err := unix.Stat(path, &after); err != nil || statKey(&after) != key || res.Size != st.Size {
		return fail(fmt.Errorf("chroot tarball %s changed while it was unpacked; try again", path))
	}
	e := Entry{SHA256: res.SHA256, IDMode: mode, Source: path, Compression: res.Compression, TarballSize: res.Size,
		Size: res.Stats.Bytes, Unpacked: time.Now().UTC(), Seconds: time.Since(started).Seconds(), Stats: res.Stats}
	if err := writeJSONAtomic(filepath.Join(tmp, "entry.json"), &e); err != nil {
		return fail(err)
	}
	e.Name = res.SHA256 + "-" + string(mode)
	final := filepath.Join(c.entriesDir(), e.Name)
	sandbox.Phase("unpack: complete")
	if err := unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, final, unix.RENAME_NOREPLACE); err != nil {
		if !errors.Is(err, unix.EEXIST) {
			return fail(fmt.Errorf("move unpacked tree to %s: %w", final, err))
		}
		// Another file with the same content was unpacked already.
		removeTree(mode, tmp)
	}
	if err := syncDir(c.entriesDir()); err != nil {
		return Entry{}, err
	}
	if err := writeJSONAtomic(filepath.Join(c.Dir, "index", key+".json"), indexRecord{Source: path, SHA256: res.SHA256}); err != nil {
		return Entry{}, err
	}
	e.Root = filepath.Join(final, "root")
	return e, nil
}

// Entries lists the cache's entries.
func (c *Cache) Entries() ([]Entry, error) {
	ents, err := os.ReadDir(c.entriesDir())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read cache %s: %w", c.entriesDir(), err)
	}
	var out []Entry
	for _, d := range ents {
		sha, mode, ok := strings.Cut(d.Name(), "-")
		if !ok {
			continue
		}
		e, err := c.entry(sha, IDMode(mode))
		if err != nil {
			continue
		}
		out = append(out, e)
	}
	return out, nil
}

// current reports whether entry e is what its source tarball holds now,
// going by the index (no hashing).
func (c *Cache) current(e Entry) bool {
	var st unix.Stat_t
	if unix.Stat(e.Source, &st) != nil {
		return false
	}
	var rec indexRecord
	if readJSON(filepath.Join(c.Dir, "index", statKey(&st)+".json"), &rec) != nil {
		return false
	}
	return rec.SHA256 == e.SHA256
}

// remove deletes an entry and the index records that point to it.
func (c *Cache) remove(e Entry) error {
	dir := filepath.Join(c.entriesDir(), e.Name)
	// Rename first: a half-deleted entry must not look usable.
	// A name of its own: an earlier removal killed half way leaves its
	// gone- tree behind (Prune collects it), which must not block this one.
	trash := filepath.Join(c.Dir, "tmp", "gone-"+string(e.IDMode)+"-"+e.Name+"-"+randomSuffix())
	if err := os.Rename(dir, trash); err != nil {
		return fmt.Errorf("remove cache entry %s: %w", dir, err)
	}
	if err := removeTree(e.IDMode, trash); err != nil {
		return err
	}
	// The index record stays while an entry of another id mode has the
	// same content.
	if others, _ := filepath.Glob(filepath.Join(c.entriesDir(), e.SHA256+"-*")); len(others) > 0 {
		return nil
	}
	idx, _ := os.ReadDir(filepath.Join(c.Dir, "index"))
	for _, i := range idx {
		p := filepath.Join(c.Dir, "index", i.Name())
		var rec indexRecord
		if readJSON(p, &rec) == nil && rec.SHA256 == e.SHA256 {
			os.Remove(p)
		}
	}
	return nil
}

// unpackInto runs the unpack helper (its path): the tarball f is its stdin, dest
// (inside rw, the one directory the helper may write) receives the tree.
func unpackInto(helper string, f *os.File, size int64, mode IDMode, rw, dest string, progress Progress) (UnpackResult, error) {
	id, err := sandboxIdentity(mode, 0, 0)
	if err != nil {
		return UnpackResult{}, err
	}
	chown := "chown"
	if mode == IDSingle {
		chown = "nochown"
	}
	spec := helperSpec(id, rw)
	spec.Args, spec.Argv0 = []string{helper, UnpackFlag, dest, chown, XzTool}, unpackArg0
	var out bytes.Buffer
	outR, outW, err := os.Pipe()
	if err != nil {
		return UnpackResult{}, err
	}
	spec.Stdin, spec.Stdout = f, outW
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); out.ReadFrom(outR); outR.Close() }()
	stop := make(chan struct{})
	if progress != nil {
		// The helper reads the same open file, so its offset is ours.
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(200 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-stop:
					progress(size, size)
					return
				case <-t.C:
					if off, err := unix.Seek(int(f.Fd()), 0, 1); err == nil {
						progress(off, size)
					}
				}
			}
		}()
	}
	err = runHelperSpec("run the unpack helper", spec)
	outW.Close()
	close(stop)
	wg.Wait()
	if err != nil {
		return UnpackResult{}, err
	}
	var res UnpackResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return UnpackResult{}, fmt.Errorf("read the helper's result: %w", err)
	}
	return res, nil
}
