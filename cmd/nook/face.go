package main

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/nook-project/nook/internal/face/bwrap"
	"github.com/nook-project/nook/internal/face/mkosi"
	"github.com/nook-project/nook/internal/face/virtnook"
)

// face is which command line answers: nook's own, bwrap's, schroot's,
// mkosi-sandbox's or autopkgtest's virtualisation server's.
type face int

const (
	faceNative face = iota
	faceBwrap
	faceSchroot
	faceMkosi
	faceVirtNook
)

// faceFor chooses the face from the name nook was called by (argv0), the
// name of the file it runs from (exe, read only when the name says
// nothing) and the first argument.
//
// A name that is a face's decides: "bwrap", "mkosi-sandbox",
// "autopkgtest-virt-nook", "schroot" or a name containing
// "unschroot", and "nook" (nook's own command line, whatever follows).
// Any other name is what a re-execution through /proc/self/exe gives
// (execve(2) leaves argv[0] to the caller; bwrap's users pass
// "/proc/self/exe" itself, base name "exe") or a renamed copy. The file's
// own name then decides when it is a face's (nook installed as a copy or
// hard link named bwrap: /proc/self/exe resolves to that file, while a
// symlink resolves to nook), and otherwise the first argument: one of
// bwrap's options, or "--", means bwrap's command line, which nook's own
// never starts with. A sandbox started by nook as bwrap that runs
// `/proc/self/exe --unshare-all --bind / / CMD` so gets bwrap again.
//
// None of this is a security boundary: whoever can run the binary can
// call it by any name with any arguments. It only must not surprise.
func faceFor(argv0 string, args []string, exe func() string) face {
	if f, ok := faceByName(filepath.Base(argv0)); ok {
		return f
	}
	if f, ok := faceByName(filepath.Base(exe())); ok && f != faceNative {
		return f
	}
	if mkosiOnly(args) {
		return faceMkosi
	}
	if len(args) > 0 && (args[0] == "--" || bwrap.IsOption(args[0])) {
		return faceBwrap
	}
	return faceNative
}

// mkosiOnly reports whether args start with mkosi-sandbox's options and
// one of them is not bwrap's (--write, --same-dir, --become-root,
// --suppress-chown, an overlay option, ...; --dir is both's): a sandbox
// started by nook as mkosi-sandbox that runs `/proc/self/exe --ro-bind / /
// --same-dir CMD` gets mkosi-sandbox again. Options both share (--ro-bind
// / / true) still mean bwrap, as before this face existed. -h, --help and
// --version decide nothing: `/proc/self/exe -h` is nook's own usage, as
// before, and what follows them is never read.
func mkosiOnly(args []string) bool {
	for i := 0; i < len(args) && mkosi.IsOption(args[i]); {
		switch args[i] {
		case "-h", "--help", "--version":
			return false
		}
		if !bwrap.IsOption(args[i]) {
			return true
		}
		i += 1 + mkosi.Nargs(args[i])
	}
	return false
}

// faceByName is the face a name belongs to, if any.
func faceByName(name string) (face, bool) {
	switch {
	case name == "bwrap":
		return faceBwrap, true
	case name == "mkosi-sandbox":
		return faceMkosi, true
	case name == virtnook.Name:
		return faceVirtNook, true
	case name == "schroot" || strings.Contains(name, "unschroot"):
		return faceSchroot, true
	case name == "nook" || strings.HasPrefix(name, "nook-") || strings.HasPrefix(name, "nook."):
		return faceNative, true
	}
	return faceNative, false
}

// executable is the path of the file nook runs from ("" when unknown).
func executable() string {
	p, err := os.Executable()
	if err != nil {
		return ""
	}
	return p
}
