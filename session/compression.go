package session

import (
	"fmt"
	"io"
	"os"

	"github.com/nook-project/nook/unpack/proto"
)

// Compression is a tarball's compression (proto.Compression: the unpack
// helper's protocol lives in a package of its own, which the helper
// links instead of this one).
type Compression = proto.Compression

const (
	None  = proto.None
	Gzip  = proto.Gzip
	Zstd  = proto.Zstd
	Xz    = proto.Xz
	Bzip2 = proto.Bzip2
)

// SniffLen is how many bytes Sniff needs.
const SniffLen = proto.SniffLen

// Sniff tells the compression from the first bytes of a file.
func Sniff(head []byte) (Compression, error) { return proto.Sniff(head) }

// sniffFile reads the head of path and tells its compression.
func sniffFile(path string) (Compression, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("open tarball: %w", err)
	}
	defer f.Close()
	head := make([]byte, SniffLen)
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

// XzTool chooses how the unpack helper decompresses xz streams: "xz" runs
// `xz -dc` (measured faster here, see docs/benchmarks.md), "go" uses the
// pure Go decoder, "" tries xz and falls back to Go when it is not
// installed. It travels to the helper on its command line.
var XzTool = ""

// DevicesFile names, beside a cache entry's tree, the tar archive of the
// device nodes its unpack skipped.
const DevicesFile = proto.DevicesFile

// ExtractStats counts what an extraction did and what it left out.
type ExtractStats = proto.ExtractStats

// UnpackResult is what the unpack helper prints on its stdout.
type UnpackResult = proto.UnpackResult
