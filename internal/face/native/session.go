package native

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/nook-project/nook/sandbox"
	"github.com/nook-project/nook/session"
)

// Session is `nook session VERB …`.
func Session(args []string, inherited []int) int {
	return runVerb("session", args, sessionHelp, sessionVerbs(inherited))
}

// sessionVerbs are `nook session`'s verbs (also listed by the completion).
func sessionVerbs(inherited []int) []verb {
	return []verb{
		{name: "begin", run: sessionBegin},
		{name: "run", run: func(st *session.Store, args []string) int {
			return sessionRun(st, args, inherited, sandbox.ExitSetupFailed)
		}, failed: sandbox.ExitSetupFailed},
		{name: "end", run: sessionEnd}, {name: "list", run: sessionList}, {name: "info", run: sessionInfo},
	}
}

// verb is one subcommand of `nook session` or `nook chroot`.
type verb struct {
	name string
	run  func(st *session.Store, args []string) int
	// failed is the exit status for nook's own failures: 1 when zero;
	// session run, whose status is otherwise the command's, uses 125 so
	// that its failures cannot pass for the command's (as nook run).
	failed int
}

// runVerb is `nook WHAT VERB ARGS…`: usage for no verb or --help, a usage
// error for an unknown verb, else the store opened and the verb run.
func runVerb(what string, args []string, usage string, verbs []verb) int {
	if code, done := verbHelp(args, usage); done {
		return code
	}
	names := make([]string, len(verbs))
	for i, v := range verbs {
		if v.name != args[0] {
			names[i] = v.name
			continue
		}
		st, err := session.Open()
		if err != nil {
			code := failf(what, "%v", err)
			if v.failed != 0 {
				code = v.failed
			}
			return code
		}
		return v.run(st, args[1:])
	}
	fmt.Fprintf(os.Stderr, "nook %s: unknown verb %q (%s)%s\n", what, args[0], strings.Join(names, ", "), oneDashHelp(args[0]))
	return 2
}

const sessionHelp = `usage: nook session VERB [OPTIONS] [ARGS]

A session is a throwaway, writable copy of a chroot that lives on disk,
not in memory: every command runs in fresh namespaces over an overlay (the
chroot below, the session's own directory above), nothing stays mounted or
running between commands, and a session survives a reboot.

  begin CHROOT [-n|--name NAME] [--copy] [--boot|--long-lived] [--no-network]
                               start a session; prints only its id
                               (default CHROOT-UUID; --session-name is
                               schroot's spelling of --name); --copy makes
                               it a private full copy on the host (costs a
                               full unpack) instead of an overlay; --boot
                               starts the chroot's systemd as the session's
                               pid 1 and waits until it has booted (needs
                               subordinate ids and a delegated cgroup v2:
                               docs/system-containers.md); run reaches it
                               through an agent inside; end powers it off;
                               --long-lived keeps one sandbox (one set of
                               namespaces) for the session's life, commands
                               reaching it through the same agent, instead
                               of fresh namespaces per command; --no-network
                               gives either only loopback
  run ID [OPTIONS] [--] [CMD...]
                               run CMD (default: the user's login shell)
      -u, --user USER          user inside, by name or number (default root);
                               a name the chroot lacks is added to the session
      -d, --directory DIR      working directory inside (default: the current
                               one when it exists inside, else /)
      --no-network             own network namespace with only lo
      --bind SRC[:DST]         bind host SRC onto DST (default SRC), read-write
      --ro-bind SRC[:DST]      the same, read-only
      --setenv KEY=VALUE       set a variable (repeatable)
      -p, --preserve-environment  keep the caller's environment
      --sync                   let sync, fsync and friends work and the overlay
                               sync at unmount (by default the calls are
                               suppressed and the overlay is volatile: a
                               session is disposable)
      --keep-fd FD             pass inherited fd FD even when it is a
                               directory (directory fds lead out of the
                               session and are not passed otherwise)
  end ID... | --all [--discard] | --orphans
                               remove sessions and everything in them; a
                               source session (begun through schroot's
                               source:NAME) first replaces its tarball with
                               its tree, unless --discard; --orphans ends
                               only the sessions whose owner process is
                               gone (autopkgtest-virt-nook's of a killed
                               run) and prints their ids
  list [--json] [-q|--quiet]   your sessions (--quiet: their ids alone)
  info ID [--json]             one session's state

Commands in one session run one at a time: a second waits, with a message,
until the first ends (an overlay's upper directory must not be used by two
live mounts). Exit status of run: the command's, 128+N for signal N, 127
when it was not found, 126 when it could not be executed, 125 when nook
failed (no such or damaged session, a user it cannot map, a sandbox that
could not be set up), 2 for a usage error.
`

func failf(what, format string, a ...any) int {
	fmt.Fprintf(os.Stderr, "nook %s: %s\n", what, fmt.Sprintf(format, a...))
	return 1
}

// verbHelp answers `nook VERB` without a subcommand (usage on stderr,
// status 2: a usage error) and with --help, -h or help (usage on stdout,
// status 0: the answer asked for); done is false otherwise.
func verbHelp(args []string, usage string) (code int, done bool) {
	if len(args) > 0 && args[0] != "--help" && args[0] != "-h" && args[0] != "help" {
		return 0, false
	}
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return 2, true
	}
	fmt.Print(usage)
	return 0, true
}

// oneDashHelp is a hint for a verb's place taken by -help (or -help=…):
// the help option written with one dash.
func oneDashHelp(word string) string {
	if name, _, _ := strings.Cut(word, "="); name == "-help" {
		return "; for help: --help"
	}
	return ""
}

func newFlags(name string) *flagSet { return newFlagSet(name) }

func parseOrUsage(fs *flagSet, args []string, usage string) (bool, int) {
	return parseVerb(fs, args, usage, -1, "")
}

// parseVerb parses a verb's options (and --help, which prints usage) and
// checks that want operands follow (-1: any number), saying missing when
// they do not. It returns false and the exit status when the verb is done.
func parseVerb(fs *flagSet, args []string, usage string, want int, missing string) (bool, int) {
	help := new(bool)
	fs.BoolVarP(help, "help", "h")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(os.Stderr, "nook %s: %v\n", fs.Name(), err)
		return false, 2
	}
	if *help {
		fmt.Print(usage)
		return false, 0
	}
	if want >= 0 && fs.NArg() != want {
		fmt.Fprintf(os.Stderr, "nook %s: %s\n", fs.Name(), missing)
		return false, 2
	}
	return true, 0
}

// printTable prints rows as aligned columns, as the list verbs do.
func printTable(rows [][]string) {
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	tw.Flush()
}

// printFields prints the non-empty fields of an info verb, one a line,
// after indent.
func printFields(indent string, fields [][2]string) {
	for _, kv := range fields {
		if kv[1] != "" {
			fmt.Printf("%s%-12s %s\n", indent, kv[0], kv[1])
		}
	}
}

func sessionBegin(st *session.Store, args []string) int {
	name, copy, boot, noNet, long := new(string), new(bool), new(bool), new(bool), new(bool)
	fs := newBeginFlags(name, copy, boot, noNet, long)
	if ok, code := parseVerb(fs, args, sessionHelp, 1, "give one chroot name (nook chroot list shows them)"); !ok {
		return code
	}
	progress, end := progressBar(fs.Arg(0))
	res, err := st.Begin(fs.Arg(0), session.BeginOptions{Name: *name, Copy: *copy, Boot: *boot, NoNetwork: *noNet, LongLived: *long, Progress: progress, Busy: func() {
		fmt.Fprintf(os.Stderr, "nook: another nook is unpacking %s; waiting for it\n", fs.Arg(0))
	}})
	end()
	if err != nil {
		return failf("session begin", "%v", err)
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(os.Stderr, "nook: warning: %s\n", w)
	}
	fmt.Println(res.State.ID)
	return 0
}

// runFlags are `nook session run`'s options.
type runFlags struct {
	user, dir               *string
	noNet, preserve, sync   *bool
	binds, roBinds, setenvs *[]string
	keepFds                 *[]string
}

func newRunFlags() (*flagSet, *runFlags) {
	fs := newFlags("session run")
	fs.interspersed = false
	f := &runFlags{user: new(string), dir: new(string), noNet: new(bool), preserve: new(bool), sync: new(bool),
		binds: new([]string), roBinds: new([]string), setenvs: new([]string), keepFds: new([]string)}
	fs.StringVarP(f.user, "user", "u")
	fs.StringVarP(f.dir, "directory", "d")
	fs.BoolVarP(f.noNet, "no-network", "")
	fs.StringArrayVar(f.binds, "bind")
	fs.StringArrayVar(f.roBinds, "ro-bind")
	fs.StringArrayVar(f.setenvs, "setenv")
	fs.BoolVarP(f.preserve, "preserve-environment", "p")
	fs.BoolVarP(f.sync, "sync", "")
	fs.StringArrayVar(f.keepFds, "keep-fd")
	return fs, f
}

// verbFlagSets lists every verb's options, built by the functions the verbs
// parse with: for the help and man page tests and for the shell completion.
// parseVerb adds --help (-h) to each.
func verbFlagSets() map[string]*flagSet {
	run, _ := newRunFlags()
	return map[string]*flagSet{"session run": run, "session begin": newBeginFlags(new(string), new(bool), new(bool), new(bool), new(bool)), "session end": newEndFlags(new(bool), new(bool), new(bool)),
		"session list": newListFlags("session list", new(bool), new(bool)), "session info": newJSONFlags("session info", new(bool)),
		"chroot add": newAddFlags(new([]string), new(string), new(bool)), "chroot create": newCreateFlags(new(string), new(string)),
		"chroot remove": newFlags("chroot remove"), "chroot list": newListFlags("chroot list", new(bool), new(bool)), "chroot info": newJSONFlags("chroot info", new(bool)),
		"cache list": newJSONFlags("cache list", new(bool)), "cache prune": newJSONFlags("cache prune", new(bool)),
		"version": newJSONFlags("version", new(bool))}
}

// newJSONFlags are the options of a verb whose only one is --json.
func newJSONFlags(name string, asJSON *bool) *flagSet {
	fs := newFlags(name)
	fs.BoolVarP(asJSON, "json", "")
	return fs
}

// newListFlags are the list verbs' options: --quiet prints the names
// alone, one a line, for scripts and the shell completion.
func newListFlags(name string, asJSON, quiet *bool) *flagSet {
	fs := newJSONFlags(name, asJSON)
	fs.BoolVarP(quiet, "quiet", "q")
	return fs
}

func newBeginFlags(name *string, copy, boot, noNet, long *bool) *flagSet {
	fs := newFlags("session begin")
	fs.StringVarP(name, "name", "n")
	fs.StringVarP(name, "session-name", "") // schroot's spelling
	fs.BoolVarP(copy, "copy", "")
	fs.BoolVarP(boot, "boot", "")
	fs.BoolVarP(noNet, "no-network", "")
	fs.BoolVarP(long, "long-lived", "")
	return fs
}

func newEndFlags(all, orphans, discard *bool) *flagSet {
	fs := newFlags("session end")
	fs.BoolVarP(all, "all", "")
	fs.BoolVarP(orphans, "orphans", "")
	fs.BoolVarP(discard, "discard", "") // do not pack a source session back
	return fs
}

// SessionRunFailing is `nook session run ARGS…` with failed as the exit
// status of nook's own failures instead of 125: autopkgtest-virt-nook's
// execute prefix, whose protocol keeps 254 and 255 for a testbed's failure
// (autopkgtest reports those as such) and gives the command's own status
// otherwise, 125 included.
func SessionRunFailing(args []string, inherited []int, failed int) int {
	st, err := session.Open()
	if err != nil {
		failf("session run", "%v", err)
		return failed
	}
	return sessionRun(st, args, inherited, failed)
}

func sessionRun(st *session.Store, args []string, inherited []int, failed int) int {
	// Subscribed while the session is read and locked (see
	// sandbox.SubscribeForwarded).
	sigs, listening := sandbox.SubscribeForwarded()
	defer listening() // not stopped: see sandbox.SubscribeForwarded
	fs, f := newRunFlags()
	user, dir, noNet, binds, roBinds, setenv, preserve, sync := f.user, f.dir, f.noNet, f.binds, f.roBinds, f.setenvs, f.preserve, f.sync
	// The id may come first (nook session run ID -u USER -- CMD, as
	// documented) or after the options.
	id := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		id, args = args[0], args[1:]
	}
	if ok, code := parseOrUsage(fs, args, sessionHelp); !ok {
		return code
	}
	cmdArgs := fs.Args()
	if id == "" && len(cmdArgs) > 0 {
		id, cmdArgs = cmdArgs[0], cmdArgs[1:]
		// nook session run -u USER ID -- CMD: the flag parser stopped
		// at the id, so the -- after it is still there.
		if len(cmdArgs) > 0 && cmdArgs[0] == "--" {
			cmdArgs = cmdArgs[1:]
		}
	}
	if id == "" {
		fmt.Fprintln(os.Stderr, "nook session run: give a session id (nook session list shows yours)")
		return 2
	}
	var keep []int
	for _, v := range *f.keepFds {
		fd, err := parseKeepFd(v)
		if err != nil {
			fmt.Fprintf(os.Stderr, "nook session run: %v\n", err)
			return 2
		}
		keep = append(keep, fd)
	}
	kept, err := keptFds("--keep-fd", keep, sandbox.CallerFds(inherited))
	if err != nil {
		fmt.Fprintf(os.Stderr, "nook session run: %v\n", err)
		return 2
	}
	o := session.RunOptions{Args: cmdArgs, User: *user, Dir: *dir, NoNetwork: *noNet, Sync: *sync, CallerEnv: os.Environ()}
	if *preserve {
		o.Env = os.Environ()
	}
	for _, kv := range *setenv {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			fmt.Fprintf(os.Stderr, "nook session run: --setenv %q: want KEY=VALUE\n", kv)
			return 2
		}
		o.Setenv = append(o.Setenv, kv)
	}
	for _, list := range []struct {
		v  []string
		ro bool
	}{{*binds, false}, {*roBinds, true}} {
		for _, b := range list.v {
			src, dst, _ := strings.Cut(b, ":")
			o.Binds = append(o.Binds, session.Bind{Source: src, Dest: dst, ReadOnly: list.ro})
		}
	}
	o.Busy = func(holder string) {
		fmt.Fprintf(os.Stderr, "nook: session %s is busy with %s; this command waits until it ends\n", id, holder)
	}
	cmd, err := st.Prepare(id, o)
	if errors.Is(err, session.ErrBooted) {
		// Into the running container, through its agent.
		listening()
		code, err := st.RunBooted(id, o, os.Stdin, os.Stdout, os.Stderr, sigs)
		if err != nil {
			failf("session run", "%v", err)
			return failed
		}
		return code
	}
	if err != nil {
		failf("session run", "%v", err)
		return failed
	}
	defer cmd.Close()
	for _, n := range cmd.Notes {
		fmt.Fprintf(os.Stderr, "nook: %s\n", n)
	}
	for _, fd := range passedFds(inherited, kept, false) {
		cmd.Spec.Fds = append(cmd.Spec.Fds, sandboxFD(fd))
	}
	return startAndWait(cmd.Spec, sigs, listening, func(se *sandbox.StartError) string {
		return overlayHint(cmd.State.Copy, se)
	}, failed)
}

// overlayHint is the advice for a session whose overlay mount failed
// (either engine): a session begun with --copy needs no overlayfs.
func overlayHint(copied bool, se *sandbox.StartError) string {
	var sf *sandbox.SetupFailure
	if !copied && errors.As(se, &sf) && sf.Op == sandbox.OpOverlay && sf.Phase == sandbox.PhaseMount {
		return "overlayfs was refused here (kernel, filesystem or policy); a session begun with --copy needs none"
	}
	return ""
}

func sessionEnd(st *session.Store, args []string) int {
	all, orphans, discard := new(bool), new(bool), new(bool)
	fs := newEndFlags(all, orphans, discard)
	if ok, code := parseOrUsage(fs, args, sessionHelp); !ok {
		return code
	}
	ids := fs.Args()
	if *orphans {
		if *all || *discard || len(ids) > 0 {
			fmt.Fprintln(os.Stderr, "nook session end: --orphans takes no session ids and no other option")
			return 2
		}
		ended, err := st.EndOrphans()
		for _, id := range ended {
			fmt.Println(id)
		}
		if err != nil {
			return failf("session end", "%v", err)
		}
		return 0
	}
	if *all {
		list, err := st.List()
		if err != nil {
			return failf("session end", "%v", err)
		}
		for _, s := range list {
			ids = append(ids, s.ID)
		}
	} else if len(ids) == 0 {
		fmt.Fprintln(os.Stderr, "nook session end: give session ids, or --all")
		return 2
	}
	rc := 0
	for _, id := range ids {
		busy := func() {
			fmt.Fprintf(os.Stderr, "nook: session %s is busy with a command; ending it waits until that ends\n", id)
		}
		end := st.End
		if *discard {
			end = st.Discard
		}
		err := end(id, busy)
		if err != nil {
			rc = failf("session end", "%v", err)
		}
	}
	return rc
}

// owner names the process a session's life is bound to, for info.
func owner(s *session.State) string {
	switch {
	case s.Owner == nil:
		return ""
	case s.Owner.Gone():
		return fmt.Sprintf("pid %d, gone (an orphan: nook session end --orphans ends it)", s.Owner.PID)
	}
	return fmt.Sprintf("pid %d", s.Owner.PID)
}

// booted says whether a booted session's container runs, for info.
func booted(s *session.State) string {
	switch {
	case !s.Boot:
		return ""
	case s.BootRunning():
		return "yes, running (console: " + s.Dir + "/console.log)"
	}
	return "yes, powered off"
}

// longLived says whether a long-lived session's sandbox runs, for info.
func longLived(s *session.State) string {
	switch {
	case !s.LongLived:
		return ""
	case s.BootRunning():
		return "yes, running"
	}
	return "yes, stopped (end it)"
}

// sessionJSON is the --json form of a session.
type sessionJSON struct {
	ID        string `json:"id"`
	Chroot    string `json:"chroot"`
	Kind      string `json:"kind"`
	Source    string `json:"source"`
	Lower     string `json:"lower"`
	Entry     string `json:"cache_entry,omitempty"`
	IDMode    string `json:"id_mode"`
	Created   string `json:"created"`
	Dir       string `json:"directory"`
	Copy      bool   `json:"copy,omitempty"`
	Boot      bool   `json:"boot,omitempty"`
	LongLived bool   `json:"long_lived,omitempty"`
	NoNetwork bool   `json:"no_network,omitempty"`
	Location  string `json:"location,omitempty"`
	Damaged   bool   `json:"damaged,omitempty"`
	// Owner is the process the session's life is bound to, if any.
	Owner *session.Owner `json:"owner,omitempty"`
	// Orphaned: it has an owner, and the owner is gone.
	Orphaned bool `json:"orphaned,omitempty"`
}

func toJSON(s *session.State) sessionJSON {
	j := sessionJSON{ID: s.ID, Chroot: s.Chroot, Kind: string(s.Kind), Source: s.Source, Lower: s.Lower, Entry: s.Entry,
		IDMode: string(s.IDMode), Dir: s.Dir, Copy: s.Copy, Boot: s.Boot, LongLived: s.LongLived, NoNetwork: s.NoNetwork, Location: s.Location(), Damaged: s.Chroot == "",
		Owner: s.Owner, Orphaned: s.Owner != nil && s.Owner.Gone()}
	if !s.Created.IsZero() {
		j.Created = s.Created.Format("2006-01-02T15:04:05Z")
	}
	return j
}

// printJSONList prints list as a JSON array: [] when it is empty.
func printJSONList[T any](list []T) int {
	if list == nil {
		list = []T{}
	}
	return printJSON(list)
}

func printJSON(v any) int {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return failf("", "%v", err)
	}
	return 0
}

func sessionList(st *session.Store, args []string) int {
	asJSON, quiet := new(bool), new(bool)
	fs := newListFlags("session list", asJSON, quiet)
	if ok, code := parseOrUsage(fs, args, sessionHelp); !ok {
		return code
	}
	list, err := st.List()
	if err != nil {
		return failf("session list", "%v", err)
	}
	if *quiet {
		for _, s := range list {
			printName(s.ID)
		}
		return 0
	}
	if *asJSON {
		out := []sessionJSON{}
		for _, s := range list {
			out = append(out, toJSON(s))
		}
		return printJSON(out)
	}
	var rows [][]string
	for _, s := range list {
		j := toJSON(s)
		if j.Damaged {
			j.Chroot = "(damaged: nook session end removes it)"
		}
		rows = append(rows, []string{j.ID, j.Chroot, j.IDMode, j.Created})
	}
	printTable(rows)
	return 0
}

func sessionInfo(st *session.Store, args []string) int {
	asJSON := new(bool)
	fs := newJSONFlags("session info", asJSON)
	if ok, code := parseVerb(fs, args, sessionHelp, 1, "give one session id"); !ok {
		return code
	}
	s, err := st.Get(fs.Arg(0))
	if err != nil && (s == nil || errors.Is(err, session.ErrNoSession)) {
		return failf("session info", "%v", err)
	}
	if *asJSON {
		return printJSON(toJSON(s))
	}
	j := toJSON(s)
	printFields("", [][2]string{{"Session", j.ID}, {"Chroot", j.Chroot}, {"Kind", j.Kind}, {"Source", j.Source},
		{"Lower layer", j.Lower}, {"Cache entry", j.Entry}, {"Id mapping", j.IDMode}, {"Created", j.Created}, {"Directory", j.Dir}, {"Location", j.Location}, {"Booted", booted(s)}, {"Long-lived", longLived(s)}, {"Owner", owner(s)}})
	if err != nil {
		fmt.Fprintf(os.Stderr, "nook session info: %v\n", err)
		return 1
	}
	return 0
}
