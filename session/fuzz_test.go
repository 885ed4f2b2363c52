package session

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzKeyFile: schroot's key files (and nook's reading of chroot
// definitions from them) never panic; what parses has sections with
// names and keys without surrounding space.
func FuzzKeyFile(f *testing.F) {
	f.Add("[bookworm]\ntype=file\nfile=/srv/b.tar\naliases=a,b\n")
	f.Add("# comment\n\n[x]\ntype=directory\ndirectory=/srv/x\nunion-type=overlay\n[y]\ntype=plain\nlocation=/y\n")
	f.Add("key=outside\n[bad\n")
	f.Fuzz(func(t *testing.T, text string) {
		dir := t.TempDir()
		p := filepath.Join(dir, "conf")
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		secs, err := parseKeyFile(p)
		if err != nil {
			return
		}
		for _, s := range secs {
			for k, v := range s.keys {
				if k != strings.TrimSpace(k) || v != strings.TrimSpace(v) {
					t.Fatalf("key %q = %q keeps spaces", k, v)
				}
			}
			if c, _, err := schrootChroot(p, s); err == nil {
				if ValidName(c.Name) != nil || !filepath.IsAbs(c.Path) {
					t.Fatalf("definition %+v accepted", c)
				}
				for _, a := range c.Aliases {
					if ValidName(a) != nil {
						t.Fatalf("alias %q of %+v accepted", a, c)
					}
				}
			}
		}
		readSchroot(p, filepath.Join(dir, "none"))
	})
}

// FuzzStoreFiles: nook's own chroot definitions (chroot.d/NAME.json) and
// session state files (sessions/ID/state.json), as hostile or damaged as
// they come, are read without a panic; a state that reads back names its
// own id and, if any, a cache entry of the SHA256-MODE form.
func FuzzStoreFiles(f *testing.F) {
	f.Add([]byte(`{"kind":"tarball","path":"/srv/b.tar","aliases":["a"]}`))
	f.Add([]byte(`{"id":"x","chroot":"bb","kind":"tarball","entry":"x-/../..","id_mode":"subids","lower":"/"}`))
	f.Add([]byte(`{"id":"y","chroot":"bb","entry":"` + strings.Repeat("a", 64) + `-single"}`))
	f.Add([]byte("\x00{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		d := Dirs{Config: filepath.Join(dir, "config"), Cache: filepath.Join(dir, "cache"), State: filepath.Join(dir, "state")}
		os.MkdirAll(filepath.Join(d.Config, "chroot.d"), 0o700)
		os.MkdirAll(filepath.Join(d.State, "sessions", "x"), 0o700)
		os.WriteFile(filepath.Join(d.Config, "chroot.d", "x.json"), data, 0o600)
		os.WriteFile(filepath.Join(d.State, "sessions", "x", "state.json"), data, 0o600)
		s := OpenDirs(d)
		s.Registry.SchrootConf, s.Registry.SchrootDir, s.Registry.SbuildDir = "/nonexistent", "/nonexistent", ""
		s.Registry.All()
		s.Registry.Lookup("x")
		st, err := s.Get("x")
		if err == nil {
			if st.ID != "x" || (st.Entry != "" && !validEntryName(st.Entry)) {
				t.Fatalf("state accepted with id %q, entry %q", st.ID, st.Entry)
			}
		}
		s.List()
	})
}
