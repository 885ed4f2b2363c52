package session

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Kind is what a chroot's source is.
type Kind string

const (
	// KindTarball is a tar archive, plain or compressed; sessions run on
	// an unpacked copy from the cache.
	KindTarball Kind = "tarball"
	// KindDirectory is a directory tree, used as the overlay's lower layer
	// and never written.
	KindDirectory Kind = "directory"
	// KindHost is the host's root: a session is a writable throwaway view
	// of the running system.
	KindHost Kind = "host"
)

// Chroot is one definition of a chroot.
type Chroot struct {
	Name        string   `json:"name"`
	Kind        Kind     `json:"kind"`
	Path        string   `json:"path,omitempty"`
	Aliases     []string `json:"aliases,omitempty"`
	Description string   `json:"description,omitempty"`
	// Origin says where the definition comes from: a file, or "built-in".
	Origin string `json:"origin"`
	// Layer is the definition's source in precedence order: OriginNook,
	// OriginSchroot, OriginSbuild or OriginBuiltin.
	Layer string `json:"layer"`
	// Copy makes every session of the chroot a private full copy.
	Copy bool `json:"copy,omitempty"`
	// Keys are a schroot definition's keys, as written in its file.
	Keys map[string]string `json:"-"`
}

// The layers of definitions, highest precedence first.
const (
	OriginNook    = "nook"
	OriginSchroot = "schroot"
	OriginSbuild  = "sbuild"
	OriginBuiltin = "built-in"
)

// HostChroot is the built-in chroot "host".
var HostChroot = Chroot{Name: "host", Kind: KindHost, Path: "/", Description: "the host's root, as a writable throwaway copy", Origin: "built-in", Layer: OriginBuiltin}

// ValidName reports whether s can name a chroot, an alias or a session: a
// letter or digit, then letters, digits and . _ + -; at most 200 bytes.
func ValidName(s string) error {
	if len(s) > 200 || !namePattern(s, "._+-") {
		return fmt.Errorf("%q is not a valid name (letters, digits and . _ + -, starting with a letter or digit)", s)
	}
	return nil
}

// validAliases keeps the aliases that are valid names and warns of each
// other one, naming where (the definition read). An alias is a word
// session begin takes and shell completion puts on a command line (from
// nook chroot list --quiet), so one a hand-edited definition or schroot's
// configuration gives that is no name (a "$(...)", a space) is skipped
// rather than offered, as a definition named so is.
func validAliases(where string, aliases []string) ([]string, []error) {
	var ok []string
	var warnings []error
	for _, a := range aliases {
		if err := ValidName(a); err != nil {
			warnings = append(warnings, fmt.Errorf("%s: alias skipped: %w", where, err))
			continue
		}
		ok = append(ok, a)
	}
	return ok, warnings
}

// namePattern reports whether s is a letter or digit followed by letters,
// digits and bytes of punct (ASCII only). A loop rather than a regexp:
// compiling one at start-up costs every nook invocation.
func namePattern(s, punct string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || strings.IndexByte(punct, c) < 0) {
			return false
		}
	}
	return s != ""
}

// Registry finds chroot definitions. The zero value is not usable; see
// NewRegistry.
type Registry struct {
	// Dir is nook's own definitions directory (Dirs.Config/chroot.d).
	Dir string
	// SchrootConf and SchrootDir are schroot's configuration, read only.
	SchrootConf, SchrootDir string
	// SbuildDir is sbuild's unshare-mode tarball directory.
	SbuildDir string
}

// NewRegistry returns the registry for dirs, reading schroot's
// configuration from its usual place.
func NewRegistry(d Dirs) *Registry {
	return &Registry{
		Dir:         filepath.Join(d.Config, "chroot.d"),
		SchrootConf: "/etc/schroot/schroot.conf",
		SchrootDir:  "/etc/schroot/chroot.d",
		SbuildDir:   d.SbuildCache,
	}
}

// All returns every definition from every layer, in precedence order: nook's
// own, then schroot's (schroot.conf, then chroot.d in name order), then
// sbuild's tarballs, then the built-in host. Problems with single files are
// returned as warnings; they do not hide the other definitions.
func (r *Registry) All() (defs []Chroot, warnings []error) {
	own, w := r.own()
	defs = append(defs, own...)
	warnings = append(warnings, w...)
	sc, w := readSchroot(r.SchrootConf, r.SchrootDir)
	defs = append(defs, sc...)
	warnings = append(warnings, w...)
	defs = append(defs, readSbuild(r.SbuildDir)...)
	defs = append(defs, HostChroot)
	return defs, warnings
}

// List returns the definition that wins for each name, sorted by name.
func (r *Registry) List() ([]Chroot, []error) {
	all, warnings := r.All()
	seen := map[string]bool{}
	var out []Chroot
	for _, c := range all {
		if seen[c.Name] {
			continue
		}
		seen[c.Name] = true
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, warnings
}

// ErrNoChroot is wrapped by Lookup's error for an unknown name.
var ErrNoChroot = errors.New("no such chroot")

// Lookup finds the chroot called name: a definition's own name first, in
// precedence order, then an alias, in precedence order. A "chroot:" prefix
// (schroot's namespace) is accepted.
func (r *Registry) Lookup(name string) (Chroot, error) {
	name = strings.TrimPrefix(name, "chroot:")
	all, _ := r.All()
	for _, c := range all {
		if c.Name == name {
			return c, nil
		}
	}
	for _, c := range all {
		for _, a := range c.Aliases {
			if a == name {
				return c, nil
			}
		}
	}
	return Chroot{}, fmt.Errorf("%w %q (nook chroot list shows the known ones; nook chroot add NAME SOURCE defines one)", ErrNoChroot, name)
}

// Definitions returns every definition of name (by name or alias), the
// winning one first.
func (r *Registry) Definitions(name string) []Chroot {
	name = strings.TrimPrefix(name, "chroot:")
	all, _ := r.All()
	var byName, byAlias []Chroot
	for _, c := range all {
		if c.Name == name {
			byName = append(byName, c)
			continue
		}
		for _, a := range c.Aliases {
			if a == name {
				byAlias = append(byAlias, c)
				break
			}
		}
	}
	return append(byName, byAlias...)
}

// ownFile is the on-disk form of one of nook's own definitions.
type ownFile struct {
	Kind        Kind     `json:"kind"`
	Path        string   `json:"path"`
	Aliases     []string `json:"aliases,omitempty"`
	Description string   `json:"description,omitempty"`
	Copy        bool     `json:"copy,omitempty"`
}

func (r *Registry) own() ([]Chroot, []error) {
	ents, err := os.ReadDir(r.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, []error{fmt.Errorf("read chroot definitions in %s: %w", r.Dir, err)}
	}
	var out []Chroot
	var warnings []error
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || ValidName(name) != nil {
			continue
		}
		p := filepath.Join(r.Dir, e.Name())
		var f ownFile
		if err := readJSON(p, &f); err != nil {
			warnings = append(warnings, fmt.Errorf("read chroot definition %s: %w", p, err))
			continue
		}
		aliases, bad := validAliases("chroot definition "+p, f.Aliases)
		warnings = append(warnings, bad...)
		out = append(out, Chroot{Name: name, Kind: f.Kind, Path: f.Path, Aliases: aliases,
			Description: f.Description, Origin: p, Layer: OriginNook, Copy: f.Copy})
	}
	return out, warnings
}

// Add stores a new definition of nook's own. source is a tarball or a
// directory (which one is found by looking at it). A name nook already
// defines must be removed first; a name defined elsewhere (schroot, sbuild)
// is shadowed, and Info shows both.
func (r *Registry) Add(name, source string, aliases []string, description string) (Chroot, error) {
	return r.AddChroot(Chroot{Name: name, Path: source, Aliases: aliases, Description: description})
}

// AddChroot is Add with every field of the definition: Name, Path (the
// source), Aliases, Description and Copy; Kind is found by looking.
func (r *Registry) AddChroot(c Chroot) (Chroot, error) {
	name, source, aliases, description := c.Name, c.Path, c.Aliases, c.Description
	if err := ValidName(name); err != nil {
		return Chroot{}, err
	}
	for _, a := range aliases {
		if err := ValidName(a); err != nil {
			return Chroot{}, fmt.Errorf("alias: %w", err)
		}
	}
	abs, err := filepath.Abs(source)
	if err != nil {
		return Chroot{}, fmt.Errorf("find %s: %w", source, err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return Chroot{}, fmt.Errorf("chroot source: %w", err)
	}
	f := ownFile{Path: abs, Aliases: aliases, Description: description, Copy: c.Copy}
	switch {
	case st.IsDir():
		f.Kind = KindDirectory
	case st.Mode().IsRegular():
		if st.Size() == 0 {
			return Chroot{}, fmt.Errorf("%w: %s is empty (0 bytes)", ErrBadTarball, abs)
		}
		if _, err := sniffFile(abs); err != nil {
			return Chroot{}, fmt.Errorf("%w: %w", ErrBadTarball, err)
		}
		// Read to the end now: a truncated download otherwise passes
		// here and fails at the first session begin.
		if err := checkTarball(abs); err != nil {
			return Chroot{}, err
		}
		f.Kind = KindTarball
	default:
		return Chroot{}, fmt.Errorf("chroot source %s is neither a tarball nor a directory", abs)
	}
	if err := os.MkdirAll(r.Dir, 0o755); err != nil {
		return Chroot{}, fmt.Errorf("create %s: %w", r.Dir, err)
	}
	p := filepath.Join(r.Dir, name+".json")
	if _, err := os.Lstat(p); err == nil {
		return Chroot{}, fmt.Errorf("chroot %q is already defined in %s; remove it first (nook chroot remove %s)", name, p, name)
	}
	if err := writeJSONAtomic(p, f); err != nil {
		return Chroot{}, err
	}
	return Chroot{Name: name, Kind: f.Kind, Path: abs, Aliases: aliases, Description: description, Origin: p, Layer: OriginNook, Copy: c.Copy}, nil
}

// Remove deletes one of nook's own definitions. Definitions from schroot
// and sbuild are read-only and cannot be removed here.
func (r *Registry) Remove(name string) error {
	if err := ValidName(name); err != nil {
		return err
	}
	p := filepath.Join(r.Dir, name+".json")
	err := os.Remove(p)
	if errors.Is(err, fs.ErrNotExist) {
		for _, c := range r.Definitions(name) {
			if c.Name == name {
				return fmt.Errorf("chroot %q is defined in %s (%s), which nook only reads; change it there", name, c.Origin, c.Layer)
			}
		}
		return fmt.Errorf("%w %q among nook's own definitions in %s", ErrNoChroot, name, r.Dir)
	}
	if err != nil {
		return fmt.Errorf("remove chroot definition %s: %w", p, err)
	}
	return nil
}
