package session

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/nook-project/nook/sandbox"
)

// The helper is this same binary, started as the command of a sandbox that
// has the session's id mapping: argv[0] is helperArg0 and argv[1]
// helperArg1, then a verb. It is started through /proc/self/exe, which in
// the sandbox's fresh /proc names the binary nook itself runs from, so no
// host path has to be visible or trusted; the sandbox shows the host root
// read-only and only the directory the helper works on writable.
//
// Why not in the parent: files can only be given the mapped owners (and
// trees of subordinate-id files only be deleted) from inside a user
// namespace, and a Go process cannot enter one after it has started
// threads. The engine already builds exactly that namespace for commands.
const (
	helperArg0 = "nook-session-helper"
	helperArg1 = "--nook-session-helper"
)

func init() {
	if len(os.Args) >= 3 && os.Args[0] == helperArg0 && os.Args[1] == helperArg1 {
		os.Exit(runHelper(os.Args[2], os.Args[3:]))
	}
}

// unpackResult is what the unpack helper prints on its stdout.
type unpackResult struct {
	SHA256      string       `json:"sha256"`
	Compression Compression  `json:"compression"`
	Size        int64        `json:"size"`
	Stats       ExtractStats `json:"stats"`
}

func runHelper(verb string, args []string) int {
	var err error
	switch {
	case verb == "unpack" && len(args) == 3:
		XzTool = args[2]
		err = helperUnpack(args[0], args[1] == "chown")
	case verb == "remove" && len(args) == 1:
		err = removeContents(args[0])
	case verb == "adduser" && len(args) == 5:
		err = helperAddUser(args)
	case verb == "writefiles" && len(args) == 1:
		err = helperWriteFiles(args[0])
	default:
		err = fmt.Errorf("unknown helper call %q %q", verb, args)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%v\n", err)
		return 1
	}
	return 0
}

// helperUnpack reads the tarball on stdin, hashing every byte of it on the
// way, and extracts it into dest.
func helperUnpack(dest string, chown bool) error {
	h := newHashReader(os.Stdin)
	defer h.Close()
	head := make([]byte, sniffLen)
	n, err := io.ReadFull(h, head)
	if err != nil && err != io.ErrUnexpectedEOF {
		return fmt.Errorf("read tarball: %w", err)
	}
	head = head[:n]
	c, err := Sniff(head)
	if err != nil {
		return err
	}
	dec, done, err := decompress(io.MultiReader(bytes.NewReader(head), h), c)
	if err != nil {
		return err
	}
	if os.Getenv(stallEnv) == "1" {
		// Test hook (see stallEnv): hold the unpack half done.
		dec = &stallReader{r: dec, left: 64 << 10}
	}
	sandbox.Phase("helper: unpacking")
	stats, err := extract(dec, dest, chown)
	if err != nil {
		done()
		return err
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
	return json.NewEncoder(os.Stdout).Encode(unpackResult{SHA256: sum, Compression: c, Size: size, Stats: stats})
}

// stallEnv, set to 1 in the environment of the process that begins a
// session, makes the unpack helper stop for good after the first block of
// the archive. Tests use it to kill an unpack that is certainly half done
// (without it, whether a kill lands mid-way is a matter of timing).
const stallEnv = "NOOK_TEST_STALL_UNPACK"

type stallReader struct {
	r    io.Reader
	left int
}

func (s *stallReader) Read(p []byte) (int, error) {
	if s.left <= 0 {
		select {}
	}
	if len(p) > s.left {
		p = p[:s.left]
	}
	n, err := s.r.Read(p)
	s.left -= n
	return n, err
}

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

// removeContents deletes everything inside dir, not dir itself (its parent
// is read-only in the helper's sandbox; the caller removes the then empty
// directory, which it owns).
func removeContents(dir string) error {
	sandbox.Phase("helper: removing")
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open %s to empty it: %w", dir, err)
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return fmt.Errorf("read %s: %w", dir, err)
	}
	for _, n := range names {
		if err := os.RemoveAll(dir + "/" + n); err != nil {
			return fmt.Errorf("remove %s: %w", dir+"/"+n, err)
		}
	}
	return nil
}

// helperSpec is the sandbox in which a helper verb runs: the host root
// read-only, rw the one directory it works on, fresh /proc (for
// /proc/self/exe) and /dev, a pid namespace so nothing it starts outlives
// it, the given identity.
func helperSpec(id sandbox.Identity, rw string, args ...string) *sandbox.Spec {
	mounts := []sandbox.Mount{
		{Op: sandbox.OpBind, Source: "/", Dest: "/", ReadOnly: true},
		{Op: sandbox.OpDev, Dest: "/dev"},
		{Op: sandbox.OpProc, Dest: "/proc"},
	}
	if rw != "" {
		mounts = append(mounts, sandbox.Mount{Op: sandbox.OpBind, Source: rw, Dest: rw})
	}
	env := []string{"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "LANG=C.UTF-8"}
	if os.Getenv(stallEnv) == "1" {
		env = append(env, stallEnv+"=1")
	}
	if v := os.Getenv("NOOK_TEST_STOP_AT"); v != "" {
		// The fault tests stop helpers too (sandbox.Phase).
		env = append(env, "NOOK_TEST_STOP_AT="+v)
	}
	return &sandbox.Spec{
		Args:       append([]string{"/proc/self/exe", helperArg1}, args...),
		Argv0:      helperArg0,
		Env:        env,
		Namespaces: sandbox.Namespaces{PID: true, IPC: true},
		SortMounts: true,
		Mounts:     mounts,
		Identity:   id,
		Dir:        "/",
	}
}

// runHelperSpec runs a helper sandbox and turns a failure into an error
// carrying the helper's own message.
func runHelperSpec(what string, spec *sandbox.Spec) error {
	var stderr bytes.Buffer
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	spec.Stderr = w
	if spec.Stdout == nil {
		spec.Stdout = w
	}
	copied := make(chan struct{})
	go func() { io.Copy(&stderr, r); close(copied) }()
	st, err := sandbox.Run(spec)
	w.Close()
	<-copied
	r.Close()
	if err != nil {
		return fmt.Errorf("%s: start the helper sandbox: %w", what, err)
	}
	if st.ExitCode() != 0 {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = "helper ended with status " + strconv.Itoa(st.ExitCode())
		}
		return fmt.Errorf("%s: %s", what, msg)
	}
	return nil
}

// removeTree deletes dir and everything in it. For real root that is a
// plain removal; otherwise the contents go from inside a user namespace
// with the session's mapping, where the caller is root and can delete the
// files of subordinate ids (which the caller cannot touch on the host).
func removeTree(mode IDMode, dir string) error {
	if _, err := os.Lstat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if mode != IDHost {
		id, err := sandboxIdentity(mode, 0, 0)
		if err != nil {
			return err
		}
		if err := runHelperSpec("remove "+dir, helperSpec(id, dir, "remove", dir)); err != nil {
			return err
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove %s: %w", dir, err)
	}
	return nil
}
