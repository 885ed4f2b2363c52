package sandbox

import "testing"

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
