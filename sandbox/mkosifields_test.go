package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestMkosiFieldsValidate: the fields added for the mkosi-sandbox face are
// accepted only on the operations they apply to.
func TestMkosiFieldsValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		m    Mount
		ok   bool
	}{
		{"nofollow bind", Mount{Op: OpBind, Source: "/etc/resolv.conf", Dest: "/etc/resolv.conf", NoFollow: true}, true},
		{"nofollow dev-bind", Mount{Op: OpDevBind, Source: "/dev/x", Dest: "/dev/x", NoFollow: true}, true},
		{"nofollow from fd", Mount{Op: OpBind, FromFD: true, FD: 3, Dest: "/x", NoFollow: true}, false},
		{"nofollow tmpfs", Mount{Op: OpTmpfs, Dest: "/x", NoFollow: true}, false},
		{"dest nofollow bind", Mount{Op: OpBind, Source: "/a", Dest: "/x", DestNoFollow: true}, true},
		{"dest nofollow symlink", Mount{Op: OpSymlink, Source: "/a", Dest: "/x", DestNoFollow: true}, false},
		{"replace symlink", Mount{Op: OpSymlink, Source: "/a", Dest: "/x", Replace: true}, true},
		{"replace bind", Mount{Op: OpBind, Source: "/a", Dest: "/x", Replace: true}, false},
		{"index off overlay", Mount{Op: OpOverlay, Lower: []string{"/a"}, Dest: "/x", IndexOff: true}, true},
		{"index off bind", Mount{Op: OpBind, Source: "/a", Dest: "/x", IndexOff: true}, false},
		{"fuse dev", Mount{Op: OpDev, Dest: "/dev", Fuse: true}, true},
		{"fuse tmpfs", Mount{Op: OpTmpfs, Dest: "/dev", Fuse: true}, false},
	} {
		if err := c.m.Validate(); (err == nil) != c.ok {
			t.Errorf("%s: Validate gives %v", c.name, err)
		}
	}
}

// TestDevFuse: OpDev with Fuse gives the host's /dev/fuse, a device that
// works (opening it reaches the fuse driver), and without Fuse there is
// none.
func TestDevFuse(t *testing.T) {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skipf("SKIP LOUDLY: this host has no /dev/fuse (%v): Mount.Fuse not tested", err)
	}
	for _, fuse := range []bool{true, false} {
		s := baseSpec()
		for i := range s.Mounts {
			if s.Mounts[i].Op == OpDev {
				s.Mounts[i].Fuse = fuse
			}
		}
		var r *report
		rawDoesIt(t, func() { r, _ = runReport(t, s, reportOpts{stat: []string{"/dev/fuse", "/dev/null"}}) })
		f := r.Files["/dev/fuse"]
		switch {
		case fuse && (f == nil || f.Type != "char"):
			t.Errorf("Fuse: /dev/fuse is %+v, want the host's device", f)
		case !fuse && f != nil:
			t.Errorf("without Fuse: /dev/fuse is %+v, want none", f)
		}
		if f := r.Files["/dev/null"]; f == nil || f.Type != "char" {
			t.Errorf("Fuse %v: /dev/null is %+v", fuse, f)
		}
	}
}

// TestOverlayIndexOff: an upper directory used with one lower directory
// is used again over another one. Where the kernel keeps an index for it
// (index=on, as real root: inside a user namespace overlayfs has no index),
// that mount fails with ESTALE, and IndexOff mounts it all the same.
func TestOverlayIndexOff(t *testing.T) {
	dir := t.TempDir()
	mk := func(names ...string) {
		for _, n := range names {
			if err := os.Mkdir(filepath.Join(dir, n), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	mk("l1", "l2", "upper", "work", "work2")
	os.WriteFile(filepath.Join(dir, "l1", "one"), []byte("1"), 0o644)
	os.WriteFile(filepath.Join(dir, "l2", "two"), []byte("2"), 0o644)
	os.WriteFile(filepath.Join(dir, "upper", "up"), []byte("u"), 0o644)
	j := func(n string) string { return filepath.Join(dir, n) }
	// First use, with the index on where the kernel keeps one, and a
	// second over l2, which must fail there: the stale state.
	s := baseSpec()
	s.Mounts = append(s.Mounts, Mount{Op: OpBind, Source: dir, Dest: dir})
	first := "overlay-try:" + j("l1") + "|" + j("upper") + "|" + j("work") + "|index=on"
	second := "overlay-try:" + j("l2") + "|" + j("upper") + "|" + j("work2") + "|index=on"
	r, _ := runReport(t, s, reportOpts{do: []string{first, second}})
	if r.Do[first] != "ok" {
		t.Fatalf("first use of the upper: %s", r.Do[first])
	}
	stale := r.Do[second] != "ok"
	if stale && !strings.Contains(r.Do[second], "stale") {
		t.Fatalf("second use with index=on: %s, want ESTALE", r.Do[second])
	}
	if !stale {
		t.Logf("no stale index state here (overlayfs keeps no index in a user namespace): IndexOff is only shown to mount")
	}
	spec := func(indexOff bool) *Spec {
		s := baseSpec()
		s.Mounts = append(s.Mounts, Mount{Op: OpOverlay, Lower: []string{j("l2")}, Upper: j("upper"), Work: j("work2"), Dest: "/tmp/ovl", IndexOff: indexOff})
		return s
	}
	rawDoesIt(t, func() { r, _ = runReport(t, spec(true), reportOpts{stat: []string{"/tmp/ovl/two", "/tmp/ovl/up"}}) })
	if r.Files["/tmp/ovl/two"] == nil || r.Files["/tmp/ovl/up"] == nil {
		t.Errorf("IndexOff overlay over l2: the lower's or the upper's file is missing: %+v", r.Files)
	}
	if m := r.mount("/tmp/ovl"); m == nil || strings.Contains(m.SuperOpts, "index=on") || strings.Contains(m.SuperOpts, "metacopy=on") {
		t.Errorf("IndexOff overlay: %+v", m)
	}
	if def, _ := os.ReadFile("/sys/module/overlay/parameters/index"); stale && strings.TrimSpace(string(def)) == "Y" {
		// The kernel's default is the index on: without IndexOff the
		// mount fails.
		if _, _, err := tryReport(t, spec(false), reportOpts{}); err == nil {
			t.Errorf("the stale upper mounted without IndexOff where the kernel's index is on by default")
		}
	} else {
		// Where the default is off (or in a user namespace) an overlay
		// without IndexOff mounts the stale upper too, and mountinfo
		// names index and metacopy only where they differ from the
		// default: a no-op IndexOff passes every check above.
		t.Skip("SKIP LOUDLY: the kernel's overlay index is off by default here (or overlayfs keeps none in a user namespace): IndexOff is not shown to matter")
	}
}

// TestSharedPropagation: with SharedPropagation every mount the command
// sees is shared (without it none is), on both engines, with and without
// a pid 1 above the command; a mount the command makes in a bound host
// directory stays inside; and where the mounts are locked (a user
// namespace) the command can still neither remount the read-only root
// read-write nor unmount nook's mounts.
func TestSharedPropagation(t *testing.T) {
	for _, e := range bothEngines {
		for _, id := range []Identity{{}, {UserNS: UserNSAlways}} {
			for _, asPID1 := range []bool{false, true} {
				name := fmt.Sprintf("%s/userns-%s/aspid1-%v", e.name, id.UserNS, asPID1)
				t.Run(name, func(t *testing.T) {
					t.Setenv("NOOK_ENGINE", e.env)
					dir := t.TempDir()
					if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
						t.Fatal(err)
					}
					for _, shared := range []bool{true, false} {
						s := baseSpec()
						s.Identity = id
						s.AsPID1 = asPID1
						s.SharedPropagation = shared
						s.Mounts = append(s.Mounts, Mount{Op: OpBind, Source: dir, Dest: "/tmp/bound"})
						do := []string{"mount-tmpfs:/tmp/bound/sub", "mount-tmpfs:/tmp/mine", "remount-rw:/", "umount:/tmp", "umount:/tmp/bound"}
						var r *report
						var st Status
						rawDoesIt(t, func() { r, st = runReport(t, s, reportOpts{do: do}) })
						if st.ExitCode() != 0 {
							t.Fatalf("shared %v: status %+v", shared, st)
						}
						for _, m := range r.Mounts {
							if has := strings.Contains(m.Tags, "shared:"); has != shared {
								t.Errorf("shared %v: mount %s has tags %q", shared, m.Point, m.Tags)
							}
						}
						for _, a := range do[:2] {
							if r.Do[a] != "ok" {
								t.Errorf("shared %v: %s: %s", shared, a, r.Do[a])
							}
						}
						var a, b unix.Stat_t
						if unix.Stat(dir, &a) == nil && unix.Stat(filepath.Join(dir, "sub"), &b) == nil && a.Dev != b.Dev {
							t.Errorf("shared %v: the command's tmpfs on /tmp/bound/sub reached the host's %s/sub", shared, dir)
							unix.Unmount(filepath.Join(dir, "sub"), unix.MNT_DETACH)
						}
						if id.UserNS != UserNSAlways && isRoot() {
							continue // real root without a user namespace: nothing is locked
						}
						for _, a := range do[2:] {
							if r.Do[a] == "ok" {
								t.Errorf("shared %v: %s worked: the command undid nook's mounts", shared, a)
							}
						}
					}
				})
			}
		}
	}
}

// TestBindNoFollow: a NoFollow bind of a symlink shows the link itself,
// dangling or not (mkosi binds /etc/resolv.conf so); without NoFollow a
// dangling link is a missing source, and a good one shows its target's
// file. Both engines.
func TestBindNoFollow(t *testing.T) {
	for _, e := range bothEngines {
		t.Run(e.name, func(t *testing.T) {
			t.Setenv("NOOK_ENGINE", e.env)
			dir := t.TempDir()
			dangling, good := filepath.Join(dir, "dangling"), filepath.Join(dir, "good")
			if err := os.Symlink("/nonexistent/nook-test", dangling); err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(dir, "file"), []byte("content"), 0o644)
			if err := os.Symlink("file", good); err != nil {
				t.Fatal(err)
			}
			s := baseSpec()
			s.Mounts = append(s.Mounts,
				// Not onto /etc/resolv.conf: where the host's is a symlink
				// (Debian's cloud images: systemd-resolved's stub), a bind
				// without DestNoFollow mounts on its target (CI's VM stage).
				Mount{Op: OpBind, Source: dangling, Dest: "/tmp/dangling", NoFollow: true, ReadOnly: true},
				Mount{Op: OpBind, Source: good, Dest: "/tmp/good", NoFollow: true},
				Mount{Op: OpBind, Source: good, Dest: "/tmp/followed"},
				Mount{Op: OpBind, Source: filepath.Join(dir, "missing"), Dest: "/tmp/missing", NoFollow: true, Try: true},
				// mkosi's /etc/resolv.conf: a link bound onto a link.
				Mount{Op: OpSymlink, Source: "../run/stub.conf", Dest: "/tmp/resolv.conf"},
				Mount{Op: OpBind, Source: dangling, Dest: "/tmp/resolv.conf", NoFollow: true, DestNoFollow: true, ReadOnly: true})
			var r *report
			var st Status
			rawDoesIt(t, func() {
				r, st = runReport(t, s, reportOpts{stat: []string{"/tmp/dangling", "/tmp/good", "/tmp/followed", "/tmp/missing", "/tmp/resolv.conf", "/run/stub.conf"}})
			})
			if st.ExitCode() != 0 {
				t.Fatalf("status %+v", st)
			}
			if f := r.Files["/tmp/dangling"]; f == nil || f.Type != "symlink" || f.Target != "/nonexistent/nook-test" {
				t.Errorf("dangling link bound without following: %+v", f)
			}
			if f := r.Files["/tmp/good"]; f == nil || f.Type != "symlink" || f.Target != "file" {
				t.Errorf("link bound without following: %+v", f)
			}
			if f := r.Files["/tmp/followed"]; f == nil || f.Type != "file" {
				t.Errorf("link bound as usual: %+v, want its target's file", f)
			}
			if f := r.Files["/tmp/resolv.conf"]; f == nil || f.Type != "symlink" || f.Target != "/nonexistent/nook-test" {
				t.Errorf("a link bound without following onto a link, not followed either: %+v", f)
			}
			if f := r.Files["/tmp/missing"]; f != nil {
				t.Errorf("a missing source with Try: %+v", f)
			}
			s = baseSpec()
			s.Mounts = append(s.Mounts, Mount{Op: OpBind, Source: dangling, Dest: "/etc/resolv.conf"})
			if _, _, err := tryReport(t, s, reportOpts{}); err == nil {
				t.Errorf("a dangling link bound as usual started")
			}
		})
	}
}

// rawDoesIt fails t when the raw engine left a start made by run to the Go
// init, unless the suite forces the Go init: the feature under test must
// be the raw engine's own.
func rawDoesIt(t *testing.T, run func()) {
	t.Helper()
	before := initFallbacks.Load()
	run()
	if os.Getenv("NOOK_ENGINE") != "init" && initFallbacks.Load() != before {
		t.Errorf("the raw engine left this to the Go init (NOOK_TIMING=1 says why)")
	}
}

// TestSymlinkReplace: with Replace a symlink covers a file and a symlink
// to another target in an /etc bound read-only from the host (mkosi's
// --symlink /buildroot/etc/passwd /etc/passwd), leaves a symlink with the
// same target alone, and still refuses a directory; the host's files stay
// as they were. Without Replace the file is in the way. Both engines.
func TestSymlinkReplace(t *testing.T) {
	for _, e := range bothEngines {
		t.Run(e.name, func(t *testing.T) {
			t.Setenv("NOOK_ENGINE", e.env)
			etc := t.TempDir()
			os.WriteFile(filepath.Join(etc, "passwd"), []byte("root:x:0:0::/root:/bin/sh\n"), 0o644)
			os.Symlink("elsewhere", filepath.Join(etc, "other"))
			os.Symlink("/buildroot/etc/same", filepath.Join(etc, "same"))
			os.Mkdir(filepath.Join(etc, "dir"), 0o755)
			spec := func(replace bool, links ...string) *Spec {
				s := baseSpec()
				s.Mounts = append(s.Mounts, Mount{Op: OpBind, Source: etc, Dest: "/etc", ReadOnly: true})
				for _, l := range links {
					s.Mounts = append(s.Mounts, Mount{Op: OpSymlink, Source: "/buildroot/etc/" + l, Dest: "/etc/" + l, Replace: replace})
				}
				return s
			}
			var r *report
			var st Status
			rawDoesIt(t, func() {
				r, st = runReport(t, spec(true, "passwd", "other", "same"), reportOpts{
					stat: []string{"/etc/passwd", "/etc/other", "/etc/same"}})
			})
			if st.ExitCode() != 0 {
				t.Fatalf("status %+v", st)
			}
			for _, l := range []string{"passwd", "other", "same"} {
				if f := r.Files["/etc/"+l]; f == nil || f.Type != "symlink" || f.Target != "/buildroot/etc/"+l {
					t.Errorf("/etc/%s is %+v, want a symlink to /buildroot/etc/%s", l, f, l)
				}
			}
			if r.mount("/etc/passwd") == nil || r.mount("/etc/other") == nil {
				t.Errorf("no mounts over /etc/passwd and /etc/other: %+v", r.Mounts)
			}
			if r.mount("/etc/same") != nil {
				t.Errorf("a mount over /etc/same, whose symlink already had the target")
			}
			if b, _ := os.ReadFile(filepath.Join(etc, "passwd")); string(b) != "root:x:0:0::/root:/bin/sh\n" {
				t.Errorf("the host's passwd now holds %q", b)
			}
			if l, _ := os.Readlink(filepath.Join(etc, "other")); l != "elsewhere" {
				t.Errorf("the host's symlink now points to %q", l)
			}
			// Where nothing is there yet in the read-only /etc, the Go
			// init makes room (a splice), Replace or not.
			r, _ = runReport(t, spec(true, "new"), reportOpts{stat: []string{"/etc/new"}})
			if f := r.Files["/etc/new"]; f == nil || f.Type != "symlink" || f.Target != "/buildroot/etc/new" {
				t.Errorf("/etc/new is %+v", f)
			}
			if _, _, err := tryReport(t, spec(true, "dir"), reportOpts{}); err == nil {
				t.Errorf("a symlink replaced a directory")
			}
			// Where nothing is there in nook's own root, the symlink is
			// made in place: no mount (the raw engine went on into the
			// replacing mount after making it).
			fresh := baseSpec()
			fresh.Mounts = append(fresh.Mounts, Mount{Op: OpSymlink, Source: "usr/bin", Dest: "/tmp/bin2", Replace: true})
			rawDoesIt(t, func() {
				r, st = runReport(t, fresh, reportOpts{stat: []string{"/tmp/bin2"}})
			})
			if f := r.Files["/tmp/bin2"]; st.ExitCode() != 0 || f == nil || f.Type != "symlink" || f.Target != "usr/bin" || r.mount("/tmp/bin2") != nil {
				t.Errorf("/tmp/bin2 is %+v, mount %+v; want a plain symlink to usr/bin", f, r.mount("/tmp/bin2"))
			}
			if _, _, err := tryReport(t, spec(false, "passwd"), reportOpts{}); err == nil {
				t.Errorf("a symlink over a file without Replace started")
			}
		})
	}
}

// TestBindDestNoFollow: with DestNoFollow a file bound onto a symlink is
// mounted on the link itself (mkosi-sandbox's rule), so the link's target
// is not covered; a directory bound so follows the link as
// usual, and without DestNoFollow a file does too. Both engines.
func TestBindDestNoFollow(t *testing.T) {
	for _, e := range bothEngines {
		t.Run(e.name, func(t *testing.T) {
			t.Setenv("NOOK_ENGINE", e.env)
			dir := t.TempDir()
			file := filepath.Join(dir, "file")
			os.WriteFile(file, []byte("bound"), 0o644)
			sub := filepath.Join(dir, "sub")
			os.Mkdir(sub, 0o755)
			os.WriteFile(filepath.Join(sub, "inner"), []byte("i"), 0o644)
			for _, noFollow := range []bool{true, false} {
				s := baseSpec()
				s.Mounts = append(s.Mounts,
					Mount{Op: OpWrite, Data: []byte("target"), Dest: "/tmp/a-target"},
					Mount{Op: OpSymlink, Source: "a-target", Dest: "/tmp/link"},
					Mount{Op: OpBind, Source: file, Dest: "/tmp/link", DestNoFollow: noFollow},
					Mount{Op: OpSymlink, Source: "a-dirtarget", Dest: "/tmp/dirlink"},
					Mount{Op: OpDir, Dest: "/tmp/a-dirtarget"},
					Mount{Op: OpBind, Source: sub, Dest: "/tmp/dirlink", DestNoFollow: noFollow},
					Mount{Op: OpBind, Source: file, Dest: "/tmp/plain", DestNoFollow: noFollow},
					Mount{Op: OpWrite, Data: []byte("there"), Dest: "/tmp/b-file"},
					Mount{Op: OpBind, Source: file, Dest: "/tmp/b-file", DestNoFollow: noFollow})
				var r *report
				var st Status
				rawDoesIt(t, func() {
					r, st = runReport(t, s, reportOpts{stat: []string{"/tmp/link", "/tmp/a-target", "/tmp/a-dirtarget/inner", "/tmp/plain", "/tmp/b-file"}})
				})
				if st.ExitCode() != 0 {
					t.Fatalf("DestNoFollow %v: status %+v", noFollow, st)
				}
				if f := r.Files["/tmp/link"]; noFollow && (f == nil || f.Type != "file" || f.Content != "bound") {
					t.Errorf("DestNoFollow: /tmp/link is %+v, want the bound file", f)
				} else if !noFollow && (f == nil || f.Type != "symlink") {
					t.Errorf("without DestNoFollow: /tmp/link is %+v, want the symlink", f)
				}
				want := map[bool]string{true: "target", false: "bound"}[noFollow]
				if f := r.Files["/tmp/a-target"]; f == nil || f.Content != want {
					t.Errorf("DestNoFollow %v: the link's target /tmp/a-target is %+v, want %q in it", noFollow, f, want)
				}
				if f := r.Files["/tmp/a-dirtarget/inner"]; f == nil {
					t.Errorf("DestNoFollow %v: a directory bound onto a link did not follow it", noFollow)
				}
				for _, p := range []string{"/tmp/plain", "/tmp/b-file"} {
					if f := r.Files[p]; f == nil || f.Content != "bound" {
						t.Errorf("DestNoFollow %v: %s is %+v", noFollow, p, f)
					}
				}
				// One mount each, on the link or on what it points to.
				n := map[string]int{}
				for _, m := range r.Mounts {
					n[m.Point]++
				}
				onLink := map[bool]int{true: 1, false: 0}[noFollow]
				if n["/tmp/link"] != onLink || n["/tmp/a-target"] != 1-onLink || n["/tmp/plain"] != 1 || n["/tmp/b-file"] != 1 {
					t.Errorf("DestNoFollow %v: mounts %v", noFollow, n)
				}
			}
		})
	}
}

// TestBindNoFollowInRoot: NoFollow with a source inside the new root
// (mkosi-sandbox's +SRC with --bind-nofollow) binds the root's symlink as
// itself. The raw engine leaves sources in the root to the Go init.
func TestBindNoFollowInRoot(t *testing.T) {
	for _, e := range bothEngines {
		t.Run(e.name, func(t *testing.T) {
			t.Setenv("NOOK_ENGINE", e.env)
			s := baseSpec()
			s.Mounts = append(s.Mounts,
				Mount{Op: OpSymlink, Source: "../nowhere", Dest: "/tmp/a-link"},
				Mount{Op: OpBind, Source: "/tmp/a-link", SourceInRoot: true, NoFollow: true, Dest: "/tmp/copy"})
			r, st := runReport(t, s, reportOpts{stat: []string{"/tmp/copy"}})
			if st.ExitCode() != 0 {
				t.Fatalf("status %+v", st)
			}
			if f := r.Files["/tmp/copy"]; f == nil || f.Type != "symlink" || f.Target != "../nowhere" {
				t.Errorf("/tmp/copy is %+v, want the root's link", f)
			}
		})
	}
}
