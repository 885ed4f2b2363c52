package unpack

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
)

// hashReader reads its source in a goroutine, hashing each block there, so
// hashing runs beside decompression and extraction instead of in front of
// them. Memory is bounded: a few blocks in flight.
type hashReader struct {
	blocks chan []byte
	free   chan []byte
	cur    []byte
	curBuf []byte
	done   chan struct{}
	stop   chan struct{}
	sum    string
	size   int64
	err    error
}

func newHashReader(r io.Reader) *hashReader {
	const nbuf, bsize = 4, 1 << 20
	h := &hashReader{blocks: make(chan []byte, nbuf), free: make(chan []byte, nbuf), done: make(chan struct{}), stop: make(chan struct{})}
	for range nbuf {
		h.free <- make([]byte, bsize)
	}
	go func() {
		defer close(h.done)
		defer close(h.blocks)
		hash := sha256.New()
		for {
			var buf []byte
			select {
			case buf = <-h.free:
			case <-h.stop:
				return
			}
			n, err := io.ReadFull(r, buf)
			if n > 0 {
				hash.Write(buf[:n])
				h.size += int64(n)
				select {
				case h.blocks <- buf[:n]:
				case <-h.stop:
					return
				}
			}
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				h.sum = hex.EncodeToString(hash.Sum(nil))
				return
			}
			if err != nil {
				h.err = err
				return
			}
		}
	}()
	return h
}

func (h *hashReader) Read(p []byte) (int, error) {
	for len(h.cur) == 0 {
		if h.curBuf != nil {
			h.free <- h.curBuf[:cap(h.curBuf)]
			h.curBuf = nil
		}
		b, ok := <-h.blocks
		if !ok {
			<-h.done
			if h.err != nil {
				return 0, h.err
			}
			return 0, io.EOF
		}
		h.cur, h.curBuf = b, b
	}
	n := copy(p, h.cur)
	h.cur = h.cur[n:]
	return n, nil
}

// Sum returns the hash and size once Read has returned io.EOF.
func (h *hashReader) Sum() (string, int64, error) {
	<-h.done
	if h.err != nil {
		return "", 0, h.err
	}
	if h.sum == "" {
		return "", 0, errors.New("tarball not read to its end")
	}
	return h.sum, h.size, nil
}

// Close stops the reading goroutine.
func (h *hashReader) Close() {
	select {
	case <-h.stop:
	default:
		close(h.stop)
	}
	<-h.done
}
