package session

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/nook-project/nook/sandbox"
	"github.com/nook-project/nook/unpack/proto"
	"golang.org/x/sys/unix"
)

// The unpack helper is a program of its own, nook-unpack (cmd/nook-unpack,
// package unpack), not a verb of nook's: the decompressors, tar and sha256
// it needs cost every nook start about 1.5 ms of package initialisation on
// the project's VM, and most commands never unpack. nook runs it inside the
// helper sandbox (helperSpec), which shows the host root read-only at /, so
// a host path names it there too.

// UnpackFlag is the helper's first argument, with the protocol version: a
// helper of another version refuses the call instead of misreading it.
const UnpackFlag = proto.Flag

const unpackArg0 = "nook-unpack"

// UnpackSelf, as UnpackHelper, runs this very executable as the helper: for
// a program that links package unpack and calls unpack.Dispatch first.
const UnpackSelf = "/proc/self/exe"

// UnpackHelper is the unpack helper's path. Empty (the default) looks in
// order at $NOOK_UNPACK, nook-unpack beside the running executable, in
// ../libexec/nook from there if that is a bin directory (where make
// install puts it under any PREFIX) and no one else can change it
// (trustedHelper), on PATH, and in /usr/libexec/nook and /usr/lib/nook.
var UnpackHelper string

// executable is os.Executable, replaced by a test.
var executable = os.Executable

// trustTop is the directory at which trustedHelper stops looking up, "/"
// but in a test, whose temporary directories are under a world-writable
// /tmp.
var trustTop = "/"

// unpackHelper finds the helper as UnpackHelper says, as an absolute path
// with no symlinks, or says how to install it.
func unpackHelper() (string, error) {
	if UnpackHelper == UnpackSelf {
		return UnpackSelf, nil
	}
	if UnpackHelper != "" {
		return checkHelper(UnpackHelper)
	}
	if p := os.Getenv("NOOK_UNPACK"); p != "" {
		path, err := checkHelper(p)
		if err != nil {
			return "", fmt.Errorf("NOOK_UNPACK: %w", err)
		}
		return path, nil
	}
	var looked, untrusted []string
	if exe, err := executable(); err == nil {
		dir := filepath.Dir(exe)
		looked = append(looked, dir)
		if p, err := checkHelper(filepath.Join(dir, unpackArg0)); err == nil {
			return p, nil
		}
		// ../libexec/nook is outside nook's own directory: only for an
		// installed layout (PREFIX/bin), and only a helper no one but
		// root and this user can have put there. Otherwise root running
		// /var/tmp/x/bin/nook would run what any user put in
		// /var/tmp/x/libexec/nook.
		if filepath.Base(dir) == "bin" {
			libexec := filepath.Join(filepath.Dir(dir), "libexec", "nook")
			looked = append(looked, libexec)
			if p, err := checkHelper(filepath.Join(libexec, unpackArg0)); err == nil {
				if err := trustedHelper(p); err != nil {
					untrusted = append(untrusted, err.Error())
				} else {
					return p, nil
				}
			}
		}
	}
	looked = append(looked, "$PATH")
	if p, err := exec.LookPath(unpackArg0); err == nil {
		if p, err := checkHelper(p); err == nil {
			return p, nil
		}
	}
	for _, dir := range []string{"/usr/libexec/nook", "/usr/lib/nook"} {
		looked = append(looked, dir)
		if p, err := checkHelper(filepath.Join(dir, unpackArg0)); err == nil {
			return p, nil
		}
	}
	skipped := ""
	if len(untrusted) > 0 {
		skipped = "; skipped " + strings.Join(untrusted, "; ")
	}
	return "", fmt.Errorf("%w: unpacking a chroot tarball needs nook's helper %s, which is not installed (looked in %s%s): "+
		"build it beside nook (go build -o DIR ./cmd/nook-unpack, or go install github.com/nook-project/nook/cmd/...) or name it in NOOK_UNPACK",
		ErrNoUnpackHelper, unpackArg0, strings.Join(looked, ", "), skipped)
}

// ErrUntrustedHelper is wrapped by trustedHelper's error: a helper that
// someone other than root and the effective user could have replaced.
var ErrUntrustedHelper = errors.New("unpack helper others could change")

// trustedHelper checks that path (absolute, without symlinks) and every
// directory above it, up to /, are owned by root or the effective user
// and writable by neither group nor others, so that no one else can have
// put the file there or can swap it. For root, as the gap it closes is
// another user's program run as root. For an ordinary user too: the
// helper runs as that user, with their files, so a helper another user
// planted would be the same kind of hole one level down; and a layout
// make install made (root's, or the user's own PREFIX) passes. A sticky
// world-writable directory (/tmp) fails: anyone may create the missing
// parts of a path there.
func trustedHelper(path string) error {
	euid := uint32(os.Geteuid())
	for p := path; ; p = filepath.Dir(p) {
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return fmt.Errorf("check unpack helper %s: %w", p, err)
		}
		if st.Uid != 0 && st.Uid != euid {
			return fmt.Errorf("%w: %s (%s is owned by uid %d)", ErrUntrustedHelper, path, p, st.Uid)
		}
		if st.Mode&0o022 != 0 {
			return fmt.Errorf("%w: %s (%s is writable by group or others, mode %#o)", ErrUntrustedHelper, path, p, st.Mode&0o7777)
		}
		if p == trustTop || p == filepath.Dir(p) {
			return nil
		}
	}
}

// ErrNoUnpackHelper is wrapped by the error for an unpack helper that is
// not installed where nook looks (and not named by NOOK_UNPACK).
var ErrNoUnpackHelper = errors.New("no unpack helper")

// checkHelper resolves path to an absolute one without symlinks and checks
// that it is an executable regular file.
func checkHelper(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err == nil {
		abs, err = filepath.EvalSymlinks(abs)
	}
	if err != nil {
		return "", fmt.Errorf("unpack helper %s: %w", path, err)
	}
	var st unix.Stat_t
	if err := unix.Stat(abs, &st); err != nil {
		return "", fmt.Errorf("unpack helper %s: %w", abs, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return "", fmt.Errorf("unpack helper %s is not a regular file", abs)
	}
	if err := unix.Access(abs, unix.X_OK); err != nil {
		return "", fmt.Errorf("unpack helper %s is not executable: %w", abs, err)
	}
	return abs, nil
}

// ErrBadTarball is wrapped by the error for a chroot tarball the unpack
// helper cannot read to its end: empty, truncated, not a tar archive.
var ErrBadTarball = errors.New("not a usable chroot tarball")

// checkTarball has the unpack helper read path to its end without
// extracting it (unpack.CheckArg). In a sandbox as the unpack itself is
// (helperSpec: the host read-only, its mounts locked, a user namespace of
// its own), with no capability and no network: the decompressors parse an
// untrusted file.
func checkTarball(path string) error {
	helper, err := unpackHelper()
	if errors.Is(err, ErrNoUnpackHelper) {
		// Nothing to check with; a definition needs no helper, and
		// session begin says how to install it.
		return nil
	}
	if err != nil {
		// A helper named (NOOK_UNPACK) but unusable: say so now.
		return fmt.Errorf("check tarball %s: %w", path, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open tarball: %w", err)
	}
	defer f.Close()
	id, err := sandboxIdentity(IDSingle, 0, 0)
	if err != nil {
		return err
	}
	spec := helperSpec(id, "")
	spec.Args, spec.Argv0 = []string{helper, UnpackFlag, "--check", XzTool}, unpackArg0
	spec.Namespaces.Net = true
	spec.Caps.Drop = []string{"ALL"}
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("check tarball %s: %w", path, err)
	}
	spec.Stdin, spec.Stdout, spec.Stderr = f, w, w
	var out strings.Builder
	copied := make(chan struct{})
	go func() { io.Copy(&out, r); close(copied) }()
	st, err := sandbox.Run(spec)
	w.Close()
	<-copied
	r.Close()
	if err != nil {
		return fmt.Errorf("check tarball %s: start the helper sandbox: %w", path, err)
	}
	switch st.ExitCode() {
	case 0:
		return nil
	case 1:
		return fmt.Errorf("%w: %s: %s", ErrBadTarball, path, strings.TrimSpace(out.String()))
	}
	return fmt.Errorf("check tarball %s with %s: status %d (%s)", path, helper, st.ExitCode(), strings.TrimSpace(out.String()))
}
