package session

import (
	"bytes"
	"compress/bzip2"
	"fmt"
	"io"
	"os"
	"os/exec"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Compression is a tarball's compression, found from its first bytes (a
// chroot tarball's name says nothing reliable: sbuild's are .tar, .tar.gz,
// .tar.zst and .tzst, schroot's .tar.zstd).
type Compression string

const (
	None  Compression = "none"
	Gzip  Compression = "gzip"
	Zstd  Compression = "zstd"
	Xz    Compression = "xz"
	Bzip2 Compression = "bzip2"
)

// sniffLen is how many bytes Sniff needs: the tar magic sits at offset 257.
const sniffLen = 512

// Sniff tells the compression from the first bytes of a file.
func Sniff(head []byte) (Compression, error) {
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return Gzip, nil
	case bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return Zstd, nil
	case bytes.HasPrefix(head, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		return Xz, nil
	case bytes.HasPrefix(head, []byte("BZh")):
		return Bzip2, nil
	case len(head) >= 262 && bytes.Equal(head[257:262], []byte("ustar")):
		return None, nil
	}
	return "", fmt.Errorf("not a tar archive, nor one compressed with gzip, zstd, xz or bzip2")
}

// sniffFile reads the head of path and tells its compression.
func sniffFile(path string) (Compression, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("open tarball: %w", err)
	}
	defer f.Close()
	head := make([]byte, sniffLen)
	n, err := io.ReadFull(f, head)
	if err != nil && err != io.ErrUnexpectedEOF {
		return "", fmt.Errorf("read tarball %s: %w", path, err)
	}
	c, err := Sniff(head[:n])
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// XzTool chooses how xz streams are decompressed: "xz" runs `xz -dc`
// (measured faster here, see docs/benchmarks.md), "go" uses the pure Go
// decoder, "" tries xz and falls back to Go when it is not installed.
// The unpack helper receives the parent's choice on its command line.
var XzTool = ""

// decompress wraps r (positioned after nothing: the head is still in r)
// in the decoder for c. The returned closer ends a helper process, if any.
func decompress(r io.Reader, c Compression) (io.Reader, func() error, error) {
	noop := func() error { return nil }
	switch c {
	case None:
		return r, noop, nil
	case Gzip:
		z, err := gzip.NewReader(r)
		if err != nil {
			return nil, nil, fmt.Errorf("start gzip decoder: %w", err)
		}
		return z, z.Close, nil
	case Zstd:
		z, err := zstd.NewReader(r, zstd.WithDecoderMaxWindow(1<<30))
		if err != nil {
			return nil, nil, fmt.Errorf("start zstd decoder: %w", err)
		}
		return z, func() error { z.Close(); return nil }, nil
	case Bzip2:
		return bzip2.NewReader(r), noop, nil
	case Xz:
		if XzTool != "go" {
			if path, err := exec.LookPath("xz"); err == nil {
				return xzCommand(path, r)
			} else if XzTool == "xz" {
				return nil, nil, fmt.Errorf("xz is not installed (apt-get install xz-utils): %w", err)
			}
		}
		z, err := xz.NewReader(r)
		if err != nil {
			return nil, nil, fmt.Errorf("start xz decoder: %w", err)
		}
		return z, noop, nil
	}
	return nil, nil, fmt.Errorf("unknown compression %q", c)
}

// xzCommand decompresses through `xz -dc -T0` (threaded where the file
// has several blocks). Its stdin is fed from r by a goroutine, so r can be
// a hashing reader.
func xzCommand(path string, r io.Reader) (io.Reader, func() error, error) {
	cmd := exec.Command(path, "-dc", "-T0")
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, fmt.Errorf("start xz: %w", err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, fmt.Errorf("start xz: %w", err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("start xz: %w", err)
	}
	copied := make(chan error, 1)
	go func() {
		_, err := io.Copy(in, r)
		in.Close()
		copied <- err
	}()
	wait := func() error {
		// Read what is left (tar's end padding) so xz ends normally
		// instead of dying of SIGPIPE.
		io.Copy(io.Discard, out)
		out.Close()
		werr := cmd.Wait()
		cerr := <-copied
		if werr != nil {
			return fmt.Errorf("xz -dc: %w: %s", werr, bytes.TrimSpace(stderr.Bytes()))
		}
		return cerr
	}
	return out, wait, nil
}
