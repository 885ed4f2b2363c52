package unpack

import (
	"bytes"
	"compress/bzip2"
	"fmt"
	"io"
	"os/exec"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/nook-project/nook/unpack/proto"
	"github.com/ulikunitz/xz"
)

// decompress wraps r (positioned after nothing: the head is still in r)
// in the decoder for c. The returned closer ends a helper process, if any.
func decompress(r io.Reader, c proto.Compression, xzTool string) (io.Reader, func() error, error) {
	noop := func() error { return nil }
	switch c {
	case proto.None:
		return r, noop, nil
	case proto.Gzip:
		z, err := gzip.NewReader(r)
		if err != nil {
			return nil, nil, fmt.Errorf("start gzip decoder: %w", err)
		}
		return z, z.Close, nil
	case proto.Zstd:
		z, err := zstd.NewReader(r, zstd.WithDecoderMaxWindow(1<<30))
		if err != nil {
			return nil, nil, fmt.Errorf("start zstd decoder: %w", err)
		}
		return z, func() error { z.Close(); return nil }, nil
	case proto.Bzip2:
		return bzip2.NewReader(r), noop, nil
	case proto.Xz:
		if xzTool != "go" {
			if path, err := exec.LookPath("xz"); err == nil {
				return xzCommand(path, r)
			} else if xzTool == "xz" {
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
