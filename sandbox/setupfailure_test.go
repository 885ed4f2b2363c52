package sandbox

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestSetupFailureFields: a filesystem operation that cannot be carried out
// comes back from either engine as a StartError whose Setup names it by
// its fields (what faces word their own way), while the StartError keeps
// nook's own message.
func TestSetupFailureFields(t *testing.T) {
	mode := uint32(0o755)
	for _, c := range []struct {
		name string
		ops  []Mount
		want SetupFailure
	}{
		{"symlink onto another symlink",
			[]Mount{{Op: OpSymlink, Source: "a", Dest: "/tmp/l"}, {Op: OpSymlink, Source: "b", Dest: "/tmp/l"}},
			SetupFailure{Op: OpSymlink, Source: "b", Dest: "/tmp/l", Phase: PhaseExisting, Errno: unix.EEXIST, Existing: "a"}},
		{"symlink onto a directory",
			[]Mount{{Op: OpDir, Dest: "/tmp/d"}, {Op: OpSymlink, Source: "b", Dest: "/tmp/d"}},
			SetupFailure{Op: OpSymlink, Source: "b", Dest: "/tmp/d", Phase: PhaseExisting, Errno: unix.EEXIST, NotSymlink: true}},
		{"tmpfs onto a file",
			[]Mount{{Op: OpTmpfs, Dest: "/etc/passwd"}},
			SetupFailure{Op: OpTmpfs, Dest: "/etc/passwd", Phase: PhaseExisting, Errno: unix.ENOTDIR}},
		{"file bind onto a directory",
			[]Mount{{Op: OpBind, Source: "/etc/passwd", Dest: "/etc"}},
			SetupFailure{Op: OpBind, Source: "/etc/passwd", Dest: "/etc", Phase: PhaseExisting, Errno: unix.EISDIR}},
		{"tmpfs under a file",
			[]Mount{{Op: OpTmpfs, Dest: "/etc/passwd/x"}},
			SetupFailure{Op: OpTmpfs, Dest: "/etc/passwd/x", Phase: PhaseParents, Errno: unix.ENOTDIR}},
		{"dir onto a file",
			[]Mount{{Op: OpDir, Dest: "/etc/passwd"}},
			SetupFailure{Op: OpDir, Dest: "/etc/passwd", Phase: PhaseExisting, Errno: unix.ENOTDIR}},
		{"chmod of a missing path",
			[]Mount{{Op: OpChmod, Dest: "/tmp/missing", Mode: &mode}},
			SetupFailure{Op: OpChmod, Dest: "/tmp/missing", Phase: PhaseOpen, Errno: unix.ENOENT}},
		{"remount-ro of no mount",
			[]Mount{{Op: OpRemountRO, Dest: "/etc"}},
			SetupFailure{Op: OpRemountRO, Dest: "/etc", Phase: PhaseMount, Errno: unix.EINVAL}},
	} {
		for _, engine := range []string{"raw", "init"} {
			if engineForced && engine == "raw" {
				continue
			}
			t.Run(c.name+"/"+engine, func(t *testing.T) {
				t.Setenv("NOOK_ENGINE", engine)
				s := &Spec{Mounts: append([]Mount{
					{Op: OpBind, Source: "/", Dest: "/", ReadOnly: true},
					{Op: OpTmpfs, Dest: "/tmp"},
				}, c.ops...), Args: []string{"true"}, Env: []string{"PATH=/usr/bin:/bin"}}
				p, err := Start(s)
				if err == nil {
					p.Wait()
					t.Fatalf("started; want a set-up failure %+v", c.want)
				}
				var se *StartError
				var sf *SetupFailure
				if !errors.As(err, &se) || !errors.As(err, &sf) {
					t.Fatalf("got %T %v, want a StartError with a SetupFailure", err, err)
				}
				if *sf != c.want {
					t.Errorf("got  %+v\nwant %+v", *sf, c.want)
				}
				if strings.Contains(se.Msg, "Can't") || !strings.Contains(se.Msg, c.want.Dest) {
					t.Errorf("nook's message changed: %q", se.Msg)
				}
			})
		}
	}
}
