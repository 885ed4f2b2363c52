package session

import (
	"fmt"
	"os"
	"path/filepath"
)

// Dirs are the directories a Store keeps its files in. Each is private to
// its user (mode 0700), so one user never sees another's sessions or cache.
type Dirs struct {
	// Config holds nook's own chroot definitions (chroot.d/NAME.json).
	Config string
	// Cache holds unpacked chroot tarballs.
	Cache string
	// State holds the sessions.
	State string
	// SbuildCache is where sbuild's unshare mode keeps its tarballs.
	SbuildCache string
}

// DefaultDirs returns the XDG base directories of the caller
// ($XDG_CONFIG_HOME/nook, $XDG_CACHE_HOME/nook, $XDG_STATE_HOME/nook), or
// for real root /etc/nook, /var/cache/nook and /var/lib/nook. An XDG
// variable set explicitly wins for root too, which is how tests isolate.
func DefaultDirs() (Dirs, error) {
	home := os.Getenv("HOME")
	root := os.Geteuid() == 0
	pick := func(env, rootDir, homeRel string) (string, error) {
		if v := os.Getenv(env); filepath.IsAbs(v) {
			return filepath.Join(v, "nook"), nil
		}
		if root {
			return rootDir, nil
		}
		if home == "" {
			return "", fmt.Errorf("neither $%s nor $HOME is set: cannot tell where nook keeps its files", env)
		}
		return filepath.Join(home, homeRel, "nook"), nil
	}
	var d Dirs
	var err error
	if d.Config, err = pick("XDG_CONFIG_HOME", "/etc/nook", ".config"); err != nil {
		return d, err
	}
	if d.Cache, err = pick("XDG_CACHE_HOME", "/var/cache/nook", ".cache"); err != nil {
		return d, err
	}
	if d.State, err = pick("XDG_STATE_HOME", "/var/lib/nook", ".local/state"); err != nil {
		return d, err
	}
	// sbuild looks in $XDG_CACHE_HOME/sbuild, else ~/.cache/sbuild, for
	// root too.
	if v := os.Getenv("XDG_CACHE_HOME"); filepath.IsAbs(v) {
		d.SbuildCache = filepath.Join(v, "sbuild")
	} else if home != "" {
		d.SbuildCache = filepath.Join(home, ".cache", "sbuild")
	}
	return d, nil
}

// HomeDirs are the directories of a caller whose home is home, without
// looking at the environment: for real root the system directories, else
// the XDG defaults under home. The schroot face uses them, because its
// clients call it with environments that differ from call to call (sbuild
// passes no HOME to most commands, and HOME=/sbuild-nonexistent to the
// build), yet every call must find the same sessions.
//
// system asks for the system directories (real root's store).
func HomeDirs(home string, system bool) (Dirs, error) {
	if system {
		return Dirs{Config: "/etc/nook", Cache: "/var/cache/nook", State: "/var/lib/nook", SbuildCache: filepath.Join(home, ".cache", "sbuild")}, nil
	}
	if !filepath.IsAbs(home) {
		return Dirs{}, fmt.Errorf("no home directory: cannot tell where nook keeps its files")
	}
	return Dirs{
		Config:      filepath.Join(home, ".config", "nook"),
		Cache:       filepath.Join(home, ".cache", "nook"),
		State:       filepath.Join(home, ".local", "state", "nook"),
		SbuildCache: filepath.Join(home, ".cache", "sbuild"),
	}, nil
}

// privateDir makes dir (and missing parents) and makes sure dir itself is
// mode 0700 and owned by the caller: the cache and the sessions of one user
// must not be readable by another.
func privateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create directory %s: %w", dir, err)
	}
	st, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("check directory %s: %w", dir, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if st.Mode().Perm() != 0o700 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("make %s private: %w", dir, err)
		}
	}
	return nil
}
