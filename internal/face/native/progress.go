package native

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/nook-project/nook/session"
	"golang.org/x/sys/unix"
)

// progressBar draws an unpack's progress on stderr when stderr is a
// terminal (bytes of the compressed file read, rate, time left) and
// returns nil otherwise, so nothing reaches a pipe or a log.
func progressBar(what string) (session.Progress, func()) {
	if _, err := unix.IoctlGetTermios(2, unix.TCGETS); err != nil {
		return nil, func() {}
	}
	start := time.Now()
	drawn := false
	p := func(done, total int64) {
		el := time.Since(start).Seconds()
		if el <= 0 || total <= 0 {
			return
		}
		rate := float64(done) / el
		left := "?"
		if rate > 0 {
			left = fmt.Sprintf("%.0fs", float64(total-done)/rate)
		}
		// Asked at every draw: the window may be resized meanwhile.
		cols := 80
		if ws, err := unix.IoctlGetWinsize(2, unix.TIOCGWINSZ); err == nil && ws.Col > 0 {
			cols = int(ws.Col)
		}
		fmt.Fprintf(os.Stderr, "\r\x1b[K%s", progressLine(what, done, total, rate, left, cols))
		drawn = true
	}
	end := func() {
		if drawn {
			fmt.Fprint(os.Stderr, "\r\x1b[K")
		}
	}
	return p, end
}

// progressLine is one refresh of the progress line, at most cols-1
// columns wide: a line as wide as the terminal, or wider, wraps (the
// cursor moves past the last column), and "\r" then rewrites only the
// last of its rows, leaving the others behind at every refresh. The bar
// takes what the figures leave, up to 30 columns; without room, the
// figures are dropped from the right.
func progressLine(what string, done, total int64, rate float64, left string, cols int) string {
	max := cols - 1
	head := "unpacking " + what
	figures := []string{fmt.Sprintf("%3d%%", done*100/total), mib(done) + "/" + mib(total), mib(int64(rate)) + "/s", left + " left"}
	for k := len(figures); k >= 0; k-- {
		tail := ""
		if k > 0 {
			tail = " " + strings.Join(figures[:k], " ")
		}
		width := max - len(head) - len(tail) - 3 // " [" and "]"
		if width > 30 {
			width = 30
		}
		if width >= 10 {
			n := int(float64(width) * float64(done) / float64(total))
			return head + " [" + strings.Repeat("#", n) + strings.Repeat(" ", width-n) + "]" + tail
		}
		if len(head)+len(tail) <= max {
			return head + tail
		}
	}
	if len(head) > max {
		return head[:max]
	}
	return head
}

func mib(n int64) string {
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
