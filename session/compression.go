package session

import (
	"bytes"
	"fmt"
	"io"
	"os"
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

// SniffLen is how many bytes Sniff needs: the tar magic sits at offset 257.
const SniffLen = 512

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

// ExtractStats counts what an extraction did and what it left out.
// DevicesFile names, beside a cache entry's tree, the tar archive of the
// device nodes its unpack skipped (header-only entries): a source session
// packs them back into the tarball it replaces.
const DevicesFile = "devices.tar"

type ExtractStats struct {
	Entries int64 `json:"entries"`
	Bytes   int64 `json:"bytes"`
	// Devices are device nodes skipped: a session gets a fresh /dev from
	// every command, and a user namespace cannot make them anyway.
	Devices int64 `json:"devices,omitempty"`
	// ChownFailed counts entries whose owner could not be set (an id the
	// mapping does not hold); they belong to the extracting user instead.
	ChownFailed int64  `json:"chown_failed,omitempty"`
	ChownError  string `json:"chown_error,omitempty"`
	// XattrFailed counts extended attributes the kernel refused (trusted.*
	// in a user namespace, or a filesystem without xattrs).
	XattrFailed int64  `json:"xattr_failed,omitempty"`
	XattrError  string `json:"xattr_error,omitempty"`
	// Other counts entries of kinds that are not files (sockets, unknown).
	Other int64 `json:"other,omitempty"`
}

// UnpackResult is what the unpack helper (package unpack) prints on its
// stdout.
type UnpackResult struct {
	SHA256      string       `json:"sha256"`
	Compression Compression  `json:"compression"`
	Size        int64        `json:"size"`
	Stats       ExtractStats `json:"stats"`
}
