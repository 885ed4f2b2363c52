package attack

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// symlinkTree plants, in the attacker's root tree, links that point at the
// victim on the host: an absolute link, a relative link that climbs out,
// a link to the parent (so /up/victim is the host's victim when followed
// on the host), and links to the victim's file.
func symlinkTree(t *testing.T, root string, v *victim) {
	t.Helper()
	links := map[string]string{
		"abs":   v.dir,
		"rel":   strings.Repeat("../", 12) + strings.TrimPrefix(v.dir, "/"),
		"up":    "..",
		"flink": v.file,
		"frel":  "../victim/file",
		"dlink": v.sub,
	}
	for name, target := range links {
		must(t, os.Symlink(target, filepath.Join(root, name)))
	}
}

// Destinations: new names below a symlinked parent, missing parents below
// one, existing files reached through a symlinked parent, and symlinks as
// the last component.
var (
	newDests   = []string{"/abs/new", "/abs/a/b/new", "/rel/new", "/up/victim/new", "/dlink/new"}
	fileDests  = []string{"/abs/file", "/rel/file", "/up/victim/file", "/flink", "/frel"}
	dirDests   = []string{"/abs/sub", "/dlink", "/up/victim/sub"}
	everywhere = append(append(append([]string{}, newDests...), fileDests...), dirDests...)
)

type destOp struct {
	name  string
	dests []string
	// args makes the options for destination d; src is a host directory
	// of the attacker's with a file "f" in it.
	native func(d, src string) []string
	bwrap  func(d, src string) []string
	fd     bool // passes a file's contents as fd 3
}

var destOps = []destOp{
	{name: "bind", dests: everywhere,
		native: func(d, src string) []string { return []string{"--bind", src, d} },
		bwrap:  func(d, src string) []string { return []string{"--bind", src, d} }},
	{name: "bind-file", dests: everywhere,
		native: func(d, src string) []string { return []string{"--bind", src + "/f", d} },
		bwrap:  func(d, src string) []string { return []string{"--ro-bind", src + "/f", d} }},
	{name: "tmpfs", dests: everywhere,
		native: func(d, _ string) []string { return []string{"--tmpfs", d} },
		bwrap:  func(d, _ string) []string { return []string{"--tmpfs", d} }},
	{name: "dir", dests: everywhere,
		native: func(d, _ string) []string { return []string{"--perms", "0777", "--dir", d} },
		bwrap:  func(d, _ string) []string { return []string{"--perms", "0777", "--dir", d} }},
	{name: "write", dests: everywhere,
		native: func(d, _ string) []string { return []string{"--write", "PWNED\n", d} },
		bwrap:  func(d, _ string) []string { return []string{"--bind-data", "3", d} }, fd: true},
	{name: "file", dests: everywhere,
		native: func(d, _ string) []string { return []string{"--file", "3", d} },
		bwrap:  func(d, _ string) []string { return []string{"--file", "3", d} }, fd: true},
	{name: "symlink", dests: everywhere,
		native: func(d, _ string) []string { return []string{"--symlink", "/PWNED", d} },
		bwrap:  func(d, _ string) []string { return []string{"--symlink", "/PWNED", d} }},
	{name: "overlay", dests: everywhere,
		native: func(d, src string) []string { return []string{"--overlay-src", src, "--tmp-overlay", d} },
		bwrap:  func(d, src string) []string { return []string{"--overlay-src", src, "--tmp-overlay", d} }},
	{name: "chmod", dests: everywhere,
		native: func(d, _ string) []string { return []string{"--chmod", "0777", d} },
		bwrap:  func(d, _ string) []string { return []string{"--chmod", "0777", d} }},
	{name: "remount-ro", dests: dirDests,
		native: func(d, src string) []string { return []string{"--bind", src, d, "--remount-ro", d} },
		bwrap:  func(d, src string) []string { return []string{"--bind", src, d, "--remount-ro", d} }},
}

// runDestAttack runs one face with the attacker's tree as / and the
// operation aimed at d, then checks the victim.
func runDestAttack(t *testing.T, face string, op destOp, d string, sorted bool) {
	base := tempDir(t)
	v := newVictim(t, base)
	root := attackerRoot(t, base)
	symlinkTree(t, root, v)
	src := filepath.Join(base, "src")
	must(t, os.MkdirAll(src, 0o755))
	must(t, os.WriteFile(filepath.Join(src, "f"), []byte("PWNED\n"), 0o644))
	var o runOpts
	if op.fd {
		p := filepath.Join(base, "data")
		must(t, os.WriteFile(p, []byte("PWNED\n"), 0o644))
		f, err := os.Open(p)
		must(t, err)
		defer f.Close()
		o.extra = []*os.File{f}
	}
	var args []string
	if face == "run" {
		args = append([]string{"run"}, userns()...)
		if !sorted {
			args = append(args, "--no-sort")
		}
		args = append(args, "--bind", root, "/")
		args = append(args, op.native(d, src)...)
	} else {
		args = append([]string{"bwrap", "--bind", root, "/"}, op.bwrap(d, src)...)
	}
	args = append(args, "--", "/bin/busybox", "true")
	r := nookWith(t, o, args...)
	v.check(t, strings.Join(args, " ")+" ("+r.String()+")")
	// Nothing may appear next to the tree either.
	ents, _ := os.ReadDir(base)
	for _, e := range ents {
		switch e.Name() {
		case "victim", "root", "src", "data":
		default:
			t.Errorf("%s created %s on the host", strings.Join(args, " "), filepath.Join(base, e.Name()))
		}
	}
}

// TestSymlinkedDestinations: CVE-2026-87766 (a parent symlink resolving
// onto the host while nook creates files under the new root) and the
// destination half of CVE-2024-42472 (a destination that is a symlink to a
// host path): for every operation that creates, mounts or changes
// something, aimed through a symlink in a root tree the attacker controls,
// in both faces, sorted and in command-line order.
func TestSymlinkedDestinations(t *testing.T) {
	for _, face := range []string{"run", "run-no-sort", "bwrap"} {
		for _, op := range destOps {
			t.Run(face+"/"+op.name, func(t *testing.T) {
				for _, d := range op.dests {
					runDestAttack(t, strings.TrimSuffix(face, "-no-sort"), op, d, face != "run-no-sort")
				}
			})
		}
	}
}

// TestBindSourceSymlinkSwap: the source half of CVE-2024-42472 — a bind
// source that names a directory of the attacker's in which a component is
// a symlink to a host directory. The bind follows the source (as bwrap
// does: the caller named it), but it must never make the host directory
// writable when the caller asked for read-only, nor create anything in it.
func TestBindSourceThroughSymlinkStaysReadOnly(t *testing.T) {
	base := tempDir(t)
	v := newVictim(t, base)
	root := attackerRoot(t, base)
	must(t, os.Symlink(v.dir, filepath.Join(base, "lnk")))
	r := nook(t, append(append([]string{"run"}, userns()...), "--bind", root, "/", "--ro-bind", filepath.Join(base, "lnk"), "/mnt",
		"--", "/bin/sh", "-c", "echo PWNED > /mnt/file; echo PWNED > /mnt/new; mkdir /mnt/d; chmod 777 /mnt/sub; true")...)
	v.check(t, "writing into a read-only bind whose source is a symlink ("+r.String()+")")
}
