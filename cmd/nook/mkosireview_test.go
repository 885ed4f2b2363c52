package main

import (
	"strings"
	"testing"
)

// Cases found by review (review2), run by TestMkosiDifferential beside
// the others: each is a command line Debian 13's mkosi-sandbox runs, and
// nook must do what it does.
func init() {
	mkosiCases = append(mkosiCases,
		// sandbox.py chases a destination inside the new root
		// (chase(newroot, dst)), so a dangling symlink there leads to its
		// target, which --dir, --write and --tmpfs then make: image trees
		// hold such links (/var/run -> ../run before /run exists).
		diffCase{name: "dir through a dangling symlink", args: cat(mMin, w("--symlink", "/x", "/y", "--dir", "/y"), sh("stat -c '%a %F' /x"))},
		diffCase{name: "write through a dangling symlink", args: cat(mMin, w("--symlink", "/x", "/y", "--write", "hi", "/y"), sh("cat /x"))},
		diffCase{name: "tmpfs through a dangling symlink", args: cat(mMin, w("--symlink", "/x", "/y", "--tmpfs", "/y"), sh("stat -c '%a %F' /x"))},
		// Links only the built root shows (the face cannot see them
		// beforehand): /dev's own, one in an overlay's layer, one in a
		// tree bound from inside the new root; and the mode of what a
		// link leads to follows the name it leads to.
		diffCase{name: "dir through a link of /dev", args: cat(w("--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib",
			"--symlink", "usr/lib64", "/lib64", "--dev", "/dev", "--dir", "/dev/core"), sh("stat -c '%a %F' /proc/kcore"))},
		diffCase{name: "dir through a link in an overlay layer", links: map[string]string{"low/l": "/x"},
			args: cat(mMin, w("--overlay-lowerdir", "@T@/low", "--overlay-upperdir", "tmpfs", "--overlay", "/o", "--dir", "/o/l"), sh("stat -c '%a %F' /x"))},
		diffCase{name: "tmpfs through a link to a tmp", args: cat(mMin, w("--symlink", "/var/tmp", "/y", "--tmpfs", "/y"), sh("stat -c '%a %F' /var/tmp /var"))},
		diffCase{name: "dir through a link to a tmp", args: cat(mMin, w("--symlink", "/data/tmp", "/y", "--dir", "/y"), sh("stat -c '%a %F' /data/tmp /data"))},
		// The mode of a throwaway upper on a tmp name is set when the
		// overlay is made, not by a second walk to its destination, which
		// a link in the overlay's own layer could lead onto a host
		// directory (found by review: victim was made 1777).
		diffCase{name: "overlay on a tmp through links in its layer", mkdirs: []string{"img/x", "img/f/s", "img/usr", "victim/d", "low"},
			links: map[string]string{"img/x/tmp": "../f/l/..", "img/f/l": "/f/s", "low/l": "/victim/d"},
			args: cat(w("--bind", "@T@/img", "/", "--ro-bind", "/usr", "/usr", "--bind", "@T@/victim", "/victim",
				"--overlay-lowerdir", "@T@/low", "--overlay-upperdir", "tmpfs", "--overlay", "/x/tmp"), w("true"))},
		// A --dir where a directory is makes nothing: a link below it
		// in the bound image is still followed (found by review).
		diffCase{name: "dir over an image directory then a link below it", mkdirs: []string{"img/var", "img/usr"}, links: map[string]string{"img/var/run": "../run"},
			args: cat(w("--bind", "@T@/img", "/", "--ro-bind", "/usr", "/usr", "--dir", "/var", "--dir", "/var/run/x"), w("true"))},
		// A --bind-try whose source is missing is skipped: what was
		// there before shows through (found by review).
		diffCase{name: "bind-try of a missing source over a link", mkdirs: []string{"img/var", "img/usr"}, links: map[string]string{"img/var/run": "../run"},
			args: cat(w("--bind", "@T@/img/var", "/var", "--bind-try", "/nonexistent", "/var", "--ro-bind", "/usr", "/usr", "--dir", "/var/run/x"), w("true"))},
		// +SRC binds run last, so only another +SRC bind meets a link
		// one of them brought.
		diffCase{name: "bind through a link under +SRC", links: map[string]string{"tree/l": "/made"},
			args:    cat(mMin, w("--ro-bind", "@T@/tree", "/t", "--ro-bind", "+/t", "/t2", "--ro-bind", "+/usr/share", "/t2/l"), sh("ls -d /made/doc")),
			differs: "+SRC is newer than 25.3", check: newerThan253("/made/doc\n")},
		// DirOperation makes nothing where something already is.
		diffCase{name: "dir on an existing file", args: cat(mR, w("--dir", "/etc/hostname"), sh("echo ran"))},
		// What every sandboxed command of mkosi 25.3 ends with (run.py).
		diffCase{name: "exec-fd and double dash as run.py ends", in: map[int]string{3: ""}, args: cat(mR, w("--exec-fd", "3", "--"), sh("echo ran"))},
		// sandbox.py 25.3 sets LISTEN_PID whenever LISTEN_FDS is set (run.py
		// relies on it for swtpm and journal-remote).
		diffCase{name: "LISTEN_FDS gets LISTEN_PID", args: cat(mR, w("--setenv", "LISTEN_FDS", "1"), sh(`[ "$LISTEN_PID" = $$ ] && echo pid-set`))},
		// os.environ has no variable named "A=B": nothing is unset.
		diffCase{name: "unsetenv of a name holding =", args: cat(mR, w("--setenv", "A", "B=c", "--unsetenv", "A=B"), sh("echo A=${A-unset}"))},
	)
}

// Differences found by review (review2), each checked as nook does it.
func init() {
	oneLine := func(nk *outcome) bool {
		return strings.HasPrefix(nk.stderr, "mkosi-sandbox: ") && strings.Count(nk.stderr, "\n") == 1
	}
	mkosiCases = append(mkosiCases,
		// int() takes blanks, a sign and underscores.
		diffCase{name: "exec-fd as int() reads it", in: map[int]string{3: "", 10: ""}, args: cat(mR, w("--exec-fd", " 3", "--exec-fd", "+1_0", "--"), sh("ls /proc/self/fd/3 /proc/self/fd/10 2>/dev/null || echo closed"))},
		diffCase{name: "empty command", args: cat(mR, w("")),
			differs: "Python's execvp refuses an empty name (ValueError, a traceback, status 1); nook says so in one line, status 2",
			check: func(t *testing.T, ms, nk *outcome) {
				if ms.code != 1 || nk.code != 2 || !oneLine(nk) {
					t.Errorf("empty command: mkosi-sandbox %d, nook %d %q", ms.code, nk.code, nk.stderr)
				}
			}},
		diffCase{name: "write onto a read-only bind", files: map[string]string{"f": "old\n"}, args: cat(mMin, w("--ro-bind", "@T@", "/mnt", "--write", "new", "/mnt/f"), sh("cat /mnt/f")),
			differs: "mkosi-sandbox's open() meets the read-only mount (EROFS, a traceback, status 1); nook binds its own file on",
			check: func(t *testing.T, ms, nk *outcome) {
				if ms.code != 1 || nk.code != 0 || nk.stdout != "new" {
					t.Errorf("write onto a read-only bind: mkosi-sandbox %d, nook %d %q", ms.code, nk.code, nk.stdout)
				}
			}},
		// /proc/self/fd/4 is the host directory itself, under no mount
		// of the sandbox's.
		diffCase{name: "write under a writable host bind", files: map[string]string{"f": "old\n"}, dirs: map[int]string{4: "@T@"},
			args:    cat(mR, w("--bind", "@T@", "/mnt", "--write", "new", "/mnt/f"), sh("cat /mnt/f /proc/self/fd/4/f")),
			differs: "mkosi-sandbox writes the host's file; nook writes its own and binds it on, the host's left as it was",
			check: func(t *testing.T, ms, nk *outcome) {
				if ms.code != 0 || ms.stdout != "newnew" || nk.code != 0 || nk.stdout != "newold\n" {
					t.Errorf("write under a host bind: mkosi-sandbox %d %q, nook %d %q", ms.code, ms.stdout, nk.code, nk.stdout)
				}
			}},
	)
}
