package schroot

import (
	"bufio"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/nook-project/nook/sandbox/idmap"
	"github.com/nook-project/nook/session"
)

// Namespaces of schroot's chroot names.
const (
	nsChroot  = "chroot"
	nsSource  = "source"
	nsSession = "session"
)

// defaultEnvFilter is schroot's default environment-filter.
const defaultEnvFilter = `^(BASH_ENV|CDPATH|ENV|HOSTALIASES|IFS|KRB5_CONFIG|KRBCONFDIR|KRBTKFILE|KRB_CONF|LD_.*|LOCALDOMAIN|NLSPATH|PATH_LOCALE|RES_OPTIONS|TERMINFO|TERMINFO_DIRS|TERMPATH)$`

// def is one chroot definition as schroot's face sees it: nook's own
// definition and its schroot keys, with schroot's defaults filled in.
type def struct {
	c    session.Chroot
	keys map[string]string
}

// schrootType is the definition's schroot type.
func (d *def) schrootType() string { return d.keys["type"] }

// hasSource reports whether the chroot has a source: twin, as schroot
// gives one to file chroots and to directory chroots with a union type.
func (d *def) hasSource() bool {
	switch d.schrootType() {
	case "file":
		return d.keys["source-clone"] != "false"
	case "directory":
		u := d.keys["union-type"]
		return u != "" && u != "none" && d.keys["source-clone"] != "false"
	}
	return false
}

// restricted reports whether schroot's access lists apply: they do to
// schroot's own definitions; nook's own chroots, sbuild's tarballs and
// the host belong to the caller already.
func (d *def) restricted() bool { return d.c.Layer == session.OriginSchroot }

// newDef fills in the keys schroot shows for a definition.
func newDef(c session.Chroot) *def {
	k := map[string]string{}
	for n, v := range c.Keys {
		k[n] = v
	}
	if _, ok := k["type"]; !ok || c.Layer != session.OriginSchroot {
		switch c.Kind {
		case session.KindTarball:
			k["type"] = "file"
		default:
			k["type"] = "directory"
		}
	}
	switch k["type"] {
	case "file":
		k["file"] = c.Path
		def0(k, "location", "")
		def0(k, "source-clone", "true")
	case "directory", "plain":
		if k["type"] == "plain" {
			k["directory"] = c.Path
		} else {
			k["directory"] = c.Path
			def0(k, "union-type", "none")
		}
	}
	if len(c.Aliases) > 0 {
		def0(k, "aliases", strings.Join(c.Aliases, ","))
	}
	def0(k, "description", c.Description)
	for _, n := range []string{"aliases", "command-prefix", "groups", "root-groups", "root-modifiable-keys", "root-users",
		"shell", "user-modifiable-keys", "users"} {
		def0(k, n, "")
	}
	def0(k, "environment-filter", defaultEnvFilter)
	def0(k, "message-verbosity", "normal")
	def0(k, "preserve-environment", "false")
	if k["script-config"] != "" && k["profile"] == "" {
		// The deprecated spelling names the profile's config file.
		k["profile"] = strings.TrimSuffix(k["script-config"], "/config")
	}
	if c.Layer == session.OriginSchroot {
		// nook's own chroots and sbuild's tarballs get no schroot profile:
		// a session of them through this face is what `nook session`
		// makes.
		def0(k, "profile", "default")
	}
	p := k["profile"]
	if p != "" {
		for _, s := range []string{"config", "copyfiles", "fstab", "nssdatabases"} {
			def0(k, "setup."+s, p+"/"+s)
		}
	}
	d := &def{c: c, keys: k}
	if d.hasSource() {
		for _, n := range []string{"source-groups", "source-root-groups", "source-root-users", "source-users"} {
			def0(k, n, "")
		}
	}
	return d
}

func def0(k map[string]string, name, v string) {
	if _, ok := k[name]; !ok {
		k[name] = v
	}
}

// list splits a comma-separated key.
func list(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// target is what one -c names.
type target struct {
	ns    string
	def   *def           // chroot and source
	state *session.State // session
	// asked is the name as the caller gave it (with any namespace).
	asked string
	// name is the name without a namespace: the chroot, alias or session
	// id it matched.
	name string
}

// catalogue is every chroot and session the caller can name.
type catalogue struct {
	defs     []*def // by name
	hidden   []*def // found by name, never listed (the built-in host)
	sessions []*session.State
	store    *session.Store
}

func loadCatalogue(st *session.Store, withSessions bool) (*catalogue, []error) {
	chroots, warnings := st.Registry.List()
	cat := &catalogue{store: st}
	for _, c := range chroots {
		d := newDef(c)
		if c.Layer == session.OriginBuiltin {
			// -c host works, but schroot's clients are not shown a
			// chroot they never defined.
			cat.hidden = append(cat.hidden, d)
			continue
		}
		cat.defs = append(cat.defs, d)
	}
	if withSessions {
		ss, err := st.List()
		if err != nil {
			warnings = append(warnings, err)
		}
		for _, s := range ss {
			if s.Chroot != "" { // a damaged state is not a session one can use
				cat.sessions = append(cat.sessions, s)
			}
		}
	}
	return cat, warnings
}

// names returns "namespace:name" for every name of the given namespaces,
// sorted as schroot sorts them (by namespace, then name).
func (cat *catalogue) names(chroots, sources, sessions, aliases bool) []string {
	var out []string
	add := func(ns string, names []string) {
		sort.Strings(names)
		for _, n := range names {
			out = append(out, ns+":"+n)
		}
	}
	if chroots {
		var n []string
		for _, d := range cat.defs {
			n = append(n, d.c.Name)
			if aliases {
				n = append(n, d.c.Aliases...)
				if d.hasSource() {
					// schroot 1.6 keeps the legacy ALIAS-source names of
					// its source chroots in the chroot namespace.
					for _, a := range d.c.Aliases {
						n = append(n, a+"-source")
					}
				}
			}
		}
		add(nsChroot, n)
	}
	if sessions {
		var n []string
		for _, s := range cat.sessions {
			n = append(n, s.ID)
		}
		add(nsSession, n)
	}
	if sources {
		var n []string
		for _, d := range cat.defs {
			if d.hasSource() {
				n = append(n, d.c.Name)
				if aliases {
					n = append(n, d.c.Aliases...)
				}
			}
		}
		add(nsSource, n)
	}
	return out
}

// faceError is an error printed the way schroot prints it: "E: msg", then
// each info line as "I: ...".
type faceError struct {
	msg   string
	infos []string
}

func (e *faceError) Error() string { return e.msg }

// notFound is schroot's error for a name it does not know.
func notFound(name string) error { return &faceError{msg: name + ": Chroot not found"} }

// find resolves one -c value. A name without a namespace is looked up in
// defaultNS: "session" for the session actions, "chroot" for the others.
func (cat *catalogue) find(asked, defaultNS string) (*target, error) {
	ns, name, ok := strings.Cut(asked, ":")
	if !ok {
		ns, name = defaultNS, asked
	}
	t := &target{ns: ns, asked: asked, name: name}
	switch ns {
	case nsSession:
		for _, s := range cat.sessions {
			if s.ID == name {
				t.state = s
				return t, nil
			}
		}
	case nsChroot, nsSource:
		if d := cat.byName(name, ns == nsSource); d != nil {
			t.def = d
			return t, nil
		}
		if base, ok := strings.CutSuffix(name, "-source"); ok && ns == nsChroot {
			if d := cat.byName(base, true); d != nil {
				t.ns, t.def = nsSource, d
				return t, nil
			}
		}
	}
	return nil, notFound(asked)
}

// byName finds a definition by its name, then by an alias; source asks
// for one with a source twin.
func (cat *catalogue) byName(name string, source bool) *def {
	for _, byAlias := range []bool{false, true} {
		for _, d := range append(cat.defs, cat.hidden...) {
			if source && !d.hasSource() {
				continue
			}
			if !byAlias && d.c.Name == name {
				return d
			}
			if byAlias {
				for _, a := range d.c.Aliases {
					if a == name {
						return d
					}
				}
			}
		}
	}
	return nil
}

// caller is who runs the face.
type caller struct {
	uid, gid int
	name     string
	group    string
	groups   map[string]bool // names of every group the caller is in
}

func currentCaller() *caller {
	c := &caller{uid: os.Getuid(), gid: os.Getgid(), groups: map[string]bool{}}
	c.name, c.group = strconv.Itoa(c.uid), strconv.Itoa(c.gid)
	c.name = idmap.UserName(c.uid)
	gids, _ := os.Getgroups()
	gids = append(gids, c.gid)
	names := groupNames(gids)
	if n, ok := names[c.gid]; ok {
		c.group = n
	}
	for _, n := range names {
		c.groups[n] = true
	}
	return c
}

// groupNames names the groups gids with one read of /etc/group (os/user
// reads the whole file for every gid); a gid the file does not name is
// looked up through os/user, for other sources.
func groupNames(gids []int) map[int]string {
	names := map[int]string{}
	if f, err := os.Open("/etc/group"); err == nil {
		names = parseGroupNames(f, gids)
		f.Close()
	}
	for _, g := range gids {
		if _, ok := names[g]; !ok {
			if gr, err := user.LookupGroupId(strconv.Itoa(g)); err == nil {
				names[g] = gr.Name
			}
		}
	}
	return names
}

// parseGroupNames reads a group(5) file and names the gids in it, as
// os/user and glibc's files backend read it: the first line of a gid wins;
// comments, NIS lines (+ and -), lines with fewer than four fields or an
// empty name are skipped.
func parseGroupNames(r io.Reader, gids []int) map[int]string {
	want := map[int]bool{}
	for _, g := range gids {
		want[g] = true
	}
	names := map[int]string{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '+' || line[0] == '-' {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) < 4 || f[0] == "" {
			continue
		}
		g, err := strconv.Atoi(f[2])
		if err != nil || !want[g] {
			continue
		}
		if _, seen := names[g]; !seen {
			names[g] = f[0]
		}
	}
	return names
}

// homeEnv names the directory the face keeps the caller's store under
// instead of the caller's home from /etc/passwd: for accounts without a
// home, and for tests. The environment's HOME and XDG_* are not used: the
// face's clients change them from call to call.
const homeEnv = "NOOK_SCHROOT_HOME"

// home is where the caller's nook store lives, and whether it was named
// by NOOK_SCHROOT_HOME (then it is used for root too, instead of the
// system directories).
func (c *caller) home() (string, bool) {
	if h := os.Getenv(homeEnv); filepath.IsAbs(h) {
		return h, true
	}
	if u, err := user.LookupId(strconv.Itoa(c.uid)); err == nil {
		return u.HomeDir, false
	}
	return "", false
}

// errAccess is schroot's refusal of a user not in a chroot's lists.
var errAccess = &faceError{msg: "Access not authorised", infos: []string{"You do not have permission to access the schroot service."}}

// allowed checks schroot's access lists for using the chroot (or its
// source) as the user target inside: a caller in users/groups may enter
// as itself; entering as another user (root, say) needs root-users or
// root-groups, for which schroot would ask for a password that nook
// cannot. Real root may do everything.
func (c *caller) allowed(d *def, source bool, targetUser string) error {
	if c.uid == 0 || !d.restricted() {
		return nil
	}
	pre := ""
	if source {
		pre = "source-"
	}
	in := func(users, groups string) bool {
		for _, u := range list(d.keys[pre+users]) {
			if u == c.name {
				return true
			}
		}
		for _, g := range list(d.keys[pre+groups]) {
			if c.groups[g] {
				return true
			}
		}
		return false
	}
	if in("root-users", "root-groups") {
		return nil
	}
	if in("users", "groups") && (targetUser == "" || targetUser == c.name) {
		return nil
	}
	return errAccess
}
