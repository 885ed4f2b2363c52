package sandbox

import "testing"

// TestOverlayUpperMode: Mode on an overlay with a throwaway upper is the
// mode of that upper, which the overlay's root shows (sticky bit too);
// without it the root is 0755. Both engines. (The mkosi-sandbox face used
// a chmod after the overlay instead, which walked to the destination a
// second time, through the overlay's own links.)
func TestOverlayUpperMode(t *testing.T) {
	low := t.TempDir()
	for _, e := range bothEngines {
		t.Run(e.name, func(t *testing.T) {
			t.Setenv("NOOK_ENGINE", e.env)
			s := baseSpec()
			s.Mounts = append(s.Mounts,
				Mount{Op: OpOverlay, Lower: []string{low}, TmpfsUpper: true, Dest: "/tmp/sticky", Mode: u32(0o1777)},
				Mount{Op: OpOverlay, Lower: []string{low}, TmpfsUpper: true, Dest: "/tmp/plain"})
			var r *report
			rawDoesIt(t, func() { r, _ = runReport(t, s, reportOpts{stat: []string{"/tmp/sticky", "/tmp/plain"}}) })
			if f := r.Files["/tmp/sticky"]; f == nil || f.Mode != 0o1777 {
				t.Errorf("/tmp/sticky is %+v, want mode 1777", f)
			}
			if f := r.Files["/tmp/plain"]; f == nil || f.Mode != 0o755 {
				t.Errorf("/tmp/plain is %+v, want mode 755", f)
			}
		})
	}
	if err := (&Mount{Op: OpOverlay, Lower: []string{"/a"}, Dest: "/x", Mode: u32(0o755)}).Validate(); err == nil {
		t.Error("a mode on an overlay without a throwaway upper was accepted")
	}
}
