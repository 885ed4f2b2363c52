package sandbox

import (
	"encoding/binary"
	"reflect"
	"testing"

	"golang.org/x/sys/unix"
)

func TestDecodeFilter(t *testing.T) {
	raw := make([]byte, 16)
	binary.NativeEndian.PutUint16(raw[0:], 0x20)
	raw[2], raw[3] = 1, 2
	binary.NativeEndian.PutUint32(raw[4:], 4)
	binary.NativeEndian.PutUint16(raw[8:], 0x06)
	binary.NativeEndian.PutUint32(raw[12:], 0x7fff0000)
	got, err := DecodeFilter(raw)
	want := []unix.SockFilter{{Code: 0x20, Jt: 1, Jf: 2, K: 4}, {Code: 0x06, K: 0x7fff0000}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, %v", got, err)
	}
	for _, bad := range [][]byte{nil, make([]byte, 7), make([]byte, 9)} {
		if _, err := DecodeFilter(bad); err == nil {
			t.Errorf("%d bytes accepted", len(bad))
		}
	}
}

func TestBwrapModes(t *testing.T) {
	m := func(v uint32) *uint32 { return &v }
	nook := &tree{}
	bw := &tree{bwrapModes: true}
	cases := []struct {
		t    *tree
		op   Mount
		dir  string
		want uint32 // parent mode (0: nook's default for the name)
	}{
		{bw, Mount{Op: OpDir, Dest: "/a/tmp/b"}, "/a/tmp", 0o755},
		{bw, Mount{Op: OpBind, Source: "/x", Dest: "/a/b"}, "/a", 0o700},
		{bw, Mount{Op: OpSymlink, Source: "x", Dest: "/a/b"}, "/a", 0o700},
		{bw, Mount{Op: OpFile, AsBind: true, Dest: "/a/b", Mode: m(0o600)}, "/a", 0o700},
		{bw, Mount{Op: OpDir, Dest: "/a/b", Mode: m(0o750)}, "/a", 0o750},
		{bw, Mount{Op: OpDir, Dest: "/a/b", Mode: m(0o700)}, "/a", 0o700},
		{nook, Mount{Op: OpDir, Dest: "/a/tmp/b"}, "/a/tmp", 0o1777},
		{nook, Mount{Op: OpBind, Source: "/x", Dest: "/a/b"}, "/a", 0o755},
	}
	for _, c := range cases {
		c.t.parentMode = c.t.bwrapParentMode(c.op)
		if got := c.t.parentDirMode(c.dir); got != c.want {
			t.Errorf("bwrap=%v %s %s: parent %s mode %o, want %o", c.t.bwrapModes, c.op.Op, c.op.Dest, c.dir, got, c.want)
		}
	}
	if bw.dirMode("/tmp") != 0o755 || nook.dirMode("/tmp") != 0o1777 || bw.shmMode() != 0o755 || nook.shmMode() != 0o1777 {
		t.Errorf("target modes: bwrap %o %o, nook %o %o", bw.dirMode("/tmp"), bw.shmMode(), nook.dirMode("/tmp"), nook.shmMode())
	}
}

func TestUnderInit(t *testing.T) {
	two := 2
	for _, c := range []struct {
		s    Spec
		want bool
	}{
		{Spec{}, false},
		{Spec{Namespaces: Namespaces{PID: true}}, true},
		{Spec{Namespaces: Namespaces{PID: true}, AsPID1: true}, false},
		{Spec{LockFiles: []string{"/x"}}, true},
		{Spec{KeepInit: true}, true},
		{Spec{DisableUserNS: true}, true},
		{Spec{UserNS2: &two}, true},
	} {
		if got := c.s.underInit(); got != c.want {
			t.Errorf("%+v: %v", c.s, got)
		}
	}
}

func TestShellArgv(t *testing.T) {
	if got := shellArgv("/tmp/s", []string{"s", "a", "b"}); !reflect.DeepEqual(got, []string{"/bin/sh", "/tmp/s", "a", "b"}) {
		t.Errorf("%q", got)
	}
}
