package schroot

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/nook-project/nook/sandbox"
	"github.com/nook-project/nook/session"
)

// schrootEtc is schroot's configuration directory: schroot.conf,
// chroot.d and the profiles, to which setup.* keys are relative.
var schrootEtc = "/etc/schroot"

// etcEnv names another configuration directory to read instead of
// /etc/schroot, as schroot's own build-time SCHROOT_CONF_DIR does: for
// tests, and for trying a configuration before installing it.
const etcEnv = "NOOK_SCHROOT_ETC"

func profileFile(keys map[string]string, what string) string {
	v := keys["setup."+what]
	if v == "" {
		return ""
	}
	if !filepath.IsAbs(v) {
		v = filepath.Join(schrootEtc, v)
	}
	return v
}

// readList reads a profile list file (copyfiles, nssdatabases): one word a
// line, # comments. A missing file is an empty list, as for schroot.
func readList(path string) ([]string, error) {
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read profile file %s: %w", path, err)
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, strings.Fields(line)[0])
	}
	return out, nil
}

// beginFiles are the files a profile puts into a new session: its
// copyfiles (host files copied to the same path) and its nssdatabases (the
// host's databases: passwd, group, ... as /etc/DB). A caller who cannot
// read the host's shadow or gshadow (anyone but root) gets versions made
// from passwd and group with every password locked: the accounts exist
// inside, no password hash leaves the host either way for a user.
func beginFiles(keys map[string]string) ([]session.File, error) {
	var files []session.File
	copies, err := readList(profileFile(keys, "copyfiles"))
	if err != nil {
		return nil, err
	}
	for _, p := range copies {
		if !filepath.IsAbs(p) {
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			// schroot warns and goes on when a file to copy is missing.
			continue
		}
		files = append(files, session.File{Path: filepath.Clean(p), Data: data, Mode: 0o644})
	}
	dbs, err := readList(profileFile(keys, "nssdatabases"))
	if err != nil {
		return nil, err
	}
	for _, db := range dbs {
		if strings.ContainsAny(db, "/.") {
			continue
		}
		f, ok := nssFile(db)
		if ok {
			files = append(files, f)
		}
	}
	return files, nil
}

// nssFile is the host's database db as a file for the session.
func nssFile(db string) (session.File, bool) {
	p := "/etc/" + db
	mode := os.FileMode(0o644)
	if db == "shadow" || db == "gshadow" {
		mode = 0o640
	}
	data, err := os.ReadFile(p)
	if err == nil {
		return session.File{Path: p, Data: data, Mode: mode}, true
	}
	switch db {
	case "shadow":
		return session.File{Path: p, Data: lockedFrom("/etc/passwd", ":*:19000:0:99999:7:::\n"), Mode: mode}, true
	case "gshadow":
		return session.File{Path: p, Data: lockedFrom("/etc/group", ":*::\n"), Mode: mode}, true
	}
	return session.File{}, false
}

// lockedFrom makes a shadow-style file: every name of src with suffix.
func lockedFrom(src, suffix string) []byte {
	data, _ := os.ReadFile(src)
	var b bytes.Buffer
	for _, line := range strings.Split(string(data), "\n") {
		if name, _, ok := strings.Cut(line, ":"); ok && name != "" && !strings.HasPrefix(name, "#") {
			b.WriteString(name + suffix)
		}
	}
	return b.Bytes()
}

// fstabEntry is one line of a profile's fstab.
type fstabEntry struct {
	source, dest, fstype string
	options              []string
}

func readFstab(path string) ([]fstabEntry, error) {
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read profile fstab %s: %w", path, err)
	}
	var out []fstabEntry
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		e := fstabEntry{source: f[0], dest: filepath.Clean(f[1]), fstype: f[2]}
		if len(f) > 3 {
			e.options = strings.Split(f[3], ",")
		}
		out = append(out, e)
	}
	return out, nil
}

// provided are the mount points every session command gets fresh anyway.
var provided = map[string]bool{"/proc": true, "/sys": true, "/dev": true, "/dev/pts": true, "/dev/shm": true}

// fstabMounts turns a profile's fstab into mounts of one command. /proc,
// /sys, /dev/pts and /dev/shm are skipped: every command has its own. A
// tmpfs is a fresh tmpfs. A bind of a host directory is made as asked for
// real root; for a user, only of a directory the user owns: a bind of
// root's directory (sbuild's /var/lib/sbuild/build on /build) would give
// root inside a directory it can neither chown nor chmod, which the
// clients do to it, so the directory is the session's own instead (it is
// made inside when first used). Other file systems are skipped; notes say
// what was.
func fstabMounts(entries []fstabEntry, uid int) (mounts []sandbox.Mount, notes []string) {
	for _, e := range entries {
		if provided[e.dest] || !filepath.IsAbs(e.dest) {
			continue
		}
		opts := map[string]bool{}
		for _, o := range e.options {
			opts[o] = true
		}
		switch {
		case e.fstype == "tmpfs":
			mounts = append(mounts, sandbox.Mount{Op: sandbox.OpTmpfs, Dest: e.dest})
		case opts["bind"] || opts["rbind"]:
			var st unix.Stat_t
			if err := unix.Stat(e.source, &st); err != nil {
				notes = append(notes, fmt.Sprintf("fstab: %s on %s skipped: %v", e.source, e.dest, err))
				continue
			}
			if uid != 0 && int(st.Uid) != uid {
				notes = append(notes, fmt.Sprintf("fstab: %s on %s: the directory belongs to uid %d, not you; the session's own %s is used", e.source, e.dest, st.Uid, e.dest))
				continue
			}
			mounts = append(mounts, sandbox.Mount{Op: sandbox.OpBind, Source: e.source, Dest: e.dest, ReadOnly: opts["ro"]})
		default:
			notes = append(notes, fmt.Sprintf("fstab: %s (%s) on %s skipped: nook mounts only binds and tmpfs", e.source, e.fstype, e.dest))
		}
	}
	return mounts, notes
}
