package sandbox

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

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
			SetupFailure{Op: OpChmod, Dest: "/tmp/missing", Mode: mode, Phase: PhaseOpen, Errno: unix.ENOENT}},
		{"chmod on a read-only bind",
			[]Mount{{Op: OpChmod, Dest: "/etc/passwd", Mode: &mode}},
			SetupFailure{Op: OpChmod, Dest: "/etc/passwd", Mode: mode, Phase: PhaseChmod, Errno: unix.EROFS}},
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
					t.Errorf("got  %#v\nwant %#v", *sf, c.want)
				}
				if strings.Contains(se.Msg, "Can't") || !strings.Contains(se.Msg, c.want.Dest) {
					t.Errorf("nook's message changed: %q", se.Msg)
				}
				if prefix := string(c.want.Op) + " " + c.want.Dest + ":"; strings.HasPrefix(strings.TrimPrefix(se.Msg, prefix+" "), prefix) {
					t.Errorf("nook's message names the operation twice: %q", se.Msg)
				}
			})
		}
	}
}

// TestSetupFailureLongSymlinkTarget: a symlink in the way whose target is as
// long as the kernel allows comes back whole from either engine, also when
// the raw engine's error pipe holds only one page (a user over
// fs.pipe-user-pages-soft gets such pipes): the raw child writes the target
// after its error record, so the parent must read it before it waits for
// the child, which is blocked until the pipe is read.
func TestSetupFailureLongSymlinkTarget(t *testing.T) {
	target := "/" + strings.Repeat("t", 4094)
	for _, engine := range []string{"raw", "init"} {
		if engineForced && engine == "raw" {
			continue
		}
		t.Run(engine, func(t *testing.T) {
			t.Setenv("NOOK_ENGINE", engine)
			errPipeHook = func(fd int) {
				if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETPIPE_SZ, os.Getpagesize()); err != nil {
					t.Errorf("shrink the error pipe: %v", err)
				}
			}
			defer func() { errPipeHook = nil }()
			s := &Spec{Mounts: []Mount{
				{Op: OpBind, Source: "/", Dest: "/", ReadOnly: true},
				{Op: OpTmpfs, Dest: "/tmp"},
				{Op: OpSymlink, Source: target, Dest: "/tmp/l"},
				{Op: OpSymlink, Source: "b", Dest: "/tmp/l"},
			}, Args: []string{"true"}, Env: []string{"PATH=/usr/bin:/bin"}}
			done := make(chan error, 1)
			go func() {
				p, err := Start(s)
				if err == nil {
					p.Wait()
				}
				done <- err
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				// The child, blocked writing to the pipe, dies of
				// SIGPIPE when this test binary exits.
				t.Fatal("Start hangs: the child blocks writing the symlink's target while nook waits for it")
			}
			var sf *SetupFailure
			if !errors.As(err, &sf) {
				t.Fatalf("got %T %v, want a SetupFailure", err, err)
			}
			if sf.Phase != PhaseExisting || sf.NotSymlink || sf.Existing != target {
				t.Errorf("got phase %v, not a symlink %v, a target of %d bytes; want the symlink's %d-byte target",
					sf.Phase, sf.NotSymlink, len(sf.Existing), len(target))
			}
		})
	}
}

// TestSetupFailureExistingBytes: the target of a symlink in the way comes
// back byte for byte from either engine, UTF-8 or not (bwrap prints it as it
// is). The symlink comes from the host through a bind, so only the report
// carries the target.
func TestSetupFailureExistingBytes(t *testing.T) {
	dir := t.TempDir()
	const target = "x\xffy"
	if err := os.Symlink(target, dir+"/l"); err != nil {
		t.Fatal(err)
	}
	for _, engine := range []string{"raw", "init"} {
		if engineForced && engine == "raw" {
			continue
		}
		t.Run(engine, func(t *testing.T) {
			t.Setenv("NOOK_ENGINE", engine)
			s := &Spec{Mounts: []Mount{
				{Op: OpBind, Source: "/", Dest: "/", ReadOnly: true},
				{Op: OpTmpfs, Dest: "/tmp"},
				{Op: OpBind, Source: dir, Dest: "/tmp/h", ReadOnly: true},
				{Op: OpSymlink, Source: "b", Dest: "/tmp/h/l"},
			}, Args: []string{"true"}, Env: []string{"PATH=/usr/bin:/bin"}}
			p, err := Start(s)
			if err == nil {
				p.Wait()
				t.Fatal("started; want a symlink in the way")
			}
			var sf *SetupFailure
			if !errors.As(err, &sf) {
				t.Fatalf("got %T %v, want a SetupFailure", err, err)
			}
			if sf.Phase != PhaseExisting || sf.NotSymlink || sf.Existing != target {
				t.Errorf("got phase %v, not a symlink %v, target %q; want the target %q", sf.Phase, sf.NotSymlink, sf.Existing, target)
			}
		})
	}
}

// TestSetupFailureReadlinkErrno: a symlink in the way that cannot be read
// keeps readlink's errno, apart from one that is no symlink (EINVAL), in
// both engines' report and nook's own words.
func TestSetupFailureReadlinkErrno(t *testing.T) {
	m := Mount{Op: OpSymlink, Source: "t", Dest: "/l"}
	for _, c := range []struct {
		rerr       error
		notSymlink bool
		errno      unix.Errno
	}{
		{unix.EINVAL, true, 0},
		{unix.EACCES, false, unix.EACCES},
	} {
		// The Go init: ops.go's phaseError of a failed readlink.
		pe := symlinkInTheWay("/l", "", c.rerr)
		f := setupFailureOf(m, pe)
		if f == nil || f.NotSymlink != c.notSymlink || f.ReadlinkErrno != c.errno || f.Errno != unix.EEXIST {
			t.Errorf("Go init, readlink %v: got %+v", c.rerr, f)
		}
		// The raw engine: the error record of its readlink instruction.
		p := &rawProg{steps: []rawStep{{mount: &m}}, insns: []rawInsn{{kind: rkReadlinkEq, phase: uint8(PhaseExisting)}}}
		f = p.setupFailure([5]uint32{recError, 0, uint32(c.rerr.(unix.Errno)), 0, pcFlag}, nil)
		if f == nil || f.NotSymlink != c.notSymlink || f.ReadlinkErrno != c.errno || f.Errno != unix.EEXIST {
			t.Errorf("raw engine, readlink %v: got %+v", c.rerr, f)
		}
	}
	f := &SetupFailure{Op: OpSymlink, Dest: "/l", Phase: PhaseExisting, Errno: unix.EEXIST, ReadlinkErrno: unix.EACCES}
	if msg := f.Error(); !strings.Contains(msg, "/l") || !strings.Contains(msg, unix.EACCES.Error()) {
		t.Errorf("nook's words %q name neither the path nor readlink's errno", msg)
	}
}
