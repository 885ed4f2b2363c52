package unpack

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/nook-project/nook/unpack/proto"
	"golang.org/x/sys/unix"
)

// ErrUnsafeEntry is wrapped by the error for a tar entry whose name or link
// target would reach outside the destination through "..".
var ErrUnsafeEntry = errors.New("unsafe tar entry")

// extractor unpacks a tar stream into a directory without ever creating or
// writing anything outside it, whatever the archive holds:
//
//   - names and hard-link targets containing ".." are refused (the whole
//     archive is, since such an entry exists only to attack);
//   - absolute names are taken relative to the destination, as tar does;
//   - parents are resolved with openat2(RESOLVE_IN_ROOT), so a symlink in
//     the tree that points to "/" or "../.." stays inside the tree (the
//     classic attack: entry "a" -> /etc, then entry "a/passwd");
//   - the last component is never followed: an existing entry is unlinked
//     and the new one made with O_CREAT|O_EXCL|O_NOFOLLOW, so writing a
//     file cannot write through a symlink or hard link planted before it;
//   - hard links are made with linkat(2) between two names that were both
//     resolved inside the tree, so they cannot name a host file.
type extractor struct {
	root  *os.File // the destination, O_DIRECTORY
	chown bool
	stats proto.ExtractStats
	buf   []byte
	// dirTimes are applied at the end: making entries in a directory
	// changes its mtime, and a directory without write permission (0555)
	// must stay writable until its entries are made.
	dirTimes []dirTime
	// devices are the device nodes skipped, as header-only tar entries
	// (at most maxDevices): a source session packs them back (see
	// session.DevicesFile).
	devices *tar.Writer
	ndev    int
	// replaced is set when an entry replaced an existing name: the cached
	// parent handle may have been reached through it (a symlink, anywhere
	// on the way), so the next lookup resolves afresh.
	replaced bool
	// last is the most recent parent directory handle, reused while the
	// archive stays in one directory (most do, for long runs).
	lastDir string
	lastFd  *os.File
}

type dirTime struct {
	rel   string
	mode  uint32
	mtime unix.Timespec
}

// maxDevices bounds the device nodes recorded for a source session.
const maxDevices = proto.MaxRecordedDevices

// extract unpacks r into dest, which must exist and be empty. With chown,
// entries get the archive's numeric owners (never looked up by name);
// without, they belong to the caller. The device nodes skipped are
// written to devices as a tar archive, when it is not nil.
func extract(r io.Reader, dest string, chown bool, devices io.Writer) (proto.ExtractStats, error) {
	root, err := os.OpenFile(dest, os.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return proto.ExtractStats{}, fmt.Errorf("open extraction directory: %w", err)
	}
	defer root.Close()
	x := &extractor{root: root, chown: chown, buf: make([]byte, 1<<20)}
	if devices != nil {
		x.devices = tar.NewWriter(devices)
	}
	defer x.dropParent()
	cr := &countingReader{r: r}
	tr := tar.NewReader(cr)
	// Where the archive ends if the entry read last is its last one; -1
	// when that cannot be known (a sparse entry's stored size).
	end := int64(0)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			if cr.n == 0 {
				return x.stats, fmt.Errorf("the archive is empty")
			}
			if cr.endless(end) {
				return x.stats, fmt.Errorf("the archive stops after %d entries without tar's end-of-archive blocks: it is cut off (an interrupted copy or download?); make or fetch it again", x.stats.Entries)
			}
			break
		}
		if err != nil {
			return x.stats, fmt.Errorf("read tar entry after %d entries: %w", x.stats.Entries, err)
		}
		if n := stored(hdr); n < 0 {
			end = -1
		} else {
			end = cr.n + n
		}
		if err := x.entry(hdr, tr); err != nil {
			return x.stats, fmt.Errorf("extract %q: %w", hdr.Name, err)
		}
		x.stats.Entries++
	}
	for _, d := range x.dirTimes {
		x.finishDir(d)
	}
	if x.devices != nil {
		if err := x.devices.Close(); err != nil {
			return x.stats, fmt.Errorf("record device nodes: %w", err)
		}
	}
	return x.stats, nil
}

// countingReader counts what archive/tar read, and the zero bytes it read
// last. An archive cut off at an entry's boundary (a copy interrupted
// there) reads, to archive/tar, like one that ends with the two blocks of
// zeros that mark the end: only the count tells them apart.
type countingReader struct {
	r     io.Reader
	n     int64
	zeros int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.n += int64(n)
		i := n
		for i > 0 && p[i-1] == 0 {
			i--
		}
		if i == 0 {
			c.zeros += int64(n)
		} else {
			c.zeros = int64(n - i)
		}
	}
	return n, err
}

// endless reports, once archive/tar has reported the end, whether no end
// marker was read: nothing after where the last entry ended (end), or,
// where that is unknown (-1), not even one block of zeros at the end.
func (c *countingReader) endless(end int64) bool {
	if end < 0 {
		return c.zeros < 512
	}
	return c.n <= end
}

// stored is how many bytes an entry's data takes in the archive after its
// header: its size rounded up to whole blocks for the types that carry
// data, -1 for a sparse entry (whose header gives the file's size).
func stored(hdr *tar.Header) int64 {
	switch hdr.Typeflag {
	case tar.TypeLink, tar.TypeSymlink, tar.TypeChar, tar.TypeBlock, tar.TypeDir, tar.TypeFifo, tar.TypeXGlobalHeader:
		return 0
	}
	if sparse(hdr) {
		return -1
	}
	return (hdr.Size + 511) &^ 511
}

// sparse reports whether an entry is stored sparse (old GNU type 'S', or
// the GNU.sparse PAX records of formats 0.x and 1.0).
func sparse(hdr *tar.Header) bool {
	if hdr.Typeflag == tar.TypeGNUSparse {
		return true
	}
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

// cleanName turns an entry name into a path relative to the destination:
// "." for the top, never anything with "..".
func cleanName(name string) (string, error) {
	for _, c := range strings.Split(name, "/") {
		if c == ".." {
			return "", fmt.Errorf("%w: %q goes up with \"..\"", ErrUnsafeEntry, name)
		}
	}
	rel := path.Clean("/" + name)[1:]
	if rel == "" {
		rel = "."
	}
	return rel, nil
}

func (x *extractor) dropParent() {
	if x.lastFd != nil {
		x.lastFd.Close()
		x.lastFd, x.lastDir = nil, ""
	}
}

// parent returns a handle on the directory that will hold rel, made (0755)
// when missing, resolved inside the root.
func (x *extractor) parent(rel string) (*os.File, error) {
	dir := path.Dir(rel)
	if dir == "." {
		return x.root, nil
	}
	if x.lastFd != nil && x.lastDir == dir && !x.replaced {
		return x.lastFd, nil
	}
	x.replaced = false
	x.dropParent()
	how := unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	fd, err := unix.Openat2(int(x.root.Fd()), dir, &how)
	var f *os.File
	switch {
	case err == nil:
		f = os.NewFile(uintptr(fd), dir)
	case errors.Is(err, unix.ENOENT):
		// The archive did not list the parent (or not yet): make it, the
		// way securejoin makes directories, inside the root.
		f, err = pathrs.MkdirAllHandle(x.root, dir, 0o755)
		if err != nil {
			return nil, fmt.Errorf("create parent %s: %w", dir, err)
		}
	default:
		return nil, &os.PathError{Op: "open parent", Path: dir, Err: err}
	}
	x.lastDir, x.lastFd = dir, f
	return f, nil
}

// clear removes whatever is at name in dir, so the new entry is made fresh
// and nothing is written through an old symlink or hard link. An existing
// directory stays when the new entry is a directory too.
func (x *extractor) clear(dir *os.File, name string, keepDir bool) error {
	var st unix.Stat_t
	err := unix.Fstatat(int(dir.Fd()), name, &st, unix.AT_SYMLINK_NOFOLLOW)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return &os.PathError{Op: "stat", Path: name, Err: err}
	}
	isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	if isDir && keepDir {
		return nil
	}
	flags := 0
	if isDir {
		flags = unix.AT_REMOVEDIR
	}
	// The cached parent handle cannot be the directory removed here: only
	// an empty directory can be removed, and the cached one holds the
	// entry made last. Were it stale anyway, making entries in an unlinked
	// directory fails; it cannot reach outside.
	if err := unix.Unlinkat(int(dir.Fd()), name, flags); err != nil {
		return &os.PathError{Op: "replace", Path: name, Err: err}
	}
	x.replaced = true
	return nil
}

func (x *extractor) entry(hdr *tar.Header, r io.Reader) error {
	rel, err := cleanName(hdr.Name)
	if err != nil {
		return err
	}
	mode := uint32(hdr.Mode) & 0o7777
	if rel == "." {
		if hdr.Typeflag != tar.TypeDir {
			return fmt.Errorf("%w: the top of the archive is not a directory", ErrUnsafeEntry)
		}
		if err := x.meta(x.root, hdr, false); err != nil {
			return err
		}
		x.dirTimes = append(x.dirTimes, dirTime{".", mode, unix.NsecToTimespec(hdr.ModTime.UnixNano())})
		return nil
	}
	dir, err := x.parent(rel)
	if err != nil {
		return err
	}
	name := path.Base(rel)
	dfd := int(dir.Fd())
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := x.clear(dir, name, true); err != nil {
			return err
		}
		if err := unix.Mkdirat(dfd, name, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
			return &os.PathError{Op: "mkdir", Path: rel, Err: err}
		}
		fd, err := unix.Openat(dfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return &os.PathError{Op: "open", Path: rel, Err: err}
		}
		f := os.NewFile(uintptr(fd), rel)
		defer f.Close()
		if err := x.meta(f, hdr, false); err != nil {
			return err
		}
		x.dirTimes = append(x.dirTimes, dirTime{rel, mode, unix.NsecToTimespec(hdr.ModTime.UnixNano())})
		return nil
	case tar.TypeReg, tar.TypeGNUSparse: // archive/tar reports the old '\x00' type as TypeReg
		if err := x.clear(dir, name, false); err != nil {
			return err
		}
		fd, err := unix.Openat(dfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return &os.PathError{Op: "create", Path: rel, Err: err}
		}
		f := os.NewFile(uintptr(fd), rel)
		defer f.Close()
		var n int64
		if sparse(hdr) {
			// archive/tar hands holes over as zeros: seek over them so
			// that they stay holes, as GNU tar leaves them (a few
			// kilobytes of archive may stand for terabytes of file).
			// Every zero still passes through here, so a size beyond
			// the whole filesystem's (which no chroot needs) is refused
			// rather than compared for hours.
			var fs unix.Statfs_t
			if err := unix.Fstatfs(fd, &fs); err == nil && hdr.Size > int64(fs.Blocks)*int64(fs.Bsize) {
				return fmt.Errorf("%w: sparse file of %d bytes, more than the whole filesystem it is unpacked to", ErrUnsafeEntry, hdr.Size)
			}
			hw := &holeWriter{fd: fd}
			n, err = io.CopyBuffer(hw, r, x.buf)
			if err == nil {
				err = hw.finish()
			}
		} else {
			n, err = io.CopyBuffer(onlyWriter{f}, r, x.buf)
		}
		x.stats.Bytes += n
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) && pe.Path == rel {
				return err // the file's own write error names it already
			}
			return fmt.Errorf("write %s: %w", rel, err)
		}
		if err := x.meta(f, hdr, true); err != nil {
			return err
		}
		return x.times(dir, name, hdr)
	case tar.TypeSymlink:
		if err := x.clear(dir, name, false); err != nil {
			return err
		}
		if err := unix.Symlinkat(hdr.Linkname, dfd, name); err != nil {
			return &os.PathError{Op: "symlink", Path: rel, Err: err}
		}
		x.owner(func(uid, gid int) error { return unix.Fchownat(dfd, name, uid, gid, unix.AT_SYMLINK_NOFOLLOW) }, hdr)
		return x.times(dir, name, hdr)
	case tar.TypeLink:
		target, err := cleanName(hdr.Linkname)
		if err != nil {
			return err
		}
		if target == "." {
			return fmt.Errorf("%w: hard link to the top directory", ErrUnsafeEntry)
		}
		if err := x.clear(dir, name, false); err != nil {
			return err
		}
		how := unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
		tfd, err := unix.Openat2(int(x.root.Fd()), path.Dir(target), &how)
		if err != nil {
			return &os.PathError{Op: "open hard link target's directory", Path: path.Dir(target), Err: err}
		}
		defer unix.Close(tfd)
		// Flags 0: a symlink as target is linked itself, not followed.
		if err := unix.Linkat(tfd, path.Base(target), int(dir.Fd()), name, 0); err != nil {
			return &os.PathError{Op: "hard link to " + target, Path: rel, Err: err}
		}
		return nil
	case tar.TypeFifo:
		if err := x.clear(dir, name, false); err != nil {
			return err
		}
		if err := unix.Mknodat(dfd, name, unix.S_IFIFO|0o600, 0); err != nil {
			return &os.PathError{Op: "mkfifo", Path: rel, Err: err}
		}
		x.owner(func(uid, gid int) error { return unix.Fchownat(dfd, name, uid, gid, unix.AT_SYMLINK_NOFOLLOW) }, hdr)
		if err := unix.Fchmodat(dfd, name, mode, 0); err != nil {
			return &os.PathError{Op: "chmod", Path: rel, Err: err}
		}
		return x.times(dir, name, hdr)
	case tar.TypeChar, tar.TypeBlock:
		x.stats.Devices++
		if x.devices != nil && x.ndev < maxDevices {
			x.ndev++
			d := &tar.Header{Typeflag: hdr.Typeflag, Name: hdr.Name, Mode: hdr.Mode, Uid: hdr.Uid, Gid: hdr.Gid,
				ModTime: hdr.ModTime, Devmajor: hdr.Devmajor, Devminor: hdr.Devminor, Format: tar.FormatPAX}
			if err := x.devices.WriteHeader(d); err != nil {
				return fmt.Errorf("record device node: %w", err)
			}
		}
		return nil
	case tar.TypeXGlobalHeader:
		return nil
	default:
		x.stats.Other++
		return nil
	}
}

// holeWriter writes a file at fd from offset 0, leaving every page-sized,
// page-aligned run of zeros unwritten (a hole); finish sets the size.
type holeWriter struct {
	fd  int
	off int64
}

var zeroPage [4096]byte

func (w *holeWriter) Write(p []byte) (int, error) {
	// data[start:i] is a run of pages with data not yet written: one
	// pwrite for each run, not each page.
	start := 0
	for i := 0; i < len(p); {
		k := len(zeroPage) - int((w.off+int64(i))%int64(len(zeroPage)))
		if k > len(p)-i {
			k = len(p) - i
		}
		if bytes.Equal(p[i:i+k], zeroPage[:k]) {
			if err := w.write(p[start:i], w.off+int64(start)); err != nil {
				return start, err
			}
			start = i + k
		}
		i += k
	}
	if err := w.write(p[start:], w.off+int64(start)); err != nil {
		return start, err
	}
	w.off += int64(len(p))
	return len(p), nil
}

func (w *holeWriter) write(b []byte, off int64) error {
	for len(b) > 0 {
		m, err := unix.Pwrite(w.fd, b, off)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		b, off = b[m:], off+int64(m)
	}
	return nil
}

func (w *holeWriter) finish() error {
	return unix.Ftruncate(w.fd, w.off)
}

// onlyWriter hides the file's ReadFrom, so io.CopyBuffer uses the buffer
// instead of falling back to a small one through copy_file_range probing.
type onlyWriter struct{ f *os.File }

func (w onlyWriter) Write(p []byte) (int, error) { return w.f.Write(p) }

// meta applies owner, mode (when chmod; directories get theirs at the
// end) and extended attributes to an open file or directory, in the order
// the kernel needs: chown clears setuid bits and file capabilities, so it
// comes first, then the mode, then xattrs.
func (x *extractor) meta(f *os.File, hdr *tar.Header, chmod bool) error {
	fd := int(f.Fd())
	x.owner(func(uid, gid int) error { return unix.Fchown(fd, uid, gid) }, hdr)
	if chmod {
		if err := unix.Fchmod(fd, uint32(hdr.Mode)&0o7777); err != nil {
			return &os.PathError{Op: "chmod", Path: hdr.Name, Err: err}
		}
	}
	for k, v := range hdr.PAXRecords {
		name, ok := strings.CutPrefix(k, "SCHILY.xattr.")
		if !ok {
			continue
		}
		if err := unix.Fsetxattr(fd, name, []byte(v), 0); err != nil {
			x.stats.XattrFailed++
			if x.stats.XattrError == "" {
				x.stats.XattrError = fmt.Sprintf("%s on %s: %v", name, hdr.Name, err)
			}
		}
	}
	return nil
}

func (x *extractor) owner(chown func(uid, gid int) error, hdr *tar.Header) {
	if !x.chown {
		return
	}
	if err := chown(hdr.Uid, hdr.Gid); err != nil {
		x.stats.ChownFailed++
		if x.stats.ChownError == "" {
			x.stats.ChownError = fmt.Sprintf("%s to %d:%d: %v", hdr.Name, hdr.Uid, hdr.Gid, err)
		}
	}
}

func (x *extractor) times(dir *os.File, name string, hdr *tar.Header) error {
	ts := unix.NsecToTimespec(hdr.ModTime.UnixNano())
	if err := unix.UtimesNanoAt(int(dir.Fd()), name, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "set times", Path: hdr.Name, Err: err}
	}
	return nil
}

// finishDir sets a directory's mode and times once everything in it is
// made. The directory is found again inside the root, never through a
// symlink; if the archive replaced it since, nothing happens.
func (x *extractor) finishDir(d dirTime) {
	if d.rel == "." {
		unix.Fchmod(int(x.root.Fd()), d.mode)
		unix.UtimesNanoAt(int(x.root.Fd()), "", []unix.Timespec{d.mtime, d.mtime}, unix.AT_EMPTY_PATH)
		return
	}
	how := unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	fd, err := unix.Openat2(int(x.root.Fd()), path.Dir(d.rel), &how)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	dfd, err := unix.Openat(fd, path.Base(d.rel), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	defer unix.Close(dfd)
	unix.Fchmod(dfd, d.mode)
	unix.UtimesNanoAt(fd, path.Base(d.rel), []unix.Timespec{d.mtime, d.mtime}, unix.AT_SYMLINK_NOFOLLOW)
}
