package schroot

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/nook-project/nook/sandbox"
	"github.com/nook-project/nook/session"
)

// Paths schroot gives PATH.
const (
	rootPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	userPath = "/usr/local/bin:/usr/bin:/bin"
)

// begin starts a session of the chroot t names and returns its id.
func (f *face) begin(t *target) (string, error) {
	d := t.def
	source := t.ns == nsSource
	if err := f.caller.allowed(d, source, ""); err != nil {
		return "", err
	}
	if source && d.schrootType() != "file" {
		return "", &faceError{msg: t.asked + ": nook keeps no source of a directory chroot: a session never writes the directory",
			infos: []string{"Change the directory itself, for example with nook run --bind " + d.keys["directory"] + " / ..."}}
	}
	files, err := beginFiles(d.keys)
	if err != nil {
		return "", err
	}
	keys := map[string]string{}
	for k, v := range d.keys {
		keys[k] = v
	}
	// The name as asked (an alias, say) is what Begin records as the
	// session's selected name (SCHROOT_ALIAS_NAME); it resolves to d.
	res, err := f.store.Begin(t.name, session.BeginOptions{
		Name:   f.o.sessionName,
		Copy:   d.keys["nook.copy"] == "true" && !source,
		Repack: source,
		Files:  files,
		Keys:   keys,
		Busy: func() {
			if !f.o.quiet {
				fmt.Fprintf(f.stderr, "I: another process is unpacking %s; waiting for it\n", d.c.Name)
			}
		},
	})
	if err != nil {
		var exists *session.ExistsError
		if f.o.sessionName != "" && errors.As(err, &exists) {
			return "", &faceError{msg: f.o.sessionName + ": Failed to lock chroot: the session exists already"}
		}
		return "", err
	}
	for _, w := range res.Warnings {
		f.warn("%s", w)
	}
	return res.State.ID, nil
}

// passwdEntry is a host account, as schroot looks users up: on the host.
type passwdEntry struct {
	name, home, shell string
	uid, gid          int
}

func lookupHostUser(name string) (passwdEntry, bool) {
	fh, err := os.Open("/etc/passwd")
	if err != nil {
		return passwdEntry{}, false
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) < 7 || f[0] != name {
			continue
		}
		uid, err1 := strconv.Atoi(f[2])
		gid, err2 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil {
			continue
		}
		return passwdEntry{name: f[0], uid: uid, gid: gid, home: f[5], shell: f[6]}, true
	}
	// Accounts from other NSS sources (LDAP, ...), without a shell.
	if u, err := user.Lookup(name); err == nil {
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return passwdEntry{name: u.Username, uid: uid, gid: gid, home: u.HomeDir, shell: "/bin/sh"}, true
	}
	return passwdEntry{}, false
}

// envFilter returns what a chroot's environment-filter matches. The
// default one, nearly every chroot's, is a list of names and the LD_
// prefix, matched without a regexp: compiling it took about 0.3 ms of a
// fresh process, in every call sbuild makes (it passes -p).
func envFilter(expr string) (func(string) bool, error) {
	if expr == defaultEnvFilter {
		return defaultEnvFiltered, nil
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, err
	}
	return re.MatchString, nil
}

// defaultEnvFiltered is what defaultEnvFilter matches (TestEnvFilter and
// FuzzEnvFilter hold the two together).
func defaultEnvFiltered(k string) bool {
	switch k {
	case "BASH_ENV", "CDPATH", "ENV", "HOSTALIASES", "IFS", "KRB5_CONFIG", "KRBCONFDIR", "KRBTKFILE", "KRB_CONF",
		"LOCALDOMAIN", "NLSPATH", "PATH_LOCALE", "RES_OPTIONS", "TERMINFO", "TERMINFO_DIRS", "TERMPATH":
		return true
	}
	rest, ok := strings.CutPrefix(k, "LD_")
	return ok && !strings.Contains(rest, "\n") // "." matches anything but a newline
}

// environment builds the command's environment as schroot does. Without
// -p: HOME, LOGNAME, USER, SHELL and PATH from the target user's account,
// and TERM. With -p: the caller's environment less what the chroot's
// environment-filter removes; when the target is another user, LOGNAME,
// SHELL and PATH become the target's, and HOME and USER are filled in only
// when missing; for the caller itself only missing ones are filled in.
// Always the SCHROOT_* variables. Sorted, as schroot's are.
func (f *face) environment(d *def, st *session.State, target passwdEntry, shell string, args []string, callerEnv []string) ([]string, error) {
	env := map[string]string{}
	preserve := f.o.preserve || d.keys["preserve-environment"] == "true"
	defPath := userPath
	if target.uid == 0 {
		defPath = rootPath
	}
	if preserve {
		filtered, err := envFilter(d.keys["environment-filter"])
		if err != nil {
			return nil, fmt.Errorf("environment-filter of %s: %w", d.c.Name, err)
		}
		for _, kv := range callerEnv {
			k, v, ok := strings.Cut(kv, "=")
			if ok && k != "" && !filtered(k) {
				env[k] = v
			}
		}
		set := func(k, v string, force bool) {
			if _, ok := env[k]; force || !ok {
				env[k] = v
			}
		}
		other := target.name != f.caller.name
		set("LOGNAME", target.name, other)
		set("SHELL", shell, other || f.o.shell != "")
		set("PATH", defPath, other)
		set("HOME", target.home, false)
		set("USER", target.name, false)
	} else {
		env["HOME"], env["LOGNAME"], env["USER"], env["SHELL"], env["PATH"] = target.home, target.name, target.name, shell, defPath
		for _, kv := range callerEnv {
			if v, ok := strings.CutPrefix(kv, "TERM="); ok {
				env["TERM"] = v
			}
		}
	}
	sel := st.Selected
	if sel == "" {
		sel = st.Chroot
	}
	env["SCHROOT_ALIAS_NAME"] = sel
	env["SCHROOT_CHROOT_NAME"] = st.Chroot
	env["SCHROOT_COMMAND"] = strings.Join(args, " ")
	env["SCHROOT_SESSION_ID"] = st.ID
	env["SCHROOT_UID"] = strconv.Itoa(f.caller.uid)
	env["SCHROOT_GID"] = strconv.Itoa(f.caller.gid)
	env["SCHROOT_USER"] = f.caller.name
	env["SCHROOT_GROUP"] = f.caller.group
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out, nil
}

// isolated reports whether the command gets only a loopback network:
// asked with --isolate-network (sbuild >= 0.89.2 sends it for the build
// to a face whose path contains "unschroot"), or by the definition, for
// sbuild 0.85 which cannot send it: nook.isolate-network=true for every
// command, nook.isolate-network-commands=dpkg-buildpackage for the named
// ones.
func (f *face) isolated(d *def, args []string) bool {
	if f.o.isolateNetwork || d.keys["nook.isolate-network"] == "true" {
		return true
	}
	if len(args) > 0 {
		for _, c := range list(d.keys["nook.isolate-network-commands"]) {
			if path.Base(args[0]) == c {
				return true
			}
		}
	}
	return false
}

// runIn runs the call's command in session st and returns schroot's exit
// status for it.
func (f *face) runIn(st *session.State) int {
	o := f.o
	d := f.sessionDef(st)
	name := o.user
	if name == "" {
		name = f.caller.name
	}
	target, ok := lookupHostUser(name)
	if !ok {
		return f.fail(&faceError{msg: "User ‘" + name + "’ not found"})
	}
	shell := o.shell
	if shell == "" {
		shell = d.keys["shell"]
	}
	if shell == "" {
		shell = target.shell
	}
	args := o.command
	if len(args) > 0 {
		args = append(list(d.keys["command-prefix"]), args...)
	} else if o.shell != "" {
		args = []string{o.shell}
	}
	dir := o.directory
	if dir == "" {
		var err error
		if dir, err = os.Getwd(); err != nil {
			return f.fail(fmt.Errorf("find the current directory: %w", err))
		}
	}
	env, err := f.environment(d, st, target, shell, o.command, os.Environ())
	if err != nil {
		return f.fail(err)
	}
	entries, err := readFstab(profileFile(d.keys, "fstab"))
	if err != nil {
		return f.fail(err)
	}
	mounts, notes := fstabMounts(entries, f.caller.uid)
	if o.verbose {
		for _, n := range notes {
			fmt.Fprintf(f.stderr, "I: %s\n", n)
		}
	}
	ro := session.RunOptions{
		Args:      args,
		User:      name,
		Dir:       dir,
		NoNetwork: f.isolated(d, o.command),
		Sync:      d.keys["nook.sync"] == "true",
		Env:       env,
		Mounts:    mounts,
		Busy: func(holder string) {
			if !o.quiet {
				fmt.Fprintf(f.stderr, "I: %s is busy with %s; waiting\n", st.ID, holder)
			}
		},
	}
	switch pers := d.keys["personality"]; pers {
	case "", "undefined":
	case "linux", "linux32":
		ro.Personality = pers
	default:
		f.warn("personality %s: nook sets only linux and linux32; the command runs with the host's", pers)
	}
	sandbox.Phase("schroot: options")
	cmd, err := f.store.Prepare(st.ID, ro)
	if err != nil {
		return f.fail(err)
	}
	defer cmd.Close()
	sandbox.Phase("schroot: prepared")
	if o.verbose {
		for _, n := range cmd.Notes {
			fmt.Fprintf(f.stderr, "I: %s\n", n)
		}
	}
	return f.wait(cmd.Spec, dir)
}

// wait runs spec with signals forwarded and maps the outcome to schroot's
// conventions: the command's status; 1 with a message for a command that
// could not start or died of a signal.
func (f *face) wait(spec *sandbox.Spec, dir string) int {
	// run subscribed f.sigs for every action that gets here.
	sigs := f.sigs
	spec.BeforeFork = f.listening
	p, err := sandbox.Start(spec)
	if err != nil {
		var se *sandbox.StartError
		if !errors.As(err, &se) {
			return f.fail(err)
		}
		if ok, why := se.WorkDir(); ok {
			return f.fail(&faceError{msg: "Failed to change to directory ‘" + dir + "’: " + capital(why),
				infos: []string{"The directory does not exist inside the chroot.  Use the --directory option to run the command in a different directory."}})
		}
		if se.Code == sandbox.ExitNotFound || se.Code == sandbox.ExitCannotExecute {
			why := "No such file or directory"
			if se.Code == sandbox.ExitCannotExecute {
				why = "Permission denied"
			}
			return f.fail(&faceError{msg: "Failed to execute “" + spec.Args[0] + "”: " + why})
		}
		return f.fail(err)
	}
	status, err := p.ForwardSignalsAndWait(sigs)
	if err != nil {
		return f.fail(err)
	}
	if status.Signal != 0 {
		return f.fail(&faceError{msg: "Child terminated by signal ‘" + capital(status.Signal.String()) + "’"})
	}
	return status.Code
}

func capital(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
