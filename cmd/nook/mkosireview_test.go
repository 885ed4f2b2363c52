package main

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
