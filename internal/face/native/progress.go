package native

import (
	"fmt"
	"os"
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
		const width = 30
		n := int(float64(width) * float64(done) / float64(total))
		bar := make([]byte, width)
		for i := range bar {
			bar[i] = ' '
			if i < n {
				bar[i] = '#'
			}
		}
		fmt.Fprintf(os.Stderr, "\r\x1b[Kunpacking %s [%s] %3d%% %s/%s %s/s %s left", what, bar, done*100/total,
			mib(done), mib(total), mib(int64(rate)), left)
		drawn = true
	}
	end := func() {
		if drawn {
			fmt.Fprint(os.Stderr, "\r\x1b[K")
		}
	}
	return p, end
}

func mib(n int64) string {
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
