package native

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/nook-project/nook/sandbox"
	"golang.org/x/sys/unix"
)

// ManDate is the date docs/nook-run.1 carries. It is fixed so that the
// checked-in page is reproducible; change it when the page changes in
// substance.
const ManDate = "2026-11-23"

// The zero-setup layout (defaultLayout) as options, without the bind of the
// current directory. man_test.go checks these against defaultLayout.
const (
	manDefaultLayout      = "--ro-bind / / --dev /dev --tmpfs /tmp --proc /proc"
	manDefaultLayoutNoPID = "--ro-bind / / --dev /dev --tmpfs /tmp --bind /proc /proc"
)

// optionNotes add man-page-only detail below an option's help text. Keys
// must name options (man_test.go checks), and the text is inline markup as
// for manText. Built on first use (only `nook man` needs it).
var optionNotes = sync.OnceValue(func() map[string]string {
	return map[string]string{
		"share-pid":     "Inside a user namespace --proc then fails; the default layout binds the host's /proc instead.",
		"identity":      "See IDENTITY.",
		"uid":           "In the modes self and root it chooses what the caller is mapped to; otherwise the command switches to it. See IDENTITY.",
		"gid":           "As --uid, for the group.",
		"bind":          "Binds are recursive: mounts below {SRC} come along. They are nodev: device nodes under {SRC} cannot be opened (see --dev-bind).",
		"ro-bind":       "The read-only flag covers the host's mounts below {SRC}, not the mounts the sandbox adds below {DEST}.",
		"tmpfs":         "Mode 0755, or 1777 when {DEST} is named tmp; nodev and nosuid.",
		"proc":          "Inside a user namespace this needs a new pid namespace.",
		"dev":           "The device nodes are binds of the host's; fd, stdin, stdout, stderr, core and ptmx are symlinks; shm is a directory with mode 1777; pts is a new devpts instance; console is a bind of the terminal that standard input, output or error is on, if any.",
		"dir":           "A directory named tmp gets mode 1777.",
		"symlink":       "{TARGET} is stored as given. A symlink that is already there with the same target is left alone.",
		"write":         "Unless the directory of {DEST} is on a file system nook made for the sandbox (a tmpfs, or a --tmp-overlay), the file is made on a separate tmpfs and bind-mounted onto {DEST}.",
		"file":          "{FD} is one of nook's file descriptors; it is read to its end while the sandbox is set up. The file is placed as with --write.",
		"chmod":         "Unless --no-sort is given it runs after every other filesystem operation.",
		"remount-ro":    "Not recursive: mounts below {DEST} keep their own flags.",
		"no-sort":       "See FILESYSTEM ORDER.",
		"bind-nofollow": "{DEST} is made as an empty file when missing, and the link is mounted on it; mkosi binds /etc/resolv.conf so. A symlink in procfs (/proc/self/fd/N, /proc/PID/root, /proc/self) is refused: it names a process's file rather than holding a path.",
		"dest-nofollow": "mkosi-sandbox binds every file so. A directory bound onto a symlink follows it as usual; a missing {DEST} is made as for any bind.",
		"symlink-replace": "A symlink already there with the same target is left alone; a directory there is an error. " +
			"The new symlink is made on a separate tmpfs and mounted over what is there, so a host file below a read-only bind stays as it is: mkosi links /etc/passwd and its like so into a bound /etc.",
		"fuse": "The command still needs the right to open it (on most hosts, root's only).",
		"overlay-index-off": "Where overlayfs keeps an index (the index=on option, or a kernel built or loaded with it on), an upper directory remembers the lower directory it was first used with, and a mount over another one fails with \"stale file handle\". " +
			"Inside a user namespace overlayfs keeps no index.",
		"propagation": "With shared, a mount the command makes below one of the sandbox's mounts appears at that mount's other places inside too, as mkosi-sandbox's commands expect; nothing reaches the host or comes from it. " +
			"nook's mounts stay locked either way: the command can neither unmount them nor make the read-only ones writable.",
		"cap-add":  "{CAP} is a name as in capabilities(7), with or without CAP_, in any case, or a number. Every --cap-drop applies before every --cap-add.",
		"cap-drop": "As --cap-add.",
		"clearenv": "--setenv and --unsetenv apply in the order given, after --clearenv.",
		"as-pid-1": "Needs a pid namespace. The command must then reap its own orphans.",
		"pack-fds": "See FILE DESCRIPTORS.",
		"suspend":  "Its caller waits for that stop (waitid(2) with WSTOPPED and WNOWAIT) and sends SIGCONT: mkosi-sandbox's --suspend. Only nook stops: the sandbox's process, already in its namespaces, waits for nook. The Go init engine sets the sandbox up.",
		"keep-fd":  "See FILE DESCRIPTORS.",
	}
})

// ManPage writes the man(7) page for `nook run`, dated date. The options
// come from the same table the parser and --help use, so the page cannot
// list an option that does not exist or miss one that does.
func ManPage(w io.Writer, date string) {
	m := &manWriter{}
	m.raw(`.\" Generated from internal/face/native (nook man); do not edit.`)
	m.macro("TH", "NOOK-RUN", "1", date, "nook", "User Commands")
	// No hyphenation: an option or a path broken at a hyphen reads wrong.
	m.macro("nh")

	m.macro("SH", "NAME")
	m.text("nook-run - run a command in a rootless sandbox")

	m.macro("SH", "SYNOPSIS")
	m.raw(`\fBnook run\fR [\fIOPTION\fR]... [\fB\-\-\fR] [\fICOMMAND\fR [\fIARG\fR]...]`)

	m.macro("SH", "DESCRIPTION")
	m.text("`nook run` runs {COMMAND} with its {ARG}s in a new sandbox: new Linux namespaces, a root directory built from the filesystem options, a seccomp(2) filter and a chosen set of capabilities, without root and without a setuid helper. " +
		"Without {COMMAND} it runs $SHELL, or /bin/sh when SHELL is unset or empty.")
	m.para("Options come before the command, in any order. " +
		"An option with one argument may be written `--chdir=/src` as well as `--chdir /src`; options with more arguments take them as separate words. " +
		"The command starts after `--`, or at the first word that does not begin with `--`.")
	m.para("When no filesystem option places / (that is, has / as its destination, --chmod and --remount-ro aside), none builds a root of its own " +
		"(--proc /proc, --dev /dev, --dev-bind onto /dev, --ro-bind /usr /usr, or a --symlink usr/... at the top, as bubblewrap and mkosi-sandbox command lines do) " +
		"and --no-default-fs is not given, the sandbox starts from this layout:")
	m.example(manDefaultLayout)
	m.para("To this comes a --bind of the current directory onto itself, unless that is /, an option binds it already, " +
		"or it is $HOME or a directory above it: that stays read-only, and nook says so (--bind \"$HOME\" \"$HOME\" makes it writable). " +
		"--print-plan shows what nook chose. " +
		"So the sandbox sees the host root read-only, a fresh /dev, /tmp and /proc, and the current directory read-write. " +
		"With --share-pid, /proc is a bind of the host's /proc instead. " +
		"Filesystem options add to this layout. " +
		"Without it, the root starts as an empty tmpfs (mode 0755, nodev, nosuid) that the filesystem options fill.")
	m.para("The sandbox always has its own mount namespace. " +
		"By default it also has its own pid, IPC and UTS namespaces, and a user namespace unless nook runs as root (see IDENTITY); it shares the host's network and cgroup namespaces. " +
		"A --share-net, --share-pid, --share-ipc or --share-uts wins over an unshare option for the same namespace, whatever their order.")
	m.para("{COMMAND} is looked up in the PATH of the command's environment, or in `" + manDefaultPath + "` when that has none; a name that holds a slash is used as it is. " +
		"The environment is nook's own, or empty with --clearenv, edited by --setenv and --unsetenv. " +
		"The command starts in the directory --chdir names; without it, in nook's current directory when that exists inside the sandbox, else in /. " +
		"It gets the caller's umask.")

	m.macro("SH", "OPTIONS")
	group := ""
	for _, o := range options() {
		if o.group != group {
			group = o.group
			m.macro("SS", group)
		}
		m.macro("TP")
		m.raw(optionTag(o))
		m.markup(o.help, o.args)
		if note, ok := optionNotes()[o.name]; ok {
			m.macro("IP")
			m.markup(note, o.args)
		}
	}

	m.macro("SH", "FILESYSTEM ORDER")
	m.text("Filesystem options may come in any order. Unless --no-sort is given, nook runs them in this order:")
	m.bullet("parents before children: an operation on /usr runs before one on /usr/lib, so the parent does not hide the child (paths compare component by component);")
	m.bullet("on the same destination, operations that make something (--tmpfs, --dir, --proc, --overlay and the like) before binds, so a bind wins over a mount point made for it;")
	m.bullet("--chmod and --remount-ro after all others, so they find what deeper operations created and act on what the command sees;")
	m.bullet("exact duplicates are dropped;")
	m.bullet("a bind that an earlier bind already shows (the same kind, read-only or not and try or not alike, with source and destination at the same place relative to the earlier bind's) is dropped, unless another operation sits between the two on the way from one destination to the other, or a --remount-ro applies at or below it. " +
		"In `--ro-bind /usr /usr --tmpfs /usr/lib --ro-bind /usr/lib/x /usr/lib/x` the tmpfs hides /usr/lib, so the last bind stays.")
	m.para("With --no-sort the operations run in the order given, as in bwrap(1). --remount-ro takes effect after the last operation either way.")
	m.para("Every destination is resolved inside the new root: a symlink met on the way is followed as if the new root were /, so a symlink in a chroot cannot send a mount, a directory or a file onto the host. " +
		"Sources of binds and overlays are host paths.")
	m.para("Missing directories on the way to a destination are made with mode 0755, or 1777 when named tmp. " +
		"A missing bind destination is made as a directory when the source is one, else as an empty file.")
	m.para("Where a directory or mount point has to be made inside a directory from the host that cannot be written, such as below a read-only bind (`--ro-bind / / --tmpfs /new`), the directory is replaced by a tmpfs copy of itself whose subdirectories and files are binds of the originals and whose symlinks are copies; " +
		"the copy becomes read-only when setup ends if the original was. " +
		"Inside a host directory that can be written (below --bind) they are made in that directory. " +
		"--write and --file never write into a host file.")
	m.para("When the operations are done, the new root becomes / by pivot_root(2); where that fails because the current root is not a mount point (an initramfs), nook moves the new root onto / and chroots into it, which --no-pivot-root does always.")

	m.macro("SH", "IDENTITY")
	m.text("nook makes a user namespace unless it runs as root (effective uid 0). " +
		"--userns always makes one for root too; --userns never makes none, and then only root, or a process holding CAP_SYS_ADMIN (inside another sandbox's user namespace, say), can build a sandbox. " +
		"Without a user namespace the ids are the host's, and --uid and --gid switch the command to other ids. " +
		"In a user namespace the caller's ids are mapped according to --identity:")
	m.tag("`self`", "the caller's uid and gid are mapped to themselves, one id each (the default). --uid and --gid map the caller to other ids instead.")
	m.tag("`root`", "the caller is mapped to uid and gid 0, one id each; --become-root is the same. --uid and --gid may only be 0.")
	m.tag("`subids-root`", "0 is the caller, and 1 to 65535 come from the caller's subordinate ranges in /etc/subuid and /etc/subgid, written by newuidmap(1) and newgidmap(1) unless nook runs as root. --uid and --gid choose the ids the command switches to.")
	m.tag("`subids-self`", "the caller keeps its own ids, and every other id from 0 to 65535 comes from the subordinate ranges. --uid and --gid choose the ids the command switches to.")
	m.para("Run by root, the subids modes need no subordinate ranges: without any, they map ids 1 to 65535 onto themselves.")
	m.para("The command keeps every capability nook holds in the sandbox (all of them in a new user namespace, root's usual set without one), less --cap-drop, plus --cap-add. " +
		"When the command runs as a uid other than 0, its capabilities are raised into the ambient set, so it keeps them across execve(2) and can still, for example, mount.")
	m.para("A seccomp(2) filter is always installed. " +
		"It makes ioctl(2) TIOCSTI and TIOCLINUX fail with EPERM, so nothing in the sandbox can type into the caller's terminal (CVE-2017-5226). " +
		"--suppress-chown makes the chown family (chown, fchown, lchown, fchownat) succeed without doing anything, for tools that chown to ids the namespace does not map. " +
		"As mkosi-sandbox's, it applies only where chown cannot work: in a user namespace nook makes, or in a single-id one nook runs in; " +
		"real root without a user namespace chowns for real (an image built with sudo keeps its owners). " +
		"--suppress-sync makes sync, fsync, fdatasync, msync, sync_file_range and syncfs succeed without doing anything. " +
		"The filter allows everything else and never kills a process. " +
		"It is installed while nook still holds CAP_SYS_ADMIN in the namespace, so it does not need no_new_privs.")
	m.para("no_new_privs is off unless --no-new-privs is given: inside a user namespace a setuid binary cannot gain more than the namespace holds, and package managers need setuid helpers.")
	m.para("Once the sandbox runs, nook and its pid 1 make themselves non-dumpable, so nothing inside can read their memory or file descriptors through /proc (CVE-2016-8659).")

	m.macro("SH", "EXIT STATUS")
	m.text("nook exits with the command's status, so that a caller sees what it would see without nook:")
	m.tag("{N}", "the command exited with status {N}.")
	m.tag("128+{N}", "the command was killed by signal {N}.")
	m.tag(fmt.Sprint(sandbox.ExitNotFound), "the command was not found (also when a PATH entry cannot be searched).")
	m.tag(fmt.Sprint(sandbox.ExitCannotExecute), "the command was found but could not be executed.")
	m.tag(fmt.Sprint(sandbox.ExitSetupFailed), "the sandbox could not be set up.")
	m.tag("2", "a usage error found while reading the options.")
	m.para("--help and --version exit with 0. " +
		"A command that itself exits with one of these values cannot be told apart from nook's own failures, except by nook's message on standard error.")

	m.macro("SH", "SIGNALS AND TERMINALS")
	m.text(signalList() + " sent to nook are forwarded to the sandbox's process group, so the command gets one copy of each, as from a terminal. " +
		"A signal that arrives while the sandbox starts is held and forwarded once the command runs.")
	m.para("Started in the foreground of a terminal (its standard input is a terminal whose foreground process group is nook's), nook makes the command's process group the terminal's foreground group, so Ctrl-C and Ctrl-\\ reach the command directly. " +
		"When the command stops (Ctrl-Z), nook takes the terminal back and stops itself, so the shell sees the job stop; once continued (fg, bg), nook gives the terminal back to the command if nook is in the foreground again, and continues it. " +
		"When the command ends, nook takes the terminal back.")
	m.para("--new-session runs the command in a new session (setsid(2)) with no controlling terminal; job control then does not apply.")

	m.macro("SH", "PROCESSES")
	m.text("With a pid namespace (the default), a small pid 1 from nook starts the command, reaps orphaned processes and, when the command ends, exits with its status; " +
		"the kernel then kills whatever is left in the namespace, so nothing started in the sandbox outlives the command. " +
		"--as-pid-1 runs the command itself as pid 1 of a pid namespace of its own instead (its /proc is that namespace's); nook's pid 1 stays above it, " +
		"so the command still dies with nook and cannot signal nook's pid 1. " +
		"With --share-pid the command is the sandbox's first process, and processes it leaves behind keep running.")
	m.para("If nook dies, the sandbox's first process (pid 1, or the command) is killed with SIGKILL; with a pid namespace that ends every process in it. " +
		"--die-with-parent does the same one level up: nook is killed when the process that started it dies.")

	m.macro("SH", "FILE DESCRIPTORS")
	m.text("The command gets nook's standard input, output and error. " +
		"Programs reopen them (/dev/stderr, `tee /proc/self/fd/2`), and a reopen is a new open with the command's credentials: a pipe or file of another user's (host root's log, or the caller's own pipe for a command running as a subordinate id) would refuse it. " +
		"Such a pipe or regular file reaches the command through a pipe of nook's that it can reopen, relayed by nook: output in order (stdout and stderr on one file share one relay), input a page at a time as the command reads, so at most a page more than it read is taken from nook's input. " +
		"Whether the command could reopen a file is decided as the kernel decides it: the owner's, the group's (or, with an access ACL, always a relay) or the others' mode bits, or a CAP_DAC_OVERRIDE (for stdin also CAP_DAC_READ_SEARCH) the command keeps, which counts only where the file's owner and group are both mapped into its user namespace; a file whose owner nook's own user namespace does not map is no one's there. " +
		"Output is relayed with splice(2), or read and write where the kernel refuses it (a file opened for appending); an output nook's caller made nonblocking is waited for when full, as a blocking one would be. " +
		"When the sandbox ends the relays take what their pipes hold and stop, also when a process outside the sandbox holds a relay pipe open. " +
		"If nook was sent SIGTERM, SIGINT, SIGHUP or SIGQUIT (which it forwards), then once the command has ended an output whose reader takes nothing for a quarter of a second is given up and what its relay still holds is lost, so that nook exits, as it would without a relay, where the reader stalled (`nook run ... | sleep infinity`); a reader that goes on reading gets everything. " +
		"Terminals, sockets, devices and what the command can reopen pass as they are, and so does everything with --share-pid (a relay ends with the sandbox's pid namespace) and for nook called as bwrap (bwrap passes them as they are). " +
		"File descriptors above 2 that nook's caller left open without close-on-exec reach the command at the same numbers, so that, for example, make's jobserver works; nook's own never do. " +
		"Directories are the exception: a directory fd names a directory of the host's, and `..` from it leads out of the sandbox whatever its root, so nook passes one only when --keep-fd names it (bwrap, and nook called as bwrap, pass them all). " +
		"--pack-fds renumbers them from 3 up, in order, and sets LISTEN_FDS to their number and LISTEN_PID to the command's pid (under nook's pid 1 this needs /proc inside the sandbox). " +
		"--close-fds passes none but those --keep-fd names.")

	m.macro("SH", "ENVIRONMENT")
	m.tag("`NOOK_TIMING`", "when 1, nook and the sandbox's init print a line `nook-timing` {PID} {MS} {STEP} `faults=`{N} to standard error at each step of start-up, {MS} being milliseconds of CLOCK_MONOTONIC and {N} the minor page faults of the process so far.")
	m.tag("`SHELL`", "the command to run when none is given (/bin/sh when unset or empty).")
	m.tag("`PATH`", "the command is looked up in the PATH of its own environment (see DESCRIPTION).")
	m.tag("`LISTEN_FDS`, `LISTEN_PID`", "set for the command by --pack-fds.")

	m.macro("SH", "EXAMPLES")
	m.text("Build in the current directory, with the rest of the host read-only:")
	m.example("nook run make")
	m.para("Run a test suite without network (only lo, up):")
	m.example("nook run --unshare-net -- ./test-suite")
	m.para("Unpack an archive as root, keeping going where it chowns files to ids that are not mapped:")
	m.example("nook run --become-root --suppress-chown -- tar -xpf ../x.tar")
	m.para("Hide the home directory except the project in the current directory (the bind of the current directory runs after the tmpfs on its parent):")
	m.example(`cd ~/src/project && nook run --tmpfs "$HOME" -- make`)
	m.para("Look at a full range of 65536 ids with the caller as root (needs ranges in /etc/subuid and /etc/subgid):")
	m.example("nook run --identity subids-root -- cat /proc/self/uid_map")
	m.para("Run a shell in a chroot:")
	m.example("nook run --ro-bind /srv/chroot / --dev /dev --proc /proc \\", "    --tmpfs /tmp -- /bin/bash")

	m.macro("SH", "SEE ALSO")
	refs := []string{"bwrap(1)", "newuidmap(1)", "nook(1)", "nook-session(1)", "unshare(1)", "seccomp(2)", "subuid(5)", "capabilities(7)", "user_namespaces(7)"}
	for i, r := range refs {
		name, sec, _ := strings.Cut(strings.TrimSuffix(r, ")"), "(")
		sep := ","
		if i == len(refs)-1 {
			sep = ""
		}
		m.macro("BR", name, "("+sec+")"+sep)
	}
	io.WriteString(w, m.b.String())
}

// manDefaultPath is the PATH the sandbox searches when the command's
// environment has none (sandbox's execvp fallback).
const manDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// signalList names sandbox.ForwardedSignals: "SIGINT, SIGTERM, ... and SIGWINCH".
func signalList() string {
	var names []string
	for _, s := range sandbox.ForwardedSignals {
		names = append(names, unix.SignalName(s.(unix.Signal)))
	}
	if len(names) == 1 {
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// optionTag is an option as the page lists it:
// \fB\-\-bind\fR \fISRC\fR \fIDEST\fR.
func optionTag(o option) string {
	s := `\fB` + manEscape("--"+o.name) + `\fR`
	for _, a := range o.args {
		s += ` \fI` + manEscape(a) + `\fR`
	}
	return s
}

// manWriter collects the page's lines.
type manWriter struct{ b strings.Builder }

// raw writes one line as it is (already troff).
func (m *manWriter) raw(line string) {
	m.b.WriteString(line)
	m.b.WriteByte('\n')
}

// macro writes a request line, quoting arguments that need it.
func (m *manWriter) macro(name string, args ...string) {
	line := "." + name
	for _, a := range args {
		if a == "" || strings.ContainsAny(a, " \t") {
			a = `"` + strings.ReplaceAll(a, `"`, `""`) + `"`
		}
		line += " " + a
	}
	m.raw(line)
}

// text writes inline markup (see manText).
func (m *manWriter) text(s string) { m.markup(s, nil) }

// markup writes inline markup in which the upper-case words metas are
// metavariables: one sentence per line, lines kept within manWidth bytes
// where spaces allow.
func (m *manWriter) markup(s string, metas []string) {
	for _, sentence := range splitSentences(manText(s, metas)) {
		line := ""
		for _, word := range strings.Fields(sentence) {
			if line != "" && len(line)+1+len(word) > manWidth {
				m.raw(manLine(line))
				line = ""
			}
			if line != "" {
				line += " "
			}
			line += word
		}
		if line != "" {
			m.raw(manLine(line))
		}
	}
}

// sentenceEnds returns where each sentence but the last ends and the next
// begins, as the indexes at which the regular expression
// `[^.]\. +(?:[A-Z]|\\f)` matches (non-overlapping, leftmost first): a
// period (not an ellipsis) and a space before a capital or a font change.
// A line break there also gives troff's wider space between sentences.
// Hand-written so that nook does not link the regexp package, whose tables
// cost every invocation start-up time; TestManScannersMatchRegexps checks
// it against the expression.
func sentenceEnds(s string) []int {
	var out []int
	from := 0
	for j := 1; j < len(s); j++ {
		if s[j] != '.' {
			continue
		}
		r, size := utf8.DecodeLastRuneInString(s[:j])
		start := j - size
		if r == '.' || start < from {
			continue
		}
		k := j + 1
		for k < len(s) && s[k] == ' ' {
			k++
		}
		switch {
		case k == j+1 || k == len(s):
			continue
		case s[k] >= 'A' && s[k] <= 'Z':
			k++
		case s[k] == '\\' && k+1 < len(s) && s[k+1] == 'f':
			k += 2
		default:
			continue
		}
		out = append(out, start)
		from, j = k, k-1
	}
	return out
}

// splitSentences cuts s after each sentence's period.
func splitSentences(s string) []string {
	var out []string
	last := 0
	for _, start := range sentenceEnds(s) {
		end := start + 2 // past the period
		out = append(out, s[last:end])
		last = end
	}
	return append(out, s[last:])
}

// manWidth is the longest source line the page should have (mandoc's
// style check).
const manWidth = 80

// para starts a paragraph.
func (m *manWriter) para(s string) {
	m.macro("PP")
	m.text(s)
}

func (m *manWriter) bullet(s string) {
	m.macro("IP", `\(bu`, "2")
	m.text(s)
}

// tag writes a tagged paragraph; both parts are inline markup.
func (m *manWriter) tag(tag, body string) {
	m.macro("TP")
	m.text(tag)
	m.text(body)
}

// example writes literal lines, indented.
func (m *manWriter) example(lines ...string) {
	m.macro("PP")
	m.macro("RS", "4")
	// .nf, not .EX: groff's .EE turns hyphenation back on.
	m.macro("nf")
	for _, l := range lines {
		m.raw(manLine(manEscape(l)))
	}
	m.macro("fi")
	m.macro("RE")
}

// manEscape makes plain text safe inside a troff text line: backslashes,
// hyphens (as \-, so options and paths copy and search as typed) and
// anything outside ASCII. Line starts are manLine's job.
func manEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\e`)
		case r == '-':
			b.WriteString(`\-`)
		case r > 0x7e || (r < 0x20 && r != '\t'):
			fmt.Fprintf(&b, `\[u%04X]`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// manLine keeps a text line from being read as a request: a line that
// starts with the control characters . or ' gets a zero-width \& first.
func manLine(s string) string {
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		return `\&` + s
	}
	return s
}

// inlineTokens returns where the things manText formats are: `literal`,
// {META}, --option, name(N) page references, and upper-case words
// (metavariables when the caller names them). The pairs are the matches of
//
//	`[^`]*`|\{[A-Za-z][A-Za-z0-9_]*\}|--[a-z0-9][a-z0-9-]*|[a-z_][a-z_0-9]*\([1-8]\)|[A-Z][A-Z0-9_]*
//
// (non-overlapping, leftmost first), found without the regexp package for
// the reason given at sentenceEnds.
func inlineTokens(s string) [][2]int {
	var out [][2]int
	for i := 0; i < len(s); {
		if j := inlineTokenAt(s, i); j > i {
			out = append(out, [2]int{i, j})
			i = j
		} else {
			i++
		}
	}
	return out
}

// inlineTokenAt returns the end of the token at s[i:], or i when none
// starts there; the alternatives are tried in inlineTokens' order.
func inlineTokenAt(s string, i int) int {
	run := func(j int, in func(c byte) bool) int {
		for j < len(s) && in(s[j]) {
			j++
		}
		return j
	}
	lower := func(c byte) bool { return c >= 'a' && c <= 'z' }
	upper := func(c byte) bool { return c >= 'A' && c <= 'Z' }
	digit := func(c byte) bool { return c >= '0' && c <= '9' }
	at := func(j int, c byte) bool { return j < len(s) && s[j] == c }
	switch c := s[i]; {
	case c == '`':
		if k := strings.IndexByte(s[i+1:], '`'); k >= 0 {
			return i + 1 + k + 1
		}
	case c == '{':
		if i+1 < len(s) && (upper(s[i+1]) || lower(s[i+1])) {
			j := run(i+2, func(c byte) bool { return upper(c) || lower(c) || digit(c) || c == '_' })
			if at(j, '}') {
				return j + 1
			}
		}
	case c == '-':
		if at(i+1, '-') && i+2 < len(s) && (lower(s[i+2]) || digit(s[i+2])) {
			return run(i+3, func(c byte) bool { return lower(c) || digit(c) || c == '-' })
		}
	case lower(c) || c == '_':
		j := run(i+1, func(c byte) bool { return lower(c) || digit(c) || c == '_' })
		if at(j, '(') && j+2 < len(s) && s[j+1] >= '1' && s[j+1] <= '8' && s[j+2] == ')' {
			return j + 3
		}
	case upper(c):
		return run(i+1, func(c byte) bool { return upper(c) || digit(c) || c == '_' })
	}
	return i
}

// manText turns light markup into troff text: `x` is bold literal text,
// {X} an italic metavariable, --option bold, name(N) a bold page name;
// upper-case words listed in metas are italic. Everything else is escaped.
// The result is one line; manLine must guard each line's start.
func manText(s string, metas []string) string {
	isMeta := map[string]bool{}
	for _, a := range metas {
		isMeta[a] = true
	}
	wordChar := func(i int) bool {
		if i < 0 || i >= len(s) {
			return false
		}
		c := s[i]
		return c == '_' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
	}
	var b strings.Builder
	last := 0
	for _, loc := range inlineTokens(s) {
		i, j := loc[0], loc[1]
		tok := s[i:j]
		var out string
		switch {
		case tok[0] == '`':
			out = `\fB` + manEscape(tok[1:len(tok)-1]) + `\fR`
		case tok[0] == '{':
			out = `\fI` + manEscape(tok[1:len(tok)-1]) + `\fR`
		case wordChar(i - 1):
			continue
		case strings.HasPrefix(tok, "--"):
			out = `\fB` + manEscape(tok) + `\fR`
		case strings.HasSuffix(tok, ")"):
			name, sec, _ := strings.Cut(tok, "(")
			out = `\fB` + manEscape(name) + `\fR(` + sec
		case isMeta[tok] && !wordChar(j):
			out = `\fI` + manEscape(tok) + `\fR`
		default:
			continue
		}
		b.WriteString(manEscape(s[last:i]))
		b.WriteString(out)
		last = j
	}
	b.WriteString(manEscape(s[last:]))
	return b.String()
}
