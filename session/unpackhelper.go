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
const UnpackFlag = "--nook-unpack=1"

const unpackArg0 = "nook-unpack"

// UnpackSelf, as UnpackHelper, runs this very executable as the helper: for
// a program that links package unpack and calls unpack.Dispatch first.
const UnpackSelf = "/proc/self/exe"

// UnpackHelper is the unpack helper's path. Empty (the default) looks in
// order at $NOOK_UNPACK, nook-unpack beside the running executable, in
// ../libexec/nook from there (where make install puts it under any
// PREFIX), on PATH, and in /usr/libexec/nook and /usr/lib/nook.
var UnpackHelper string

// executable is os.Executable, replaced by a test.
var executable = os.Executable

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
	var looked []string
	if exe, err := executable(); err == nil {
		for _, dir := range []string{filepath.Dir(exe), filepath.Join(filepath.Dir(exe), "..", "libexec", "nook")} {
			looked = append(looked, dir)
			if p, err := checkHelper(filepath.Join(dir, unpackArg0)); err == nil {
				return p, nil
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
	return "", fmt.Errorf("%w: unpacking a chroot tarball needs nook's helper %s, which is not installed (looked in %s): "+
		"build it beside nook (go build -o DIR ./cmd/nook-unpack, or go install github.com/nook-project/nook/cmd/...) or name it in NOOK_UNPACK",
		ErrNoUnpackHelper, unpackArg0, strings.Join(looked, ", "))
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
