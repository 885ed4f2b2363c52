package session

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// registryFixture lays out nook's own definitions, a schroot
// configuration and an sbuild tarball directory, all defining "dup".
func registryFixture(t *testing.T) *Registry {
	t.Helper()
	base := t.TempDir()
	r := &Registry{Dir: filepath.Join(base, "nook", "chroot.d"), SchrootConf: filepath.Join(base, "schroot", "schroot.conf"),
		SchrootDir: filepath.Join(base, "schroot", "chroot.d"), SbuildDir: filepath.Join(base, "sbuild")}
	for _, d := range []string{r.SchrootDir, r.SbuildDir, filepath.Join(base, "dirchroot")} {
		os.MkdirAll(d, 0o755)
	}
	tarball := filepath.Join(base, "t.tar")
	os.WriteFile(tarball, makeTar(t, []ent{{Name: "./", Type: '5'}}), 0o644)
	os.WriteFile(r.SchrootConf, []byte(`# schroot.conf
[dup]
type=directory
directory=`+base+`/dirchroot
description=from schroot.conf
aliases=dup-alias, shared-alias

[lvm]
type=lvm-snapshot
`), 0o644)
	os.WriteFile(filepath.Join(r.SchrootDir, "bookworm-amd64-sbuild"), []byte(`[bookworm-amd64-sbuild]
description=Debian bookworm/amd64 autobuilder
type=file
file=`+tarball+`
groups=root,sbuild
root-groups=root,sbuild
profile=sbuild
aliases=bookworm,sid-amd64-sbuild
`), 0o644)
	os.WriteFile(filepath.Join(r.SchrootDir, "ignored.dpkg-old"), []byte("[ignored]\ntype=file\nfile=/x\n"), 0o644)
	os.WriteFile(filepath.Join(r.SbuildDir, "dup.tar.zst"), nil, 0o644)
	os.WriteFile(filepath.Join(r.SbuildDir, "trixie-amd64.tar"), nil, 0o644)
	return r
}

func TestRegistryLayers(t *testing.T) {
	r := registryFixture(t)
	list, warnings := r.List()
	if len(warnings) != 1 || !strings.Contains(warnings[0].Error(), "type=lvm-snapshot") {
		t.Errorf("warnings: %v (want one, for the lvm chroot)", warnings)
	}
	var got []string
	for _, c := range list {
		got = append(got, c.Name+":"+string(c.Kind)+":"+c.Layer)
	}
	want := []string{"bookworm-amd64-sbuild:tarball:schroot", "dup:directory:schroot", "host:host:built-in", "trixie-amd64:tarball:sbuild"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("list (-want +got):\n%s", d)
	}
	// Aliases resolve; the "chroot:" prefix is schroot's namespace.
	for _, n := range []string{"bookworm", "chroot:bookworm", "sid-amd64-sbuild"} {
		c, err := r.Lookup(n)
		if err != nil || c.Name != "bookworm-amd64-sbuild" {
			t.Errorf("lookup %s: %v %v", n, c.Name, err)
		}
	}
	// nook's own definition shadows schroot's, which shadows sbuild's;
	// info shows all three, the winner first.
	if _, err := r.Add("dup", filepath.Join(filepath.Dir(r.SbuildDir), "t.tar"), []string{"mine"}, "nook's"); err != nil {
		t.Fatal(err)
	}
	defs := r.Definitions("dup")
	var layers []string
	for _, d := range defs {
		layers = append(layers, d.Layer)
	}
	if d := cmp.Diff([]string{"nook", "schroot", "sbuild"}, layers); d != "" {
		t.Errorf("definitions of dup (-want +got):\n%s", d)
	}
	if c, _ := r.Lookup("dup"); c.Layer != OriginNook || c.Kind != KindTarball {
		t.Errorf("dup resolves to %+v, want nook's tarball", c)
	}
	if !strings.HasSuffix(defs[1].Origin, "schroot.conf:2") {
		t.Errorf("schroot definition's origin %q does not name file and line", defs[1].Origin)
	}
	// A real name wins over another definition's alias.
	if _, err := r.Add("bookworm", filepath.Join(filepath.Dir(r.SbuildDir), "dirchroot"), nil, ""); err != nil {
		t.Fatal(err)
	}
	if c, _ := r.Lookup("bookworm"); c.Layer != OriginNook {
		t.Errorf("bookworm resolves to %s's definition, want nook's own name over schroot's alias", c.Layer)
	}
	// Only nook's own definitions can be removed here.
	if err := r.Remove("trixie-amd64"); err == nil || !strings.Contains(err.Error(), "only reads") {
		t.Errorf("remove of an sbuild chroot: %v", err)
	}
	if err := r.Remove("dup"); err != nil {
		t.Errorf("remove dup: %v", err)
	}
	if err := r.Remove("dup"); err == nil {
		t.Errorf("second remove of dup succeeded")
	}
	if c, _ := r.Lookup("dup"); c.Layer != OriginSchroot {
		t.Errorf("after remove, dup is %s's", c.Layer)
	}
	if _, err := r.Lookup("nothing"); !errors.Is(err, ErrNoChroot) {
		t.Errorf("lookup of an unknown name: %v", err)
	}
	if _, err := r.Add("dup2", "/nonexistent/x.tar", nil, ""); err == nil {
		t.Errorf("add of a missing source succeeded")
	}
	if _, err := r.Add("bad/name", "/", nil, ""); err == nil {
		t.Errorf("add of a bad name succeeded")
	}
}

func TestSniff(t *testing.T) {
	tarHead := make([]byte, 512)
	copy(tarHead[257:], "ustar\x0000")
	for _, c := range []struct {
		head []byte
		want Compression
	}{
		{[]byte{0x1f, 0x8b, 8, 0}, Gzip},
		{[]byte{0x28, 0xb5, 0x2f, 0xfd, 0}, Zstd},
		{[]byte{0xfd, '7', 'z', 'X', 'Z', 0, 0}, Xz},
		{[]byte("BZh91AY"), Bzip2},
		{tarHead, None},
	} {
		got, err := Sniff(c.head)
		if err != nil || got != c.want {
			t.Errorf("Sniff(% x…) = %v, %v; want %v", c.head[:4], got, err, c.want)
		}
	}
	if _, err := Sniff([]byte("PK\x03\x04 a zip file")); err == nil {
		t.Errorf("a zip file was taken for a tarball")
	}
}

// TestNamePattern checks the hand-written name checks against the regular
// expressions they replace (kept out of the binary for its start-up time).
func TestNamePattern(t *testing.T) {
	chrootRE := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]*$`)
	schrootRE := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	for _, s := range []string{"", "a", "Z9", "9", "bookworm", "bookworm-amd64.tar", "a+b", "a_b", "-a", ".a", "_a", "+a",
		"a b", "a/b", "a\n", "\na", "é", "aé", "a:b", "a..b", "a-", "sid.dpkg-old", "A.B_C-D+E"} {
		if got, want := ValidName(s) == nil, chrootRE.MatchString(s); got != want {
			t.Errorf("ValidName(%q) ok = %v, the regexp says %v", s, got, want)
		}
		if got, want := namePattern(s, "._-"), schrootRE.MatchString(s); got != want {
			t.Errorf("namePattern(%q, schroot's) = %v, the regexp says %v", s, got, want)
		}
	}
}

// An alias that is no name, in nook's own definition (written by hand:
// chroot add refuses one) or in schroot's configuration, is skipped with
// one warning naming it and where it is, and is neither listed nor looked
// up: shell completion puts what nook lists on a command line.
func TestAliasesAreNames(t *testing.T) {
	base := t.TempDir()
	r := &Registry{Dir: filepath.Join(base, "chroot.d"), SchrootConf: filepath.Join(base, "schroot.conf"),
		SchrootDir: filepath.Join(base, "none"), SbuildDir: filepath.Join(base, "none")}
	os.MkdirAll(r.Dir, 0o755)
	hostile := []string{"x$(touch /tmp/pwned)", "a b", "`id`", "-rf", ".hidden"}
	os.WriteFile(r.SchrootConf, []byte("[fromschroot]\ntype=directory\ndirectory=/srv\naliases=s-ok, "+strings.Join(hostile, ", ")+"\n"), 0o644)
	own, _ := json.Marshal(ownFile{Kind: KindDirectory, Path: "/srv", Aliases: append([]string{"n-ok"}, hostile...)})
	os.WriteFile(filepath.Join(r.Dir, "fromnook.json"), own, 0o644)

	list, warnings := r.List()
	aliases := map[string][]string{}
	for _, c := range list {
		aliases[c.Name] = c.Aliases
	}
	if d := cmp.Diff(map[string][]string{"fromnook": {"n-ok"}, "fromschroot": {"s-ok"}, "host": nil}, aliases); d != "" {
		t.Errorf("aliases listed (-want +got):\n%s", d)
	}
	for _, h := range hostile {
		var n int
		for _, w := range warnings {
			if strings.Contains(w.Error(), strconv.Quote(h)) {
				n++
			}
		}
		if n != 2 {
			t.Errorf("alias %q: %d warnings, want one for each definition; warnings: %v", h, n, warnings)
		}
		if _, err := r.Lookup(h); !errors.Is(err, ErrNoChroot) {
			t.Errorf("lookup of alias %q: %v, want ErrNoChroot", h, err)
		}
	}
	for _, w := range warnings {
		if !strings.Contains(w.Error(), "fromnook.json") && !strings.Contains(w.Error(), "schroot.conf:1") {
			t.Errorf("warning %q does not say where the alias is", w)
		}
	}
	for _, ok := range []string{"n-ok", "s-ok"} {
		if _, err := r.Lookup(ok); err != nil {
			t.Errorf("lookup of the valid alias %s: %v", ok, err)
		}
	}
}
