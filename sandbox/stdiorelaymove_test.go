package sandbox

import (
	"bytes"
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
		unix.Write(w, []byte("hello"))
		mv := &mover{buf: make([]byte, 64), splice: true, giveUp: -1}
		n, err := mv.move(r, dw, 1<<20)
		got := make([]byte, 16)
		k, _ := unix.Read(dr, got)
		if err != nil || n != 5 || string(got[:k]) != "hello" || !mv.splice {
			t.Errorf("move = %d, %v; read %q; splice still on %v", n, err, got[:k], mv.splice)
		}
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
		unix.Write(w, []byte("b\n"))
		mv := &mover{buf: make([]byte, 64), splice: true, giveUp: -1}
		n, err := mv.move(r, int(f.Fd()), 1<<20)
		b, _ := os.ReadFile(name)
		if err != nil || n != 2 || string(b) != "a\nb\n" || mv.splice {
			t.Errorf("move = %d, %v; file %q; splice still on %v", n, err, b, mv.splice)
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
