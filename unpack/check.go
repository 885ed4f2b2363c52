package unpack

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/nook-project/nook/unpack/proto"
)

// CheckArg, after proto.Flag, asks the helper to read the tarball
// on stdin to its end without extracting it: `nook chroot add` names an
// empty, truncated or non-tar file when it is added, not at the first
// session begin.
const CheckArg = "--check"

// check reads the tarball on stdin through its decompressor and walks its
// tar headers and bodies to the end of the stream.
func check(xzTool string) error {
	head := make([]byte, proto.SniffLen)
	n, err := io.ReadFull(os.Stdin, head)
	if n == 0 && (err == io.EOF || err == nil) {
		return errors.New("the file is empty (0 bytes)")
	}
	if err != nil && err != io.ErrUnexpectedEOF {
		return fmt.Errorf("read tarball: %w", err)
	}
	c, err := proto.Sniff(head[:n])
	if err != nil {
		return err
	}
	dec, done, err := decompress(io.MultiReader(bytes.NewReader(head[:n]), os.Stdin), c, xzTool)
	if err != nil {
		return err
	}
	// Counted as unpack counts: an archive cut off at an entry's boundary
	// reads to archive/tar like a whole one, and unpack refuses it.
	cr := &countingReader{r: dec}
	tr := tar.NewReader(cr)
	entries := 0
	end := int64(0)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err == nil {
			if n := stored(hdr); n < 0 {
				end = -1
			} else {
				end = cr.n + n
			}
			_, err = io.Copy(io.Discard, tr)
		}
		if err != nil {
			done()
			return describe(c, entries, err)
		}
		entries++
	}
	if entries == 0 {
		done()
		return fmt.Errorf("the tar archive (%s) holds no entries", c)
	}
	if cr.endless(end) {
		done()
		return fmt.Errorf("the %s is truncated: it stops after %d whole entries without tar's end-of-archive blocks (an interrupted copy or download?); copy or download it again", archiveWhat(c), entries)
	}
	// As unpack does: the rest of the stream must decode too.
	if _, err := io.Copy(io.Discard, dec); err != nil {
		done()
		return describe(c, entries, err)
	}
	if err := done(); err != nil {
		return describe(c, entries, err)
	}
	return nil
}

// describe names what a read error means for the archive.
func describe(c proto.Compression, entries int, err error) error {
	what := archiveWhat(c)
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return fmt.Errorf("the %s is truncated: it ends after %d entries, in the middle of one (%w); copy or download it again", what, entries, err)
	case errors.Is(err, tar.ErrHeader) && entries == 0:
		if c == proto.None {
			return fmt.Errorf("the file is not a tar archive (%w)", err)
		}
		return fmt.Errorf("the file is %s-compressed, but what it holds is not a tar archive (%w)", c, err)
	}
	return fmt.Errorf("the %s is damaged after %d entries: %w", what, entries, err)
}

// archiveWhat names the archive for a message: "tar archive", or
// "zstd-compressed tar archive" and the like.
func archiveWhat(c proto.Compression) string {
	if c == proto.None {
		return "tar archive"
	}
	return string(c) + "-compressed tar archive"
}
