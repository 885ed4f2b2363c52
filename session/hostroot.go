package session

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/nook-project/nook/sandbox"
)

// hostMounts is the tree of a session of the built-in chroot "host" when
// a user namespace is in play.
//
// One overlay over "/" is what real root gets. Inside a user namespace the
// kernel refuses it: the host's submounts (/proc, /sys, /dev, ...) are
// locked to the namespace, and overlayfs cannot take a private clone of a
// mount with locked mounts below the layer, since that would show what
// they cover. So each top-level directory with no mount at or below it
// gets its own overlay (its own upper and work directory in the session);
// directories that are or hold mount points are shown read-only as they
// are; top-level symlinks (/bin -> usr/bin) are recreated. Writing a new
// entry into "/" itself is the one thing this view cannot keep.
func hostMounts(st *State) ([]sandbox.Mount, error) {
	mounted, err := topLevelMounts()
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir("/")
	if err != nil {
		return nil, fmt.Errorf("read the host root: %w", err)
	}
	var ms []sandbox.Mount
	for _, e := range ents {
		name := e.Name()
		p := "/" + name
		switch {
		case name == "proc" || name == "sys" || name == "dev":
			// Fresh ones are mounted for every command.
			continue
		case e.Type()&os.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				continue
			}
			ms = append(ms, sandbox.Mount{Op: sandbox.OpSymlink, Source: target, Dest: p})
		case e.IsDir() && mounted[name]:
			ms = append(ms, sandbox.Mount{Op: sandbox.OpBind, Source: p, Dest: p, ReadOnly: true})
		case e.IsDir():
			fi, err := os.Stat(p)
			if err != nil {
				continue
			}
			upper, work := filepath.Join(st.upper(), name), filepath.Join(st.work(), name)
			if err := os.Mkdir(upper, fi.Mode().Perm()|(fi.Mode()&(os.ModeSticky|os.ModeSetgid))); err != nil && !os.IsExist(err) {
				return nil, fmt.Errorf("create the session's upper directory for %s: %w", p, err)
			}
			if err := os.Mkdir(work, 0o700); err != nil && !os.IsExist(err) {
				return nil, fmt.Errorf("create the session's work directory for %s: %w", p, err)
			}
			// Mkdir applies the umask; the upper's mode is what the
			// command sees for the directory.
			os.Chmod(upper, fi.Mode().Perm()|(fi.Mode()&(os.ModeSticky|os.ModeSetgid)))
			ms = append(ms, sandbox.Mount{Op: sandbox.OpOverlay, Dest: p, Lower: []string{p}, Upper: upper, Work: work})
		}
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Dest < ms[j].Dest })
	return ms, nil
}

// topLevelMounts returns the names of top-level directories that are mount
// points or hold one, from the caller's mountinfo.
func topLevelMounts() (map[string]bool, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read the host's mounts: %w", err)
	}
	defer f.Close()
	out := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := fields[4]
		if mp == "/" {
			continue
		}
		top, _, _ := strings.Cut(strings.TrimPrefix(mp, "/"), "/")
		out[unescapeMountinfo(top)] = true
	}
	return out, sc.Err()
}

// unescapeMountinfo undoes the octal escapes (\040 for a space) of
// /proc/self/mountinfo.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v int
			if _, err := fmt.Sscanf(s[i+1:i+4], "%o", &v); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
