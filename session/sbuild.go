package session

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// readSbuild lists sbuild's unshare-mode tarballs: every file NAME.t* in
// dir is the chroot NAME, as sbuild names them (bookworm-amd64.tar.zst is
// "bookworm-amd64"). When two files give the same name, the first in name
// order wins, as in sbuild's own glob.
func readSbuild(dir string) []Chroot {
	if dir == "" {
		return nil
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var files []string
	for _, e := range ents {
		if e.Type().IsRegular() || e.Type()&os.ModeSymlink != 0 {
			files = append(files, e.Name())
		}
	}
	sort.Strings(files)
	seen := map[string]bool{}
	var out []Chroot
	for _, f := range files {
		i := strings.Index(f, ".t")
		if i <= 0 {
			continue
		}
		name := f[:i]
		if ValidName(name) != nil || seen[name] {
			continue
		}
		seen[name] = true
		p := filepath.Join(dir, f)
		out = append(out, Chroot{Name: name, Kind: KindTarball, Path: p, Origin: p, Layer: OriginSbuild})
	}
	return out
}
