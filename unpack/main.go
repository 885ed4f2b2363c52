// Package unpack is nook's unpack helper, the program nook-unpack: it reads
// a chroot tarball on stdin (tar, or tar compressed with gzip, zstd, xz or
// bzip2, told apart by content), hashes every byte of it, extracts it into
// a directory without ever writing outside it, and prints what it did as
// JSON (proto.UnpackResult).
//
// nook starts it inside a sandbox that has the session's id mapping (see
// session.UnpackHelper). It is a program of its own so that the
// decompressors, tar and sha256 are linked into it alone: in nook they cost
// every start about 1.5 ms of package initialisation on the project's VM,
// for the few commands that unpack (docs/benchmarks.md).
package unpack

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/nook-project/nook/internal/phase"
	"github.com/nook-project/nook/unpack/proto"
)

// Main runs the helper with args (os.Args[1:]: proto.Flag, the
// destination, "chown" or "nochown", the xz tool as session.XzTool names
// it; or proto.Flag, CheckArg, the xz tool, to read the tarball
// without extracting it) and returns the process's exit status. Errors go to stderr, where
// nook picks them up.
func Main(args []string) int {
	if len(args) == 0 || !strings.HasPrefix(args[0], "--nook-unpack=") {
		fmt.Fprintf(os.Stderr, "nook-unpack is started by nook, not by hand (it reads a tarball on stdin under nook's id mapping)\n")
		return 2
	}
	if args[0] != proto.Flag {
		fmt.Fprintf(os.Stderr, "nook-unpack speaks %s, nook asked for %s: install nook and nook-unpack from the same version\n", proto.Flag, args[0])
		return 2
	}
	if len(args) == 3 && args[1] == CheckArg {
		if err := check(args[2]); err != nil {
			fmt.Fprintf(os.Stderr, "%v\n", err)
			return 1
		}
		return 0
	}
	if len(args) != 4 || (args[2] != "chown" && args[2] != "nochown") {
		fmt.Fprintf(os.Stderr, "nook-unpack: want %s DEST chown|nochown XZTOOL, got %q\n", proto.Flag, args)
		return 2
	}
	if err := unpack(args[1], args[2] == "chown", args[3]); err != nil {
		fmt.Fprintf(os.Stderr, "%v\n", err)
		if errors.Is(err, syscall.ENOSPC) {
			return proto.ExitNoSpace
		}
		return 1
	}
	return 0
}

// Dispatch runs Main and exits when this process was started as the unpack
// helper (its first argument is a --nook-unpack= flag). A program that
// links this package and sets session.UnpackHelper to session.UnpackSelf
// calls it before anything else (nook's own test binaries do).
func Dispatch() {
	if len(os.Args) > 1 && strings.HasPrefix(os.Args[1], "--nook-unpack=") {
		os.Exit(Main(os.Args[1:]))
	}
}

// unpack reads the tarball on stdin, hashing every byte of it on the
// way, and extracts it into dest.
func unpack(dest string, chown bool, xzTool string) error {
	h := newHashReader(os.Stdin)
	defer h.Close()
	head := make([]byte, proto.SniffLen)
	n, err := io.ReadFull(h, head)
	if err != nil && err != io.ErrUnexpectedEOF {
		return fmt.Errorf("read tarball: %w", err)
	}
	head = head[:n]
	c, err := proto.Sniff(head)
	if err != nil {
		return err
	}
	dec, done, err := decompress(io.MultiReader(bytes.NewReader(head), h), c, xzTool)
	if err != nil {
		return err
	}
	dec = stalled(dec)
	phase.Mark("helper: unpacking")
	var devices bytes.Buffer
	stats, err := extract(dec, dest, chown, &devices)
	if err != nil {
		done()
		return err
	}
	if stats.Devices > 0 {
		// Beside the tree, for a source session to pack back.
		p := filepath.Join(filepath.Dir(dest), proto.DevicesFile)
		if err := os.WriteFile(p, devices.Bytes(), 0o644); err != nil {
			done()
			return fmt.Errorf("record device nodes: %w", err)
		}
	}
	// The tar end marker may come before the end of the stream (padding,
	// a trailing compressed frame): read it all so the hash covers the
	// whole file and the decoder ends cleanly.
	if _, err := io.Copy(io.Discard, dec); err != nil {
		done()
		return fmt.Errorf("read the end of the tarball: %w", err)
	}
	if err := done(); err != nil {
		return err
	}
	if _, err := io.Copy(io.Discard, h); err != nil {
		return fmt.Errorf("read the end of the tarball: %w", err)
	}
	sum, size, err := h.Sum()
	if err != nil {
		return fmt.Errorf("read tarball: %w", err)
	}
	return json.NewEncoder(os.Stdout).Encode(proto.UnpackResult{SHA256: sum, Compression: c, Size: size, Stats: stats})
}
