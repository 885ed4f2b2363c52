package session

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/nook-project/nook/unpack/proto"
	"golang.org/x/sys/unix"
)

// A session begun with BeginOptions.Repack is schroot's source session of
// a file chroot: when it ends, its tree replaces the chroot's tarball. It
// is an ordinary overlay session until then, so its begin costs what any
// begin costs.

// checkRepackable says early (at begin) whether the tarball can be
// replaced by the caller: its directory must be writable.
func checkRepackable(tarball string) error {
	if err := unix.Access(filepath.Dir(tarball), unix.W_OK); err != nil {
		return fmt.Errorf("a source session replaces %s when it ends, and you cannot write its directory %s: %w", tarball, filepath.Dir(tarball), err)
	}
	return nil
}

// repack writes the session's tree as a tarball next to st.Repack, with
// the compression, mode and (where the caller may set it) group of the old
// one, and renames it over the old one. The tree is read inside the
// session's user namespace, so owners are the ids inside, written as
// numbers; the device nodes the unpack skipped go back in (helperPack). A
// failure leaves the old tarball as it was and no new file: the new one is
// written unnamed (O_TMPFILE) and named only once complete.
func repack(st *State) error {
	tarball := st.Repack
	var old unix.Stat_t
	if err := unix.Stat(tarball, &old); err != nil {
		return fmt.Errorf("repack session %s: %w", st.ID, &os.PathError{Op: "stat", Path: tarball, Err: err})
	}
	comp, err := sniffFile(tarball)
	if err != nil {
		return fmt.Errorf("repack session %s: %w", st.ID, err)
	}
	dir := filepath.Dir(tarball)
	out, err := newUnnamed(dir)
	if err != nil {
		return fmt.Errorf("repack session %s: %w", st.ID, err)
	}
	defer out.discard()
	// The unpack left them beside the tree: the cache entry's, or a
	// copy session's own.
	devices := ""
	candidates := []string{filepath.Join(st.Dir, DevicesFile)}
	if st.Lower != "" {
		candidates = append(candidates, filepath.Join(filepath.Dir(st.Lower), DevicesFile))
	}
	for _, p := range candidates {
		if _, err := os.Stat(p); err == nil {
			devices = p
			break
		}
	}
	spec, err := treeHelperSpec(st, st.Dir, "", "pack", st.mnt(), devices, string(comp))
	if err != nil {
		return err
	}
	spec.Stdout = out.f
	if err := runHelperSpec("pack session "+st.ID+" into "+tarball, spec); err != nil {
		return err
	}
	out.f.Chown(-1, int(old.Gid)) // best effort: only a group the caller is in
	if err := unix.Fchmod(int(out.f.Fd()), old.Mode&0o7777); err != nil {
		return fmt.Errorf("repack session %s: %w", st.ID, err)
	}
	if err := out.f.Sync(); err != nil {
		return fmt.Errorf("repack session %s: write %s: %w", st.ID, tarball, err)
	}
	if err := out.replace(tarball); err != nil {
		return fmt.Errorf("repack session %s: replace %s: %w", st.ID, tarball, err)
	}
	return syncDir(dir)
}

// unnamed is a new file in a directory that gets its name last: an
// O_TMPFILE, which vanishes with the process that made it however that
// ends, or where the filesystem has none a hidden named one.
type unnamed struct {
	f    *os.File
	dir  string
	name string // the named fallback's, "" for an O_TMPFILE
}

func newUnnamed(dir string) (*unnamed, error) {
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, 0o600)
	if err == nil {
		return &unnamed{f: os.NewFile(uintptr(fd), dir+"/(unnamed)"), dir: dir}, nil
	}
	f, err := os.CreateTemp(dir, ".nook-repack-")
	if err != nil {
		return nil, fmt.Errorf("create the new tarball in %s: %w", dir, err)
	}
	return &unnamed{f: f, dir: dir, name: f.Name()}, nil
}

// replace gives the file the name final, replacing what is there.
func (u *unnamed) replace(final string) error {
	if u.name == "" {
		// linkat(2) of an O_TMPFILE through /proc needs no privilege;
		// then a rename, atomic, over the old file.
		tmp := filepath.Join(u.dir, "."+filepath.Base(final)+".nook-repack-"+randomSuffix())
		if err := unix.Linkat(unix.AT_FDCWD, fmt.Sprintf("/proc/self/fd/%d", u.f.Fd()), unix.AT_FDCWD, tmp, unix.AT_SYMLINK_FOLLOW); err != nil {
			return fmt.Errorf("name the new tarball: %w", err)
		}
		u.name = tmp
	}
	if err := os.Rename(u.name, final); err != nil {
		return err
	}
	u.name = ""
	return nil
}

// discard closes the file and removes its name if it still has one.
func (u *unnamed) discard() {
	u.f.Close()
	if u.name != "" {
		os.Remove(u.name)
	}
}

// MaxRecordedDevices bounds the device nodes the unpack helper records
// for a source session (DevicesFile).
const MaxRecordedDevices = proto.MaxRecordedDevices

// repackDeviceWarnings says, at the begin of a source session, which of
// the tarball's device nodes the tarball it packs back will lack: all of
// them when the cache entry was unpacked by a nook that did not record
// them, those past the bound otherwise.
func repackDeviceWarnings(e Entry) []string {
	if e.Stats.Devices == 0 {
		return nil
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(e.Root), DevicesFile)); err != nil {
		return []string{fmt.Sprintf("the cache entry of %s records none of its %d device nodes (an older nook unpacked it): the tarball this session packs back will lack them; nook cache prune, then a new begin, records them", e.Source, e.Stats.Devices)}
	}
	if e.Stats.Devices > MaxRecordedDevices {
		return []string{fmt.Sprintf("%s holds %d device nodes; the tarball this session packs back keeps the first %d", e.Source, e.Stats.Devices, MaxRecordedDevices)}
	}
	return nil
}
