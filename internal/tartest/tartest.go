// Package tartest makes small tar archives for tests: chroots, and
// hostile archives for the extractor.
package tartest

import (
	"archive/tar"
	"bytes"
	"testing"
	"time"
)

// Entry is one entry of an archive. Zero values get defaults: mode 0644
// (0755 for a directory), mtime 2023-11-14.
type Entry struct {
	Name, Link string
	Type       byte
	Mode       int64
	UID, GID   int
	Body       string
	Xattrs     map[string]string
	MTime      time.Time
}

// Make returns the archive of ents (PAX format, so xattrs are kept).
func Make(t testing.TB, ents []Entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		h := &tar.Header{Name: e.Name, Linkname: e.Link, Typeflag: e.Type, Mode: e.Mode, Uid: e.UID, Gid: e.GID,
			ModTime: e.MTime, Format: tar.FormatPAX}
		if h.ModTime.IsZero() {
			h.ModTime = time.Unix(1700000000, 0)
		}
		if h.Mode == 0 {
			h.Mode = 0o644
			if e.Type == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if e.Type == tar.TypeReg {
			h.Size = int64(len(e.Body))
		}
		if e.Type == tar.TypeChar {
			h.Devmajor, h.Devminor = 1, 3
		}
		for k, v := range e.Xattrs {
			if h.PAXRecords == nil {
				h.PAXRecords = map[string]string{}
			}
			h.PAXRecords["SCHILY.xattr."+k] = v
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatalf("tar header %s: %v", e.Name, err)
		}
		if e.Type == tar.TypeReg {
			if _, err := tw.Write([]byte(e.Body)); err != nil {
				t.Fatalf("tar body %s: %v", e.Name, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatalf("tar end: %v", err)
	}
	return buf.Bytes()
}
