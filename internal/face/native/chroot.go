package native

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/nook-project/nook/sandbox"
	"github.com/nook-project/nook/session"
)

func sandboxFD(fd int) sandbox.FD { return sandbox.FD{Inside: fd, Outside: fd} }

// Chroot is `nook chroot VERB …`.
func Chroot(args []string) int {
	return runVerb("chroot", args, chrootHelp, chrootVerbs())
}

// chrootVerbs are `nook chroot`'s verbs (also listed by the completion).
func chrootVerbs() []verb {
	return []verb{
		{name: "add", run: chrootAdd}, {name: "remove", run: chrootRemove}, {name: "list", run: chrootList},
		{name: "info", run: chrootInfo}, {name: "create", run: chrootCreate},
	}
}

const chrootHelp = `usage: nook chroot VERB [OPTIONS] [ARGS]

A chroot is a name and a source: a tarball (tar, or compressed with gzip,
xz, zstd or bzip2; told apart by content, not by name), a directory, or the
host's root (the built-in chroot "host").

  add NAME SOURCE [--alias A]... [--description D] [--copy]
                        define a chroot (stored in nook's config directory:
                        $XDG_CONFIG_HOME/nook/chroot.d, /etc/nook for root);
                        a tarball is read to its end first (by
                        nook-unpack, when installed), so an empty,
                        truncated or non-tar file is named here; --copy
                        makes its sessions private full copies
  remove NAME           remove one of nook's own definitions
  list [--json] [-q|--quiet]
                        every chroot, with where it is defined
                        (--quiet: the names and aliases alone)
  info NAME [--json]    one chroot, and every definition of its name
  create NAME SUITE [--variant V] [--mirror URL]
                        make a Debian tarball with mmdebstrap and add it

Definitions are also read, never written, from /etc/schroot/schroot.conf
and /etc/schroot/chroot.d/* (type=file and type=directory) and from
sbuild's unshare-mode tarballs ($XDG_CACHE_HOME/sbuild/NAME.t*). When a
name is defined more than once, the first of these wins: nook's own,
schroot's, sbuild's, the built-in host. Aliases are looked at only when no
definition has the name itself.
`

func newAddFlags(aliases *[]string, desc *string, copy *bool) *flagSet {
	fs := newFlags("chroot add")
	fs.StringArrayVar(aliases, "alias")
	fs.StringVarP(desc, "description", "")
	fs.BoolVarP(copy, "copy", "")
	return fs
}

func newCreateFlags(variant, mirror *string) *flagSet {
	fs := newFlags("chroot create")
	*variant = "buildd"
	fs.StringVarP(variant, "variant", "")
	fs.StringVarP(mirror, "mirror", "")
	return fs
}

func chrootAdd(st *session.Store, args []string) int {
	aliases, desc, copy := new([]string), new(string), new(bool)
	fs := newAddFlags(aliases, desc, copy)
	if ok, code := parseVerb(fs, args, chrootHelp, 2, "give NAME and SOURCE (a tarball or a directory)"); !ok {
		return code
	}
	if _, err := st.Registry.AddChroot(session.Chroot{Name: fs.Arg(0), Path: fs.Arg(1), Aliases: *aliases, Description: *desc, Copy: *copy}); err != nil {
		return failf("chroot add", "%v", err)
	}
	return 0
}

func chrootRemove(st *session.Store, args []string) int {
	fs := newFlags("chroot remove")
	if ok, code := parseVerb(fs, args, chrootHelp, 1, "give one chroot name"); !ok {
		return code
	}
	if err := st.Registry.Remove(fs.Arg(0)); err != nil {
		return failf("chroot remove", "%v", err)
	}
	return 0
}

func chrootList(st *session.Store, args []string) int {
	asJSON, quiet := new(bool), new(bool)
	fs := newListFlags("chroot list", asJSON, quiet)
	if ok, code := parseOrUsage(fs, args, chrootHelp); !ok {
		return code
	}
	list, warnings := st.Registry.List()
	if *quiet {
		// Names and aliases, what session begin takes; warnings
		// still go to stderr.
		for _, w := range warnings {
			fmt.Fprintf(os.Stderr, "nook: warning: %v\n", w)
		}
		for _, c := range list {
			printName(c.Name)
			for _, a := range c.Aliases {
				printName(a)
			}
		}
		return 0
	}
	for _, w := range warnings {
		fmt.Fprintf(os.Stderr, "nook: warning: %v\n", w)
	}
	if *asJSON {
		return printJSONList(list)
	}
	var rows [][]string
	for _, c := range list {
		rows = append(rows, []string{c.Name, string(c.Kind), c.Path, c.Layer})
	}
	printTable(rows)
	return 0
}

func chrootInfo(st *session.Store, args []string) int {
	asJSON := new(bool)
	fs := newJSONFlags("chroot info", asJSON)
	if ok, code := parseVerb(fs, args, chrootHelp, 1, "give one chroot name"); !ok {
		return code
	}
	defs := st.Registry.Definitions(fs.Arg(0))
	if len(defs) == 0 {
		_, err := st.Registry.Lookup(fs.Arg(0))
		return failf("chroot info", "%v", err)
	}
	if *asJSON {
		return printJSON(map[string]any{"name": fs.Arg(0), "used": defs[0], "definitions": defs})
	}
	for i, c := range defs {
		if i == 0 {
			fmt.Printf("%s (used)\n", c.Name)
		} else {
			fmt.Printf("\n%s (shadowed by the one above)\n", c.Name)
		}
		printFields("  ", [][2]string{{"Kind", string(c.Kind)}, {"Source", c.Path}, {"Aliases", strings.Join(c.Aliases, " ")},
			{"Description", c.Description}, {"Sessions", map[bool]string{true: "full copies", false: "overlays"}[c.Copy]}, {"Defined by", c.Layer}, {"Defined in", c.Origin}})
	}
	return 0
}

// chrootCreate makes a Debian tarball with mmdebstrap (as the caller; it
// uses its own unshare mode without root) into the cache directory and
// adds it.
func chrootCreate(st *session.Store, args []string) int {
	variant, mirror := new(string), new(string)
	fs := newCreateFlags(variant, mirror)
	if ok, code := parseVerb(fs, args, chrootHelp, 2, "give NAME and SUITE (e.g. bookworm)"); !ok {
		return code
	}
	name, suite := fs.Arg(0), fs.Arg(1)
	if err := session.ValidName(name); err != nil {
		return failf("chroot create", "%v", err)
	}
	mm, err := exec.LookPath("mmdebstrap")
	if err != nil {
		return failf("chroot create", "mmdebstrap is not installed; install the Debian package mmdebstrap (apt-get install mmdebstrap)")
	}
	dir := filepath.Join(st.Dirs.Cache, "tarballs")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return failf("chroot create", "create %s: %v", dir, err)
	}
	out := filepath.Join(dir, name+".tar")
	argv := []string{"--variant=" + *variant, "--format=tar", suite, out + ".tmp"}
	if *mirror != "" {
		argv = append(argv, *mirror)
	}
	c := exec.Command(mm, argv...)
	c.Stdout, c.Stderr = os.Stderr, os.Stderr
	if err := c.Run(); err != nil {
		os.Remove(out + ".tmp")
		return failf("chroot create", "mmdebstrap %s: %v", strings.Join(argv, " "), err)
	}
	if err := os.Rename(out+".tmp", out); err != nil {
		return failf("chroot create", "%v", err)
	}
	if _, err := st.Registry.Add(name, out, nil, "Debian "+suite+" ("+*variant+"), made by mmdebstrap"); err != nil {
		return failf("chroot create", "%v", err)
	}
	return 0
}

// printName prints a name for list --quiet, if it is one (session.ValidName).
// Shell completion puts these words on a command line, so the registry's
// check of names and aliases as it reads them is not the only one: a word
// that could be anything else is left out here too.
func printName(name string) {
	if session.ValidName(name) == nil {
		fmt.Println(name)
	}
}
