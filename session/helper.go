package session

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/nook-project/nook/internal/phase"
	"github.com/nook-project/nook/sandbox"
)

// The helper is this same binary, started as the command of a sandbox that
// has the session's id mapping: argv[0] is helperArg0 and argv[1]
// helperArg1, then a verb. It is started through /proc/self/exe, which in
// the sandbox's fresh /proc names the binary nook itself runs from, so no
// host path has to be visible or trusted; the sandbox shows the host root
// read-only and only the directory the helper works on writable.
//
// Why not in the parent: files can only be given the mapped owners (and
// trees of subordinate-id files only be deleted) from inside a user
// namespace, and a Go process cannot enter one after it has started
// threads. The engine already builds exactly that namespace for commands.
const (
	helperArg0 = "nook-session-helper"
	helperArg1 = "--nook-session-helper"
)

func init() {
	if len(os.Args) >= 3 && os.Args[0] == helperArg0 && os.Args[1] == helperArg1 {
		os.Exit(runHelper(os.Args[2], os.Args[3:]))
	}
}

func runHelper(verb string, args []string) int {
	var err error
	switch {
	case verb == "remove" && len(args) == 1:
		err = removeContents(args[0])
	case verb == "adduser" && len(args) == 5:
		err = helperAddUser(args)
	case verb == "pack" && len(args) == 3:
		err = helperPack(args[0], args[1], Compression(args[2]))
	case verb == "boot-detach" && len(args) == 2:
		err = helperBootDetach(args)
	case verb == "agent" && len(args) == 0:
		err = helperAgent()
	case verb == "boot" && len(args) == 2:
		err = helperBoot(args)
	case verb == "writefiles" && len(args) == 1:
		err = helperWriteFiles(args[0])
	default:
		err = fmt.Errorf("unknown helper call %q %q", verb, args)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%v\n", err)
		return 1
	}
	return 0
}

// removeContents deletes everything inside dir, not dir itself (its parent
// is read-only in the helper's sandbox; the caller removes the then empty
// directory, which it owns).
func removeContents(dir string) error {
	sandbox.Phase("helper: removing")
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open %s to empty it: %w", dir, err)
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return fmt.Errorf("read %s: %w", dir, err)
	}
	for _, n := range names {
		if err := removeAll(dir + "/" + n); err != nil {
			return err
		}
	}
	return nil
}

// stallEnv is passed on to the unpack helper, where it makes the unpack
// stall half way (package unpack's test hook of the same name).
const stallEnv = "NOOK_TEST_STALL_UNPACK"

// helperSpec is the sandbox in which a helper verb runs: the host root
// read-only, rw the one directory it works on, fresh /proc (for
// /proc/self/exe) and /dev, a pid namespace so nothing it starts outlives
// it, the given identity.
func helperSpec(id sandbox.Identity, rw string, args ...string) *sandbox.Spec {
	mounts := []sandbox.Mount{
		{Op: sandbox.OpBind, Source: "/", Dest: "/", ReadOnly: true},
		{Op: sandbox.OpDev, Dest: "/dev"},
		{Op: sandbox.OpProc, Dest: "/proc"},
	}
	if rw != "" {
		mounts = append(mounts, sandbox.Mount{Op: sandbox.OpBind, Source: rw, Dest: rw})
	}
	env := []string{"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "LANG=C.UTF-8"}
	if phase.TestHooks && os.Getenv(stallEnv) == "1" {
		env = append(env, stallEnv+"=1")
	}
	if v := phase.StopAt(); v != "" {
		// The fault tests stop helpers too (sandbox.Phase).
		env = append(env, "NOOK_TEST_STOP_AT="+v)
	}
	return &sandbox.Spec{
		Args:       append([]string{"/proc/self/exe", helperArg1}, args...),
		Argv0:      helperArg0,
		Env:        env,
		Namespaces: sandbox.Namespaces{PID: true, IPC: true},
		SortMounts: true,
		Mounts:     mounts,
		Identity:   id,
		Dir:        "/",
		// Helpers read and write their stdio, never reopen it: no relay
		// (a relayed tarball would cost a copy through a pipe).
		DirectStdio: true,
	}
}

// runHelperSpec runs a helper sandbox and turns a failure into an error
// carrying the helper's own message.
func runHelperSpec(what string, spec *sandbox.Spec) error {
	var stderr bytes.Buffer
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	spec.Stderr = w
	if spec.Stdout == nil {
		spec.Stdout = w
	}
	copied := make(chan struct{})
	go func() { io.Copy(&stderr, r); close(copied) }()
	st, err := sandbox.Run(spec)
	w.Close()
	<-copied
	r.Close()
	if err != nil {
		return fmt.Errorf("%s: start the helper sandbox: %w", what, err)
	}
	if st.ExitCode() != 0 {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = "helper ended with status " + strconv.Itoa(st.ExitCode())
		}
		return &HelperError{What: what, Status: st.ExitCode(), Msg: msg}
	}
	return nil
}

// HelperError is a helper that ended with a failure status: what it was
// for, its status (which may say more: unpack/proto.ExitNoSpace) and its
// stderr, which carries its error across the process boundary as text.
type HelperError struct {
	What   string
	Status int
	Msg    string
}

func (e *HelperError) Error() string { return e.What + ": " + e.Msg }

// removeTree deletes dir and everything in it. For real root that is a
// plain removal; otherwise the contents go from inside a user namespace
// with the session's mapping, where the caller is root and can delete the
// files of subordinate ids (which the caller cannot touch on the host).
func removeTree(mode IDMode, dir string) error {
	if _, err := os.Lstat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if mode != IDHost {
		id, err := sandboxIdentity(mode, 0, 0)
		if err != nil {
			return err
		}
		if err := runHelperSpec("remove "+dir, helperSpec(id, dir, "remove", dir)); err != nil {
			return err
		}
	}
	return removeAll(dir)
}
