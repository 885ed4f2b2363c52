package bwrap

import (
	"fmt"
	"io"
	"strings"
	"sync"
)

// usage prints the usage line bwrap prints (callers match on it) and the
// option list in nook's words.
func usage(w io.Writer, argv0 string) {
	fmt.Fprintf(w, "usage: %s [OPTIONS...] [--] COMMAND [ARGS...]\n\n", argv0)
	for _, o := range options() {
		left := "    --" + o.name
		if n := metavars()[o.name]; n != "" {
			left += " " + n
		}
		fmt.Fprintf(w, "%-33s%s\n", left, o.help)
	}
}

// metavars names each option's arguments for the usage text.
var metavars = sync.OnceValue(func() map[string]string {
	m := map[string]string{}
	for _, o := range options() {
		switch o.nargs {
		case 1:
			m[o.name] = "ARG"
		case 2:
			m[o.name] = "ARG ARG"
		case 3:
			m[o.name] = "ARG ARG ARG"
		}
	}
	for k, v := range map[string]string{
		"args": "FD", "argv0": "VALUE", "userns": "FD", "userns2": "FD", "pidns": "FD", "uid": "UID", "gid": "GID",
		"hostname": "NAME", "chdir": "DIR", "setenv": "VAR VALUE", "unsetenv": "VAR", "lock-file": "DEST",
		"sync-fd": "FD", "perms": "OCTAL", "size": "BYTES", "remount-ro": "DEST", "overlay-src": "SRC",
		"overlay": "RWSRC WORKDIR DEST", "tmp-overlay": "DEST", "ro-overlay": "DEST", "exec-label": "LABEL",
		"file-label": "LABEL", "proc": "DEST", "dev": "DEST", "tmpfs": "DEST", "mqueue": "DEST", "dir": "DEST",
		"symlink": "SRC DEST", "chmod": "OCTAL PATH", "seccomp": "FD", "add-seccomp-fd": "FD", "block-fd": "FD",
		"userns-block-fd": "FD", "info-fd": "FD", "json-status-fd": "FD", "cap-add": "CAP", "cap-drop": "CAP",
	} {
		m[k] = v
	}
	for _, o := range options() {
		if o.nargs == 2 && (strings.Contains(o.name, "bind") && !strings.Contains(o.name, "data") && !strings.Contains(o.name, "-fd")) {
			m[o.name] = "SRC DEST"
		}
		if o.nargs == 2 && (strings.HasSuffix(o.name, "-fd") || strings.Contains(o.name, "data") || o.name == "file") {
			m[o.name] = "FD DEST"
		}
	}
	return m
})
