package session

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// A session begun with BeginOptions.Repack is schroot's source session of
// a file chroot: when it ends, its tree replaces the chroot's tarball. It
// is an ordinary overlay session until then, so its begin costs what any
// begin costs.

// tarFlag is tar(1)'s option for writing c.
var tarFlag = map[Compression]string{Gzip: "--gzip", Xz: "--xz", Zstd: "--zstd", Bzip2: "--bzip2"}

// checkRepackable says early (at begin) whether the tarball can be
// replaced by the caller: its directory must be writable.
func checkRepackable(tarball string) error {
	if err := unix.Access(filepath.Dir(tarball), unix.W_OK); err != nil {
		return fmt.Errorf("a source session replaces %s when it ends, and you cannot write its directory %s: %w", tarball, filepath.Dir(tarball), err)
	}
	return nil
}

// repack writes the session's tree as a tarball next to st.Repack, with
// the compression and mode of the old one, and renames it over the old
// one. The tree is read inside the session's user namespace, so owners
// are the ids inside, written as numbers. A failure leaves the old
// tarball as it was and no new file.
func repack(st *State) error {
	tarball := st.Repack
	fi, err := os.Stat(tarball)
	if err != nil {
		return fmt.Errorf("repack session %s: %w", st.ID, err)
	}
	comp, err := sniffFile(tarball)
	if err != nil {
		return fmt.Errorf("repack session %s: %w", st.ID, err)
	}
	dir := filepath.Dir(tarball)
	u, err := uuid4()
	if err != nil {
		return fmt.Errorf("repack session %s: %w", st.ID, err)
	}
	tmp := filepath.Join(dir, "."+filepath.Base(tarball)+".nook-repack-"+u[:8])
	spec, err := treeHelperSpec(st, st.Dir, dir)
	if err != nil {
		return err
	}
	args := []string{"tar", "--create", "--file", tmp, "--directory", st.mnt(), "--numeric-owner", "--xattrs", "--xattrs-include=*",
		"--sort=name", "--one-file-system"}
	if f := tarFlag[comp]; f != "" {
		args = append(args, f)
	}
	spec.Args, spec.Argv0 = append(args, "."), ""
	if err := runHelperSpec("pack session "+st.ID+" into "+tarball, spec); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Chmod(tmp, fi.Mode().Perm()); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("repack session %s: %w", st.ID, err)
	}
	if f, err := os.Open(tmp); err == nil {
		f.Sync()
		f.Close()
	}
	if err := os.Rename(tmp, tarball); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("repack session %s: replace %s: %w", st.ID, tarball, err)
	}
	return syncDir(dir)
}
