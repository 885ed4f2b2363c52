package virtnook

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// copyTimeout is how long a copy may take: AUTOPKGTEST_VIRT_COPY_TIMEOUT
// seconds, 300 by default, as for autopkgtest's own servers.
func copyTimeout() time.Duration {
	if n, err := strconv.Atoi(os.Getenv("AUTOPKGTEST_VIRT_COPY_TIMEOUT")); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	return 300 * time.Second
}

// copy is copydown (host src to testbed dst) and copyup (testbed src to
// host dst): a file when neither path ends in "/", a directory's contents
// when both do. It goes as VirtSubproc's does, so that what arrives is
// what autopkgtest expects: a file through cat (made executable when the
// host's copy is), a directory through tar, extracted with modes kept and
// owned by whoever extracts it (root inside the testbed, the caller on the
// host). Unlike VirtSubproc's, the testbed gets only pipes, never a file
// of the host's, and what it sends up is unpacked by the server
// (extractUp), never by the host's tar. A copy that fails answers
// copy-failed, one that takes too long timeout; both leave the server
// running.
func (s *server) copy(src, dst string, up bool) error {
	what := "copydown"
	if up {
		what = "copyup"
	}
	if src == "" || dst == "" {
		return &failure{what + " paths must be nonempty"}
	}
	dir := strings.HasSuffix(src, "/")
	if dir != strings.HasSuffix(dst, "/") {
		return &failure{what + " paths must agree about directoryness (presence or absence of trailing /)"}
	}
	local, remote := src, dst
	if up {
		local, remote = dst, src
	}
	rq := shQuote(remote)
	var hostCmd *exec.Cmd
	var rune string
	var hostFile *os.File
	switch {
	case !dir && up:
		rune = "cat <" + rq
		f, err := os.Create(local)
		if err != nil {
			fmt.Fprintf(s.errOut, "%s: %s: %v\n", Name, what, err)
			return &failed{"copy-failed"}
		}
		hostFile = f
	case !dir:
		f, err := os.Open(local)
		if err != nil {
			fmt.Fprintf(s.errOut, "%s: %s: %v\n", Name, what, err)
			return &failed{"copy-failed"}
		}
		hostFile = f
		// The host's cat writes the pipe: the server, which takes
		// SIGPIPE as its end, must not (a testbed may stop reading).
		hostCmd = exec.Command("cat")
		hostCmd.Stdin = f
		rune = "cat >" + rq
		if fi, err := f.Stat(); err == nil && fi.Mode()&0o111 != 0 {
			rune += "; chmod +x -- " + rq
		}
	case up:
		if err := os.Mkdir(local, 0o777); err != nil && !errors.Is(err, fs.ErrExist) {
			fmt.Fprintf(s.errOut, "%s: %s: %v\n", Name, what, err)
			return &failed{"copy-failed"}
		}
		rune = "cd " + rq + "; tar --warning=none -c . -f -"
	default:
		rune = "if ! test -d " + rq + "; then mkdir -- " + rq + "; fi; cd " + rq + "; tar --warning=none --preserve-permissions --extract --no-same-owner -f -"
		hostCmd = exec.Command("tar", "--directory", local, "--warning=none", "-c", ".", "-f", "-")
	}
	if hostFile != nil {
		defer hostFile.Close()
	}
	s.debugf("%s %s %s: %s", what, src, dst, rune)
	tb := s.inTestbed([]string{"sh", "-ec", rune}, nil, nil)
	r, w, err := os.Pipe()
	if err != nil {
		return &failure{fmt.Sprintf("%s: make a pipe: %v", what, err)}
	}
	// Whatever happens, the server's pipe ends close (finish closes
	// them early; closing again does nothing).
	defer r.Close()
	defer w.Close()
	// The testbed gets pipes, never a file of the host's: root inside
	// could reopen one through /proc/self/fd, write it, or change its
	// mode. The server or the host's cat copies between the pipe and the
	// file.
	switch {
	case hostFile != nil && up:
		tb.Stdout = w
		return s.finish(what, tb, w, func() error {
			defer r.Close()
			_, err := io.Copy(hostFile, r)
			return err
		})
	case up:
		tb.Stdout = w
		// Read on to the end after the archive's: tar pads its last
		// record, and a testbed that wrote it must not see EPIPE.
		return s.finish(what, tb, w, func() error {
			defer r.Close()
			err := extractUp(local, r, s.errOut)
			io.Copy(io.Discard, r)
			return err
		})
	}
	hostCmd.Stderr = s.errOut
	hostCmd.Stdout, tb.Stdin = w, r
	return s.finish(what, tb, hostCmd, r, w)
}

// finish starts the copy's commands, closes the server's ends of the pipe
// between them, and waits for them all within the copy timeout.
func (s *server) finish(what string, cmds ...any) error {
	var started []*exec.Cmd
	var pipe []*os.File
	var funcs []func() error
	for _, c := range cmds {
		switch c := c.(type) {
		case func() error:
			funcs = append(funcs, c)
		case *exec.Cmd:
			if err := c.Start(); err != nil {
				for _, p := range started {
					p.Process.Kill()
					p.Wait()
				}
				for _, f := range pipe {
					f.Close()
				}
				fmt.Fprintf(s.errOut, "%s: %s: %v\n", Name, what, err)
				return &failed{"copy-failed"}
			}
			started = append(started, c)
		case *os.File:
			pipe = append(pipe, c)
		}
	}
	for _, f := range pipe {
		f.Close()
	}
	done := make(chan error, len(started)+len(funcs))
	for _, c := range started {
		go func() { done <- c.Wait() }()
	}
	for _, f := range funcs {
		go func() { done <- f() }()
	}
	timer := time.NewTimer(copyTimeout())
	defer timer.Stop()
	var firstErr error
	for left := len(started) + len(funcs); left > 0; {
		select {
		case err := <-done:
			left--
			if err != nil && firstErr == nil {
				firstErr = err
			}
		case <-timer.C:
			for _, c := range started {
				c.Process.Kill()
			}
			for ; left > 0; left-- {
				<-done
			}
			return &failed{"timeout"}
		}
	}
	if firstErr != nil {
		fmt.Fprintf(s.errOut, "%s: %s failed: %v\n", Name, what, firstErr)
		return &failed{"copy-failed"}
	}
	return nil
}
