package session

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// compressor is the program (from PATH) that writes c, as tar(1)'s own
// --gzip and friends run it.
var compressor = map[Compression][]string{Gzip: {"gzip", "-c"}, Xz: {"xz", "-c"}, Zstd: {"zstd", "-c", "-q"}, Bzip2: {"bzip2", "-c"}}

// helperPack runs in the helper: it writes the tree at root to stdout as a
// tar archive compressed with comp, and appends the device nodes recorded
// in devices (a tar archive of header-only entries; "" for none) whose
// names the tree does not use. GNU tar writes the tree (xattrs, hard
// links, sparse files as it knows them); the device nodes, which nothing
// in a user namespace can make, come from the unpack of the tarball this
// replaces, so that a source session gives back what it was given.
func helperPack(root, devices string, comp Compression) error {
	out := io.Writer(os.Stdout)
	var zcmd *exec.Cmd
	if comp != None {
		argv, ok := compressor[comp]
		if !ok {
			return fmt.Errorf("pack: no compressor for %q", comp)
		}
		zcmd = exec.Command(argv[0], argv[1:]...)
		zcmd.Stdout, zcmd.Stderr = os.Stdout, os.Stderr
		zin, err := zcmd.StdinPipe()
		if err != nil {
			return fmt.Errorf("pack: %w", err)
		}
		if err := zcmd.Start(); err != nil {
			return fmt.Errorf("pack: start %s: %w", argv[0], err)
		}
		defer func() {
			if zcmd != nil { // an error came first
				zin.Close()
				zcmd.Wait()
			}
		}()
		out = zin
	}
	// One block per record: the archive then ends in exactly the two
	// blocks of zeros that mark its end, which the device entries follow
	// in their place.
	tcmd := exec.Command("tar", "--create", "--file", "-", "--blocking-factor=1", "--directory", root, "--numeric-owner",
		"--xattrs", "--xattrs-include=*", "--sort=name", "--one-file-system", "--sparse", ".")
	tcmd.Stderr = os.Stderr
	tout, err := tcmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("pack: %w", err)
	}
	if err := tcmd.Start(); err != nil {
		return fmt.Errorf("pack: start tar: %w", err)
	}
	end, err := copyButEnd(out, tout)
	if err != nil {
		// tar may be blocked writing to a pipe nobody reads any more.
		tcmd.Process.Kill()
	}
	if werr := tcmd.Wait(); werr != nil && err == nil {
		return fmt.Errorf("pack: tar: %w", werr)
	}
	if err != nil {
		return fmt.Errorf("pack: %w", err)
	}
	if devices != "" {
		if err := appendDevices(out, root, devices); err != nil {
			return err
		}
	}
	if _, err := out.Write(end); err != nil {
		return fmt.Errorf("pack: %w", err)
	}
	if zcmd != nil {
		zin := out.(io.WriteCloser)
		if err := zin.Close(); err != nil {
			return fmt.Errorf("pack: %w", err)
		}
		if err := zcmd.Wait(); err != nil {
			return fmt.Errorf("pack: %s: %w", zcmd.Args[0], err)
		}
		zcmd = nil
	}
	return nil
}

// copyButEnd copies a tar archive from r to w but for its last two blocks,
// which must be zeros (the end marker), and returns those.
func copyButEnd(w io.Writer, r io.Reader) ([]byte, error) {
	const endLen = 1024
	buf := make([]byte, 256<<10)
	held := 0 // bytes at the start of buf not yet written
	for {
		n, err := r.Read(buf[held:])
		held += n
		if held > endLen {
			if _, werr := w.Write(buf[:held-endLen]); werr != nil {
				return nil, werr
			}
			copy(buf, buf[held-endLen:held])
			held = endLen
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	end := buf[:held]
	if held != endLen || !bytes.Equal(end, make([]byte, endLen)) {
		return nil, errors.New("tar's archive does not end in two blocks of zeros")
	}
	return end, nil
}

// appendDevices writes the entries of the archive at devices whose names
// are free in the tree at root (no entry of that name, in a directory that
// is one), without an end marker.
func appendDevices(w io.Writer, root, devices string) error {
	f, err := os.Open(devices)
	if err != nil {
		return fmt.Errorf("pack: read the device nodes to pack back: %w", err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	var buf bytes.Buffer
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("pack: read %s: %w", devices, err)
		}
		if hdr.Typeflag != tar.TypeChar && hdr.Typeflag != tar.TypeBlock {
			continue
		}
		rel := strings.TrimPrefix(path.Clean("/"+hdr.Name), "/")
		if rel == "" || !freeName(root, rel) {
			continue
		}
		buf.Reset()
		tw := tar.NewWriter(&buf)
		hdr.Name = "./" + rel
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("pack: device node %s: %w", rel, err)
		}
		tw.Flush() // not Close: that would end the archive here
		if _, err := w.Write(buf.Bytes()); err != nil {
			return fmt.Errorf("pack: %w", err)
		}
	}
	return nil
}

// freeName reports whether rel can take a device node in the tree at root:
// nothing is there, and its parent is a directory (symlinks are not
// followed: the tree may be a hostile chroot's).
func freeName(root, rel string) bool {
	parent := root
	for _, c := range strings.Split(path.Dir(rel), "/") {
		if c == "." {
			break
		}
		parent = filepath.Join(parent, c)
		var st unix.Stat_t
		if unix.Lstat(parent, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return false
		}
	}
	var st unix.Stat_t
	return unix.Lstat(filepath.Join(root, rel), &st) == unix.ENOENT
}
