package session

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"

	"github.com/nook-project/nook/sandbox"
)

// File is a file written into a session's tree when it begins, the way
// schroot's copyfiles and nssdatabases put the host's resolv.conf and user
// databases into a session.
type File struct {
	// Path is the absolute path inside the session.
	Path string `json:"path"`
	Data []byte `json:"data"`
	// Mode is used when the file does not exist yet; an existing regular
	// file keeps its owner and mode and only gets the new contents.
	Mode os.FileMode `json:"mode"`
}

// validFiles checks the paths of files before anything is written.
func validFiles(files []File) error {
	for _, f := range files {
		if !path.IsAbs(f.Path) || path.Clean(f.Path) != f.Path || f.Path == "/" {
			return fmt.Errorf("file to write into the session: %q is not a clean absolute path", f.Path)
		}
	}
	return nil
}

// writeSessionFiles writes files into the session directory dir (state
// st) through the helper, which runs as root of the session's mapping with
// the session's tree mounted on dir/mnt: so the files get the owners a
// command inside would give them, and nothing is written through a symlink
// of the tree out of it.
func writeSessionFiles(st *State, dir string, files []File) error {
	if len(files) == 0 {
		return nil
	}
	if err := validFiles(files); err != nil {
		return err
	}
	data, err := json.Marshal(files)
	if err != nil {
		return fmt.Errorf("encode the files for session %s: %w", st.ID, err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("write files into session %s: %w", st.ID, err)
	}
	defer r.Close()
	go func() {
		w.Write(data)
		w.Close()
	}()
	spec, err := treeHelperSpec(st, dir, "", "writefiles", filepath.Join(dir, "mnt"))
	if err != nil {
		return err
	}
	spec.Stdin = r
	return runHelperSpec("write files into session "+st.ID, spec)
}

// treeHelperSpec is a helper sandbox with the session's tree (its overlay,
// or its copy) mounted on the session's mnt directory, as root of the
// session's mapping, and the host directory rw (if any) writable.
func treeHelperSpec(st *State, dir, rw string, args ...string) (*sandbox.Spec, error) {
	id, err := sandboxIdentity(st.IDMode, 0, 0)
	if err != nil {
		return nil, err
	}
	mnt := filepath.Join(dir, "mnt")
	spec := helperSpec(id, rw, args...)
	if st.Copy {
		spec.Mounts = append(spec.Mounts, sandbox.Mount{Op: sandbox.OpBind, Source: filepath.Join(dir, "root"), Dest: mnt})
	} else {
		spec.Mounts = append(spec.Mounts, sandbox.Mount{Op: sandbox.OpOverlay, Dest: mnt, Lower: []string{st.Lower}, Upper: filepath.Join(dir, "upper"), Work: filepath.Join(dir, "work"), ClearVolatileMark: true})
	}
	spec.SuppressChown = st.IDMode == IDSingle
	return spec, nil
}

// helperWriteFiles runs in the helper: it reads the files (JSON) on stdin
// and writes each into root.
func helperWriteFiles(root string) error {
	data, err := io.ReadAll(io.LimitReader(os.Stdin, 256<<20))
	if err != nil {
		return fmt.Errorf("read the files to write: %w", err)
	}
	var files []File
	if err := json.Unmarshal(data, &files); err != nil {
		return fmt.Errorf("decode the files to write: %w", err)
	}
	if err := validFiles(files); err != nil {
		return err
	}
	rootDir, err := os.OpenFile(root, os.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open the session root %s: %w", root, err)
	}
	defer rootDir.Close()
	for _, f := range files {
		if err := writeInRoot(rootDir, f); err != nil {
			return err
		}
	}
	return nil
}

// writeInRoot writes one file below rootDir. Parents are resolved inside
// the root (made 0755 when missing); the last component is never followed:
// a regular file is rewritten in place (keeping owner and mode), anything
// else there (a symlink, say /etc/resolv.conf pointing elsewhere) is
// replaced by a new file.
func writeInRoot(rootDir *os.File, f File) error {
	rel := strings.TrimPrefix(f.Path, "/")
	parent, err := pathrs.MkdirAllHandle(rootDir, path.Dir(rel), 0o755)
	if err != nil {
		return fmt.Errorf("create the directory of %s: %w", f.Path, err)
	}
	defer parent.Close()
	pfd, name := int(parent.Fd()), path.Base(rel)
	var st unix.Stat_t
	err = unix.Fstatat(pfd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	flags := unix.O_WRONLY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	switch {
	case err == nil && st.Mode&unix.S_IFMT == unix.S_IFREG:
		flags |= unix.O_TRUNC
	case err == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR:
		return fmt.Errorf("write %s: it is a directory in the session", f.Path)
	case err == nil:
		if err := unix.Unlinkat(pfd, name, 0); err != nil {
			return fmt.Errorf("replace %s: %w", f.Path, err)
		}
		flags |= unix.O_CREAT | unix.O_EXCL
	case errors.Is(err, unix.ENOENT):
		flags |= unix.O_CREAT | unix.O_EXCL
	default:
		return fmt.Errorf("look at %s: %w", f.Path, err)
	}
	mode := uint32(f.Mode.Perm())
	if mode == 0 {
		mode = 0o644
	}
	fd, err := unix.Openat(pfd, name, flags, mode)
	if err != nil {
		return fmt.Errorf("open %s in the session: %w", f.Path, err)
	}
	out := os.NewFile(uintptr(fd), f.Path)
	defer out.Close()
	if flags&unix.O_CREAT != 0 {
		// The umask must not narrow what was asked for.
		if err := unix.Fchmod(fd, mode); err != nil {
			return fmt.Errorf("set the mode of %s: %w", f.Path, err)
		}
	}
	if _, err := out.Write(f.Data); err != nil {
		return fmt.Errorf("write %s in the session: %w", f.Path, err)
	}
	return out.Close()
}
