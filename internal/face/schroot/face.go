package schroot

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nook-project/nook/sandbox"
	"github.com/nook-project/nook/session"
)

// Run is the schroot face: argv0 is the name nook was called by, args the
// rest of the command line. It returns the exit status.
func Run(argv0 string, args []string, version string) int {
	f := &face{stdout: os.Stdout, stderr: os.Stderr, version: version, now: time.Now}
	return f.run(args)
}

// face is one call of the schroot face.
type face struct {
	stdout, stderr io.Writer
	version        string
	now            func() time.Time
	o              *options
	store          *session.Store
	caller         *caller
	// sigs, once subscribed (sandbox.SubscribeForwarded) by an action
	// that runs commands, and listening, which waits for that.
	sigs      chan os.Signal
	listening func()
}

func (f *face) errorf(format string, a ...any) {
	fmt.Fprintf(f.stderr, "E: "+format+"\n", a...)
}

// fail prints err the way schroot prints its errors and returns 1, its
// status for every failure of its own.
func (f *face) fail(err error) int {
	var ue *usageError
	var fe *faceError
	switch {
	case errors.As(err, &ue):
		f.errorf("%s", ue.msg)
		fmt.Fprintln(f.stderr, "I: Run “schroot --help” to list usage example and all available options")
	case errors.As(err, &fe):
		f.errorf("%s", fe.msg)
		for _, i := range fe.infos {
			fmt.Fprintf(f.stderr, "I: %s\n", i)
		}
	default:
		f.errorf("%v", err)
	}
	return 1
}

func (f *face) warn(format string, a ...any) {
	if !f.o.quiet {
		fmt.Fprintf(f.stderr, "W: "+format+"\n", a...)
	}
}

func (f *face) run(args []string) int {
	o, err := parse(args)
	if err != nil {
		return f.fail(err)
	}
	f.o = o
	if o.action == actRun || o.action == actAutomatic {
		// Subscribed while the catalogue and the session are read.
		f.sigs, f.listening = sandbox.SubscribeForwarded()
		defer f.listening() // not stopped: see sandbox.SubscribeForwarded
	}
	switch o.action {
	case actHelp:
		fmt.Fprint(f.stdout, helpText)
		return 0
	case actVersion:
		fmt.Fprintf(f.stdout, "schroot (nook %s) 1.6.13\nnook's schroot face: schroot 1.6's command line over nook's sessions.\n", f.version)
		return 0
	case actBegin:
		if len(o.chroots) != 1 {
			return f.fail(&usageError{"Exactly one chroot must be specified when beginning a session"})
		}
	}
	if o.sessionName != "" && session.ValidName(o.sessionName) != nil {
		return f.fail(&usageError{"Invalid session name"})
	}
	for _, kv := range o.settings {
		// -o sets keys for setup scripts, which nook does not run; the
		// keys nook reads itself come from the definition.
		f.warn("option %q: nook runs no setup scripts; ignored", kv)
	}
	f.caller = currentCaller()
	home, own := f.caller.home()
	dirs, err := session.HomeDirs(home, !own && os.Geteuid() == 0)
	if err != nil {
		return f.fail(err)
	}
	st := session.OpenDirs(dirs)
	if etc := os.Getenv(etcEnv); filepath.IsAbs(etc) {
		schrootEtc = etc
	}
	st.Registry.SchrootConf = filepath.Join(schrootEtc, "schroot.conf")
	st.Registry.SchrootDir = filepath.Join(schrootEtc, "chroot.d")
	f.store = st
	var cat *catalogue
	targets, ok := f.sessionsOnly()
	if !ok {
		var warnings []error
		cat, warnings = loadCatalogue(st, true)
		if f.o.verbose {
			for _, w := range warnings {
				f.warn("%v", w)
			}
		}
		targets, err = f.select_(cat)
	}
	sandbox.Phase("schroot: catalogue")
	if err != nil {
		return f.fail(err)
	}
	switch o.action {
	case actList:
		return f.list(cat, targets)
	case actInfo:
		return f.info(targets)
	case actConfig:
		return f.config(targets)
	case actLocation:
		return f.location(targets)
	case actBegin:
		id, err := f.begin(targets[0])
		if err != nil {
			return f.fail(err)
		}
		fmt.Fprintln(f.stdout, id)
		return 0
	case actRecover:
		return 0 // a nook session needs no recovery: nothing of it is mounted
	case actRun:
		rc := 0
		for _, t := range targets {
			if rc = f.runIn(t.state); rc != 0 {
				return rc
			}
		}
		return rc
	case actEnd:
		for _, t := range targets {
			if err := f.end(t.state); err != nil {
				return f.fail(err)
			}
		}
		return 0
	}
	return f.automatic(targets)
}

// sessionsOnly resolves the -c names of a session action (run, end,
// recover) straight from the session store, without reading every chroot
// definition: a build runs about a hundred of them. It reports false when
// the call needs the whole catalogue.
func (f *face) sessionsOnly() ([]*target, bool) {
	o := f.o
	if o.action != actRun && o.action != actEnd && o.action != actRecover {
		return nil, false
	}
	if o.all || o.allChroots || o.allSessions || o.allSources || len(o.chroots) == 0 {
		return nil, false
	}
	var out []*target
	for _, n := range o.chroots {
		ns, name, ok := strings.Cut(n, ":")
		if !ok {
			ns, name = nsSession, n
		}
		if ns != nsSession {
			return nil, false // the catalogue says what it is instead
		}
		st, err := f.store.Get(name)
		if err != nil || st.Chroot == "" {
			return nil, false
		}
		out = append(out, &target{ns: nsSession, state: st, name: name, asked: n})
	}
	return out, true
}

// select_ resolves the chroots the call is about: every -c, or the
// --all* sets, or the action's default.
func (f *face) select_(cat *catalogue) ([]*target, error) {
	o := f.o
	sessionAction := o.action == actRun || o.action == actEnd || o.action == actRecover
	defaultNS := nsChroot
	if sessionAction {
		defaultNS = nsSession
	}
	all := o.all || o.allChroots || o.allSessions || o.allSources
	if !all {
		names := o.chroots
		if len(names) == 0 {
			switch {
			case sessionAction:
				return nil, &faceError{msg: "The specified chroots are not defined in ‘/etc/schroot/schroot.conf’"}
			case o.action == actAutomatic:
				names = []string{"default"}
			case o.action == actList:
				return nil, nil
			case o.action == actInfo:
				// info without -c shows every chroot and source chroot,
				all, o.allChroots, o.allSources = true, true, true
			default:
				// config and location only the chroots.
				all, o.allChroots = true, true
			}
		}
		if !all {
			var out []*target
			for _, n := range names {
				t, err := cat.find(n, defaultNS)
				if err != nil {
					return nil, err
				}
				if sessionAction && t.ns != nsSession {
					return nil, notFound(n)
				}
				if (o.action == actBegin || o.action == actAutomatic) && t.ns == nsSession {
					return nil, notFound(n)
				}
				out = append(out, t)
			}
			return out, nil
		}
	}
	var out []*target
	if o.all || o.allChroots {
		for _, d := range cat.defs {
			out = append(out, &target{ns: nsChroot, def: d, name: d.c.Name, asked: d.c.Name})
		}
	}
	if o.all || o.allSessions {
		for _, s := range cat.sessions {
			out = append(out, &target{ns: nsSession, state: s, name: s.ID, asked: s.ID})
		}
	}
	if o.all || o.allSources {
		for _, d := range cat.defs {
			if d.hasSource() {
				out = append(out, &target{ns: nsSource, def: d, name: d.c.Name, asked: d.c.Name})
			}
		}
	}
	if sessionAction {
		var s []*target
		for _, t := range out {
			if t.ns == nsSession {
				s = append(s, t)
			}
		}
		out = s
	}
	return out, nil
}

func (f *face) list(cat *catalogue, targets []*target) int {
	o := f.o
	if len(o.chroots) > 0 {
		// schroot echoes the names it was asked about, once it knows them.
		for _, t := range targets {
			fmt.Fprintln(f.stdout, t.asked)
		}
		return 0
	}
	chroots, sources, sessions := true, true, false
	if o.all || o.allChroots || o.allSessions || o.allSources {
		chroots, sources, sessions = o.all || o.allChroots, o.all || o.allSources, o.all || o.allSessions
	}
	for _, n := range cat.names(chroots, sources, sessions, !o.excludeAliases) {
		fmt.Fprintln(f.stdout, n)
	}
	return 0
}

// sessionDef is the definition a session was begun from: the keys kept
// in its state, or (a session begun by `nook session begin`) the current
// definition of its chroot.
func (f *face) sessionDef(st *session.State) *def {
	c := session.Chroot{Name: st.Chroot, Kind: st.Kind, Path: st.Source, Keys: st.Keys}
	if st.Keys != nil {
		c.Layer = session.OriginSchroot
		return newDef(c)
	}
	if cur, err := f.store.Registry.Lookup(st.Chroot); err == nil {
		return newDef(cur)
	}
	return newDef(c)
}

func (f *face) info(targets []*target) int {
	for i, t := range targets {
		if i > 0 {
			fmt.Fprintln(f.stdout)
		}
		switch t.ns {
		case nsSession:
			writeInfo(f.stdout, "Session", infoFields(f.sessionDef(t.state), nsSession, t.state, f.caller.name))
		case nsSource:
			writeInfo(f.stdout, "Source", infoFields(t.def, nsSource, nil, f.caller.name))
		default:
			writeInfo(f.stdout, "Chroot", infoFields(t.def, nsChroot, nil, f.caller.name))
		}
	}
	return 0
}

func (f *face) config(targets []*target) int {
	var secs []configSection
	for _, t := range targets {
		var name string
		var keys map[string]string
		if t.ns == nsSource {
			continue // schroot 1.6 prints no section for a source chroot
		}
		if t.ns == nsSession {
			name, keys = configKeys(f.sessionDef(t.state), nsSession, t.state, f.caller.name)
		} else {
			name, keys = configKeys(t.def, t.ns, nil, f.caller.name)
		}
		secs = append(secs, configSection{name: name, keys: keys})
	}
	writeConfig(f.stdout, f.version, f.now(), secs)
	return 0
}

func (f *face) location(targets []*target) int {
	for _, t := range targets {
		if t.ns == nsSession {
			fmt.Fprintln(f.stdout, location(t.state))
		} else {
			// A chroot that is not in a session has no location of
			// its own, for schroot's file and directory types alike.
			fmt.Fprintln(f.stdout, t.def.keys["location"])
		}
	}
	return 0
}

// automatic is schroot's default action: begin a session, run the
// command (or a login shell) in it, end it.
func (f *face) automatic(targets []*target) int {
	rc := 0
	for _, t := range targets {
		id, err := f.begin(t)
		if err != nil {
			return f.fail(err)
		}
		st, err := f.store.Get(id)
		if err != nil {
			return f.fail(err)
		}
		rc = f.runIn(st)
		if err := f.end(st); err != nil {
			f.fail(err)
			if rc == 0 {
				rc = 1
			}
		}
		if rc != 0 {
			return rc
		}
	}
	return rc
}

// end ends a session; a source session first replaces its tarball with
// its tree. With -f a session whose packing fails is ended anyway.
func (f *face) end(st *session.State) error {
	busy := func() {
		if !f.o.quiet {
			fmt.Fprintf(f.stderr, "I: %s: a command still runs in it; ending waits for it\n", st.ID)
		}
	}
	err := f.store.End(st.ID, busy)
	if err != nil && f.o.force && st.Repack != "" {
		f.warn("%v", err)
		return f.store.Discard(st.ID, busy)
	}
	return err
}
