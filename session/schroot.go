package session

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// schrootFileOK accepts the file names schroot itself accepts in chroot.d
// (^[A-Za-z0-9][A-Za-z0-9._-]*$); it also skips the ones dpkg leaves behind.
func schrootFileOK(name string) bool {
	if !namePattern(name, "._-") {
		return false
	}
	for _, s := range []string{".dpkg-old", ".dpkg-dist", ".dpkg-new", ".dpkg-tmp"} {
		if strings.HasSuffix(name, s) {
			return false
		}
	}
	return true
}

// readSchroot reads schroot.conf and then the files of chroot.d in name
// order. Only type=file (a tarball) and type=directory or plain are used;
// others (block devices, LVM and btrfs snapshots, custom) are reported as
// warnings. A name defined twice keeps its first definition, as schroot
// refuses the second.
func readSchroot(conf, dir string) ([]Chroot, []error) {
	files := []string{conf}
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, []error{fmt.Errorf("read schroot chroot.d %s: %w", dir, err)}
	}
	var names []string
	for _, e := range ents {
		if schrootFileOK(e.Name()) && !e.IsDir() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	for _, n := range names {
		files = append(files, filepath.Join(dir, n))
	}
	var out []Chroot
	var warnings []error
	seen := map[string]bool{}
	for _, f := range files {
		secs, err := parseKeyFile(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			warnings = append(warnings, err)
			continue
		}
		for _, s := range secs {
			c, bad, err := schrootChroot(f, s)
			warnings = append(warnings, bad...)
			if err != nil {
				warnings = append(warnings, err)
				continue
			}
			if seen[c.Name] {
				warnings = append(warnings, fmt.Errorf("%s: chroot %q is defined twice in schroot's configuration; the first definition is used", f, c.Name))
				continue
			}
			seen[c.Name] = true
			out = append(out, c)
		}
	}
	return out, warnings
}

type keySection struct {
	name string
	line int
	keys map[string]string
}

// parseKeyFile reads a GLib-style key file as schroot writes them:
// [section] headers, key=value lines, # comments.
func parseKeyFile(path string) ([]keySection, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var secs []keySection
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			name, ok := strings.CutSuffix(line[1:], "]")
			if !ok {
				return nil, fmt.Errorf("%s:%d: malformed section header %q", path, n, line)
			}
			secs = append(secs, keySection{name: name, line: n, keys: map[string]string{}})
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				return nil, fmt.Errorf("%s:%d: expected key=value, found %q", path, n, line)
			}
			if len(secs) == 0 {
				return nil, fmt.Errorf("%s:%d: key %q outside any [section]", path, n, strings.TrimSpace(k))
			}
			secs[len(secs)-1].keys[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return secs, nil
}

// schrootChroot is the chroot section s of file defines, with warnings of
// aliases skipped (validAliases), or why nook does not use it.
func schrootChroot(file string, s keySection) (Chroot, []error, error) {
	where := fmt.Sprintf("%s:%d", file, s.line)
	if err := ValidName(s.name); err != nil {
		return Chroot{}, nil, fmt.Errorf("%s: %w", where, err)
	}
	c := Chroot{Name: s.name, Description: s.keys["description"], Origin: where, Layer: OriginSchroot, Keys: s.keys}
	var aliases []string
	for _, a := range strings.Split(s.keys["aliases"], ",") {
		if a = strings.TrimSpace(a); a != "" {
			aliases = append(aliases, a)
		}
	}
	var bad []error
	c.Aliases, bad = validAliases(where, aliases)
	typ := s.keys["type"]
	if typ == "" {
		typ = "plain"
	}
	switch typ {
	case "file":
		c.Kind, c.Path = KindTarball, s.keys["file"]
	case "directory", "plain":
		c.Kind, c.Path = KindDirectory, s.keys["directory"]
		if c.Path == "" {
			c.Path = s.keys["location"] // the deprecated spelling
		}
	default:
		return Chroot{}, nil, fmt.Errorf("%s: chroot %q has type=%s, which nook does not use (only file, directory and plain)", where, s.name, typ)
	}
	if !filepath.IsAbs(c.Path) {
		return Chroot{}, nil, fmt.Errorf("%s: chroot %q has no absolute path for its %s", where, s.name, typ)
	}
	return c, bad, nil
}
