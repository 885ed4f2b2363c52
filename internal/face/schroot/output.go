package schroot

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nook-project/nook/session"
)

// field is one "Key  Value" line of --info; sub lines are indented under
// it (User Data).
type field struct {
	key, value string
	sub        []field
}

// writeInfo prints one --info block as schroot does: a header line, then
// two-space indented keys padded to the block's longest key (a User Data
// key counts two more, for its deeper indent) and two spaces before each
// value. With schroot's own keys the values start in column 25.
func writeInfo(w io.Writer, header string, fields []field) {
	width := 0
	for _, f := range fields {
		width = max(width, len(f.key))
		for _, s := range f.sub {
			width = max(width, len(s.key)+2)
		}
	}
	fmt.Fprintf(w, "  ─── %s ───\n", header)
	for _, f := range fields {
		fmt.Fprintf(w, "  %-*s  %s\n", width, f.key, f.value)
		for _, s := range f.sub {
			fmt.Fprintf(w, "    %-*s  %s\n", width-2, s.key, s.value)
		}
	}
}

// infoFields is a chroot's --info in the namespace ns ("chroot" or
// "source"), or a session's when st is set.
func infoFields(d *def, ns string, st *session.State, callerName string) []field {
	k := d.keys
	desc := k["description"]
	typ := d.schrootType()
	session := st != nil
	users, groups, rootUsers, rootGroups, aliases := k["users"], k["groups"], k["root-users"], k["root-groups"], k["aliases"]
	managed, cloned, purged := "true", "false", "false"
	switch {
	case session:
		desc += " (session chroot)"
		users, groups, rootUsers, rootGroups, aliases = "", "", callerName, "", ""
		managed = "false"
		if typ == "file" || d.hasSource() {
			purged = "true"
		}
	case ns == nsSource:
		desc += " (source chroot)"
		users, groups, rootUsers, rootGroups = k["source-users"], k["source-groups"], k["source-root-users"], k["source-root-groups"]
	case d.hasSource():
		cloned = "true"
	}
	f := []field{
		{key: "Name", value: d.c.Name},
		{key: "Description", value: desc},
		{key: "Type", value: typ},
		{key: "Message Verbosity", value: k["message-verbosity"]},
		{key: "Users", value: spaced(users)},
		{key: "Groups", value: spaced(groups)},
		{key: "Root Users", value: spaced(rootUsers)},
		{key: "Root Groups", value: spaced(rootGroups)},
		{key: "Aliases", value: spaced(aliases)},
		{key: "Preserve Environment", value: k["preserve-environment"]},
		{key: "Default Shell", value: k["shell"]},
		{key: "Environment Filter", value: k["environment-filter"]},
		{key: "Run Setup Scripts", value: "true"},
		{key: "Configuration Profile", value: k["profile"]},
		{key: "Script Configuration", value: k["script-config"]},
		{key: "Session Managed", value: managed},
		{key: "Session Cloned", value: cloned},
		{key: "Session Purged", value: purged},
	}
	if session {
		f[0].value = st.ID
		loc := location(st)
		f = append(f, field{key: "Mount Location", value: loc}, field{key: "Path", value: loc})
	}
	switch typ {
	case "file":
		repack := "false"
		if (ns == nsSource && !session) || (session && st.Repack != "") {
			repack = "true"
		}
		f = append(f, field{key: "File", value: k["file"]}, field{key: "File Repack", value: repack})
	case "directory", "plain":
		f = append(f, field{key: "Directory", value: k["directory"]})
	}
	personality := k["personality"]
	if personality == "" {
		personality = "undefined"
	}
	f = append(f, field{key: "Personality", value: personality},
		field{key: "User Modifiable Keys", value: spaced(k["user-modifiable-keys"])},
		field{key: "Root Modifiable Keys", value: spaced(k["root-modifiable-keys"])})
	ud := field{key: "User Data"}
	for _, n := range sortedKeys(k) {
		if strings.Contains(n, ".") {
			ud.sub = append(ud.sub, field{key: n, value: k[n]})
		}
	}
	f = append(f, ud)
	if typ == "directory" {
		f = append(f, field{key: "Filesystem Union Type", value: k["union-type"]})
	}
	if ns == nsChroot && !session && d.hasSource() {
		f = append(f, field{key: "Source Users", value: spaced(k["source-users"])},
			field{key: "Source Groups", value: spaced(k["source-groups"])},
			field{key: "Source Root Users", value: spaced(k["source-root-users"])},
			field{key: "Source Root Groups", value: spaced(k["source-root-groups"])})
	}
	if session {
		sel := st.Selected
		if sel == "" {
			sel = st.Chroot
		}
		f = append(f, field{key: "Original Chroot Name", value: st.Chroot},
			field{key: "Selected Chroot Name", value: sel},
			field{key: "Session ID", value: st.ID})
	}
	return f
}

// spaced turns a comma list into schroot's space-separated display.
func spaced(v string) string { return strings.Join(list(v), " ") }

func sortedKeys(k map[string]string) []string {
	out := make([]string, 0, len(k))
	for n := range k {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// configKeys is a chroot's (or session's) --config section: its keys,
// sorted, every key clients index present even when empty.
func configKeys(d *def, ns string, st *session.State, callerName string) (string, map[string]string) {
	k := map[string]string{}
	for n, v := range d.keys {
		k[n] = v
	}
	name := d.c.Name
	switch {
	case st != nil:
		name = st.ID
		k["description"] += " (session chroot)"
		for _, n := range []string{"aliases", "groups", "root-groups", "users"} {
			k[n] = ""
		}
		k["root-users"] = callerName
		for _, n := range []string{"source-clone", "source-groups", "source-root-groups", "source-root-users", "source-users"} {
			delete(k, n)
		}
		loc := location(st)
		k["mount-location"] = loc
		k["name"] = st.ID
		k["original-name"] = st.Chroot
		sel := st.Selected
		if sel == "" {
			sel = st.Chroot
		}
		k["selected-name"] = sel
		if d.schrootType() == "file" {
			k["file-repack"] = strconv.FormatBool(st.Repack != "")
		}
	case ns == nsSource:
		k["description"] += " (source chroot)"
		for _, n := range []string{"source-clone", "source-groups", "source-root-groups", "source-root-users", "source-users"} {
			delete(k, n)
		}
		if d.schrootType() == "file" {
			k["file-repack"] = "true"
		}
	}
	return name, k
}

// writeConfig prints sections as schroot's --config does.
func writeConfig(w io.Writer, version string, now time.Time, sections []configSection) {
	fmt.Fprintf(w, "# schroot configuration generated by nook %s (schroot 1.6.13's face) on %s\n", version, now.Format("2 Jan 2006"))
	for _, s := range sections {
		fmt.Fprintf(w, "\n[%s]\n", s.name)
		for _, n := range sortedKeys(s.keys) {
			fmt.Fprintf(w, "%s=%s\n", n, s.keys[n])
		}
	}
}

type configSection struct {
	name string
	keys map[string]string
}

// location is where a session's tree is on the host. A copy session has
// the whole tree there. An overlay session has only its upper layer: every
// file the session made or changed, and the place where files written from
// the host (autopkgtest's copies into its test directory) appear to the
// next command. A definition asks for a copy with nook.copy=true (see
// docs/schroot-compat.md: piuparts walks the whole tree from the host).
func location(st *session.State) string {
	if l := st.Location(); l != "" {
		return l
	}
	return st.Dir + "/upper"
}
