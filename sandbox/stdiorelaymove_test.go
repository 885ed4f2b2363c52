package sandbox

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// rawPipe is a pipe as raw fds, the read end nonblocking as a relay's is.
func rawPipe(t *testing.T) (r, w int) {
	t.Helper()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	if err := unix.SetNonblock(p[0], true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(p[0]); unix.Close(p[1]) })
	return p[0], p[1]
}

// TestRelayMoverFallsBack: the relay splices where the kernel lets it
// (pipe to pipe) and reads and writes where it refuses (EINVAL: a file
// opened O_APPEND), and either way the bytes arrive.
func TestRelayMoverFallsBack(t *testing.T) {
	t.Run("pipe to pipe splices", func(t *testing.T) {
		r, w := rawPipe(t)
		dr, dw := rawPipe(t)
		data := bytes.Repeat([]byte("hello\n"), spliceMin/6+1) // bulk: spliced
		unix.Write(w, data)
		mv := &mover{buf: make([]byte, 64), splice: true, giveUp: -1}
		n, err := mv.move(r, dw, 1<<20)
		got := make([]byte, 2*len(data))
		k, _ := unix.Read(dr, got)
		if err != nil || n != len(data) || !bytes.Equal(got[:k], data) || !mv.splice {
			t.Errorf("move = %d, %v; read %d bytes; splice still on %v", n, err, k, mv.splice)
		}
		unix.Write(w, []byte("hello")) // little: read and written, splice stays on
		if n, err := mv.move(r, dw, 1<<20); n != 5 || err != nil || !mv.splice {
			t.Errorf("move of 5 bytes = %d, %v; splice still on %v", n, err, mv.splice)
		}
		unix.Read(dr, got)
		if n, err := mv.move(r, dw, 1<<20); n != 0 || err != unix.EAGAIN {
			t.Errorf("move from an empty pipe = %d, %v; want EAGAIN", n, err)
		}
	})
	t.Run("O_APPEND file reads and writes", func(t *testing.T) {
		r, w := rawPipe(t)
		name := filepath.Join(t.TempDir(), "log")
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		f.WriteString("a\n")
		data := bytes.Repeat([]byte("b\n"), spliceMin/2) // bulk: splice is tried
		unix.Write(w, data)
		mv := &mover{buf: make([]byte, 64<<10), splice: true, giveUp: -1}
		n, err := mv.move(r, int(f.Fd()), 1<<20)
		b, _ := os.ReadFile(name)
		if err != nil || n != len(data) || string(b) != "a\n"+string(data) || mv.splice {
			t.Errorf("move = %d, %v; file of %d bytes; splice still on %v", n, err, len(b), mv.splice)
		}
	})
}

// TestRelayOutSurvivesEINTR: a relay whose thread signals keep
// interrupting (poll is never restarted; reads, writes and splices are
// interrupted while they wait) delivers every byte in order.
func TestRelayOutSurvivesEINTR(t *testing.T) {
	const size = 32 << 20
	// Raw pipes the test closes itself: the relay's ends close when it
	// ends, as startOut's do.
	var sp [2]int
	if err := unix.Pipe2(sp[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		t.Fatal(err)
	}
	src, srcW := sp[0], sp[1]
	unix.SetNonblock(srcW, false)
	defer unix.Close(srcW)
	var dp [2]int
	if err := unix.Pipe2(dp[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	dstR, dst := dp[0], dp[1]
	defer unix.Close(dstR)
	stopR, stopW := rawPipe(t)
	// The relay's own end of dst, closed when it ends, so the reader
	// sees the end then (a relay that gave up early fails the test).
	relayDst, err := unix.Dup(dst)
	if err != nil {
		t.Fatal(err)
	}
	tid := make(chan int, 1)
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		tid <- unix.Gettid()
		relayOut(src, relayDst, stopR, -1)
		unix.Close(relayDst)
		unix.Close(src)
		close(done)
	}()
	relayTid := <-tid
	unix.Close(dst)
	var wg sync.WaitGroup
	quit := make(chan struct{})
	wg.Add(1)
	go func() {
		// SIGURG: the runtime's own preemption signal, harmless to it.
		defer wg.Done()
		for {
			select {
			case <-quit:
				return
			default:
			}
			unix.Tgkill(os.Getpid(), relayTid, unix.SIGURG)
			time.Sleep(50 * time.Microsecond)
		}
	}()
	want := make([]byte, size)
	for i := range want {
		want[i] = byte(i * 7 / 5)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		// Small writes, so the relay waits on an empty pipe often.
		for off := 0; off < size; off += 4096 {
			if _, err := fdWriter(srcW).Write(want[off : off+4096]); err != nil {
				break // the relay gave up: its end is closed
			}
		}
		unix.Close(stopW) // the sandbox is gone: take what is left
	}()
	got := make([]byte, 0, size)
	buf := make([]byte, 1<<16)
	for len(got) < size {
		// Slowly at times, so the relay waits on a full pipe too.
		if len(got)%(1<<22) == 0 {
			time.Sleep(time.Millisecond)
		}
		n, err := unix.Read(dstR, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			break
		}
		got = append(got, buf[:n]...)
	}
	close(quit)
	wg.Wait()
	<-done
	if !bytes.Equal(got, want) {
		t.Errorf("the relay delivered %d bytes (want %d), or not in order", len(got), size)
	}
}

// TestRelaySmallWritesKeepPipeRoom: a command that writes line by line
// through a relay must not fill the caller's pipe after 16 lines. A splice
// puts each pipe buffer it moves into a slot of its own in the destination
// (16 by default) however little it holds, so with every small write
// spliced a caller that reads only once nook has ended (Popen's wait, then
// read) waited for ever on a few hundred bytes; found by review, and this
// hung before spliceMin.
func TestRelaySmallWritesKeepPipeRoom(t *testing.T) {
	src, srcW := rawPipe(t)
	dstR, dst := rawPipe(t) // the caller's pipe: nobody reads it until the end
	stop, stopW := rawPipe(t)
	done := make(chan struct{})
	go func() { relayOut(src, dst, stop, -1); close(done) }()
	var want []byte
	for i := 0; i < 40; i++ {
		line := []byte(fmt.Sprintf("line %d\n", i))
		want = append(want, line...)
		if _, err := unix.Write(srcW, line); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond) // each line in a pipe buffer of its own
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if n, err := unix.IoctlGetInt(src, unix.TIOCINQ); err != nil || n == 0 {
			break
		}
	}
	unix.Write(stopW, []byte{1}) // the sandbox is gone
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the relay still waits for room in the caller's pipe after 40 short lines")
	}
	got := make([]byte, 4096)
	k, err := unix.Read(dstR, got)
	if err != nil || string(got[:k]) != string(want) {
		t.Errorf("the caller's pipe holds %q (%v), want the 40 lines", got[:max(k, 0)], err)
	}
}
