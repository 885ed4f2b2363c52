// Package proto is what nook and its unpack helper (nook-unpack, package
// unpack) say to each other: the helper's first argument, the kinds of
// compression, the result it prints. It imports nothing of nook's, so
// that the helper links neither the session store nor the sandbox engine.
package proto

import (
	"bytes"
	"fmt"
)

// Flag is the helper's first argument, with the protocol version: a
// helper of another version refuses the call instead of misreading it.
const Flag = "--nook-unpack=1"

// ExitNoSpace is the helper's exit status where it failed because the
// file system it unpacks to is full (ENOSPC); its message is on stderr as
// for any failure (status 1), and nook adds what to do.
const ExitNoSpace = 3

// MaxRecordedDevices bounds the device nodes the unpack helper records
// for a source session (DevicesFile).
const MaxRecordedDevices = 4096

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
