package sandbox

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestSymlinkReplaceDirectory: a Replace symlink onto a directory, one
// that is a mount point or not, fails in one message naming the operation
// and the path and saying a directory is there, with the same
// SetupFailure from both engines. The raw engine once said only "file
// exists" after the step (the errno a symlink in the way gets), which is
// not what is there.
func TestSymlinkReplaceDirectory(t *testing.T) {
	host := t.TempDir()
	os.Mkdir(filepath.Join(host, "sub"), 0o755)
	for _, e := range bothEngines {
		t.Run(e.name, func(t *testing.T) {
			t.Setenv("NOOK_ENGINE", e.env)
			for _, c := range []struct {
				name  string
				dest  string
				extra []Mount
			}{
				{"tmpfs mount point", "/tmp/d", []Mount{{Op: OpTmpfs, Dest: "/tmp/d"}}},
				{"proc mount point", "/proc", nil},
				{"dev mount point", "/dev", nil},
				{"directory", "/tmp/h/sub", []Mount{{Op: OpBind, Source: host, Dest: "/tmp/h", ReadOnly: true}}},
			} {
				t.Run(c.name, func(t *testing.T) {
					s := baseSpec()
					s.Args = []string{"true"}
					s.Mounts = append(append(s.Mounts, c.extra...), Mount{Op: OpSymlink, Source: "x", Dest: c.dest, Replace: true})
					p, err := Start(s)
					if err == nil {
						p.Wait()
						t.Fatalf("a symlink replaced the directory %s", c.dest)
					}
					var se *StartError
					if !errors.As(err, &se) {
						t.Fatalf("error %v (%T), want a *StartError", err, err)
					}
					want := "mount a symlink " + c.dest + " -> x over what is there: " + unix.EISDIR.Error()
					if se.Code != ExitSetupFailed || !strings.HasSuffix(se.Msg, want) {
						t.Errorf("exit %d, message %q; want %d and one ending %q", se.Code, se.Msg, ExitSetupFailed, want)
					}
					f := se.Setup
					if f == nil || f.Op != OpSymlink || f.Dest != c.dest || f.Phase != PhaseExisting || !f.NotSymlink || f.Errno != unix.EEXIST {
						t.Errorf("setup failure %+v, want symlink %s, existing, not a symlink, EEXIST", f, c.dest)
					}
				})
			}
		})
	}
}
