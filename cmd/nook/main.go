// Command nook runs commands in rootless sandboxes. Which face answers
// depends on the name it is called by: nook's own command line, or (later)
// the bwrap, schroot and mkosi-sandbox personalities, or autopkgtest's
// virtualisation server (autopkgtest-virt-nook).
package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"github.com/nook-project/nook/internal/face/bwrap"
	"github.com/nook-project/nook/internal/face/mkosi"
	"github.com/nook-project/nook/internal/face/native"
	"github.com/nook-project/nook/internal/face/schroot"
	"github.com/nook-project/nook/internal/face/virtnook"
	"github.com/nook-project/nook/sandbox"
)

func init() {
	// Keep main on the process's main thread until main knows whether
	// --die-with-parent may be asked for: its PR_SET_PDEATHSIG belongs to
	// the thread that sets it, and only the thread group leader is sure to
	// live as long as nook (see releaseMainThread).
	runtime.LockOSThread()
}

func main() {
	sandbox.Phase("main")
	releaseMainThread(os.Args[1:])
	// Before anything opens a file: which fds did the caller pass on?
	inherited := native.InheritedFds()
	args := os.Args[1:]
	switch faceFor(os.Args[0], args, executable) {
	case faceBwrap:
		os.Exit(bwrap.Run(os.Args[0], args, inherited, native.Version))
	case faceSchroot:
		os.Exit(schroot.Run(os.Args[0], args, native.Version))
	case faceMkosi:
		os.Exit(mkosi.Run(args, inherited, native.Version))
	case faceVirtNook:
		os.Exit(virtnookRun(args, inherited))
	}
	if len(args) == 0 {
		usage(os.Stderr)
		os.Exit(2)
	}
	if args[0] == "help" && len(args) > 1 && args[1] != "--help" && args[1] != "-h" {
		// nook help TOPIC is nook TOPIC --help, as git and go do it.
		if !helpTopics[args[1]] {
			fmt.Fprintf(os.Stderr, "nook help: no help on %q (topics: %s)\n", args[1], strings.Join(native.HelpTopics, ", "))
			os.Exit(2)
		}
		args = []string{args[1], "--help"}
	}
	switch args[0] {
	case "run":
		os.Exit(native.Run(args[1:], inherited))
	case "bwrap":
		os.Exit(bwrap.Run("bwrap", args[1:], inherited, native.Version))
	case "schroot":
		os.Exit(schroot.Run("schroot", args[1:], native.Version))
	case "mkosi-sandbox":
		os.Exit(mkosi.Run(args[1:], inherited, native.Version))
	case virtnook.Name:
		os.Exit(virtnookRun(args[1:], inherited))
	case "session":
		os.Exit(native.Session(args[1:], inherited))
	case "chroot":
		os.Exit(native.Chroot(args[1:]))
	case "cache":
		os.Exit(native.Cache(args[1:]))
	case "help", "--help", "-h":
		usage(os.Stdout) // asked for: the answer, not an error
	case "completion":
		os.Exit(native.Completion(args[1:], bwrap.CompletionOptions(), schroot.CompletionOptions(), mkosi.CompletionOptions()))
	case "version", "--version":
		os.Exit(native.Versions(args[1:]))
	case "man": // hidden: regenerates docs/nook-run.1, docs/nook-session.1 and docs/nook.1
		switch {
		case len(args) > 1 && args[1] == "session":
			native.SessionManPage(os.Stdout, native.ManDate)
		case len(args) > 1 && args[1] == "nook":
			native.NookManPage(os.Stdout, native.ManDate)
		default:
			native.ManPage(os.Stdout, native.ManDate)
		}
	default:
		fmt.Fprintf(os.Stderr, "nook: unknown command %q%s\n", args[0], oneDash(args[0]))
		usage(os.Stderr)
		os.Exit(2)
	}
}

// releaseMainThread unlocks main from the main thread unless args may ask
// for --die-with-parent (see needsMainThread). A main goroutine locked to
// its thread makes every wait a hand-off between threads: each blocking
// step wakes another thread and parks this one. Unlocked, `nook run
// --ro-bind / / true` took 0.6 to 1.2 ms less (docs/benchmarks.md).
func releaseMainThread(args []string) {
	if !needsMainThread(args) {
		runtime.UnlockOSThread()
	}
}

// needsMainThread reports whether args may ask for --die-with-parent,
// directly or through bwrap's --args FD, which cannot be read ahead. A
// false positive (the word as an argument of the command) costs only the
// hand-offs.
func needsMainThread(args []string) bool {
	for _, a := range args {
		if a == "--die-with-parent" || a == "--args" {
			return true
		}
	}
	return false
}

// oneDash is a hint for -help and -version: nook's long options take two
// dashes. Neither takes a value, so a value written after "=" is left out
// of the hint rather than suggested (--version=1 is a mistake too).
func oneDash(word string) string {
	if name, _, _ := strings.Cut(word, "="); name == "-help" || name == "-version" {
		return " (long options take two dashes: -" + name + ")"
	}
	return ""
}

// helpTopics are the commands `nook help TOPIC` knows.
var helpTopics = func() map[string]bool {
	m := map[string]bool{}
	for _, t := range native.HelpTopics {
		m[t] = true
	}
	return m
}()

// usage prints the top-level usage: to stdout when asked for (nook
// --help), to stderr with a usage error.
func usage(w io.Writer) {
	fmt.Fprint(w, `usage: nook COMMAND [ARGS...]

Commands:
  run [OPTIONS] [--] [CMD...]   run CMD in a new sandbox (nook run --help)
  bwrap [OPTIONS] [--] CMD...   bubblewrap's command line (also: nook called as bwrap)
  schroot [OPTIONS] [--] [CMD...]  schroot's command line (also: nook called as
                                schroot, or by a name containing "unschroot")
  mkosi-sandbox [OPTIONS] [--] [CMD...]  mkosi-sandbox's command line (also:
                                nook called as mkosi-sandbox)
  autopkgtest-virt-nook [OPTIONS] CHROOT  autopkgtest's virtualisation server
                                (also: nook called as autopkgtest-virt-nook)
  session begin|run|end|list|info  build sessions (nook session --help)
  chroot add|remove|list|info|create  chroot definitions (nook chroot --help)
  cache list|prune              the unpack cache of chroot tarballs
  version [--json]              show the version and the VCS revision built
  completion bash|zsh           print a shell completion script
  help [COMMAND]                this, or COMMAND's help
`)
}

// virtnookRun is the autopkgtest-virt-nook face: the server, or with
// --execute first the execute prefix it hands autopkgtest (`… --execute
// ID [OPTIONS] -- CMD`: nook session run's, nook's own failures exiting
// 255, as the protocol asks). The prefix is answered here: virtnook cannot
// import the native face, which lists virtnook's options for the shell
// completion.
func virtnookRun(args []string, inherited []int) int {
	if len(args) > 0 && args[0] == virtnook.ExecuteOption {
		return native.SessionRunFailing(args[1:], inherited, virtnook.ExecuteFailed)
	}
	return virtnook.Run(args, native.Version)
}
