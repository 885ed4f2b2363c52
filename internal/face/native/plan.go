package native

import (
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"

	"github.com/nook-project/nook/sandbox"
)

// printPlan writes the filesystem operations of spec in the order the
// sandbox makes them (sandbox.Plan: sorted, duplicates and covered binds
// dropped, as the engines call it), one a line as the nook run options
// that make them, those of the default layout marked.
func printPlan(w io.Writer, spec *sandbox.Spec, r *runOptions) {
	defaults := r.defaults
	order := "sorted: parents first, duplicates dropped"
	if !spec.SortMounts {
		order = "in the order given (--no-sort)"
	}
	fmt.Fprintf(w, "# nook run: the filesystem, in the order nook makes it (%s)\n", order)
	switch {
	case len(defaults) > 0:
		fmt.Fprintln(w, "# no option places /, so nook adds its default layout (marked; --no-default-fs leaves it out)")
	case r.buildsTree != "" && !r.rootGiven:
		fmt.Fprintf(w, "# %s: the options build their own root, so nook adds no default layout (--ro-bind / / starts from the host's)\n", r.buildsTree)
	}
	for _, n := range r.notes {
		fmt.Fprintf(w, "# %s\n", n)
	}
	for _, m := range sandbox.Plan(spec.Mounts, spec.SortMounts) {
		line := strings.Join(quoteWords(mountWords(m)), " ")
		for _, d := range sandbox.Plan(defaults, false) {
			// --fuse reaches the default /dev as well: still the
			// default layout's.
			if d.Op == sandbox.OpDev {
				d.Fuse = m.Fuse
			}
			if reflect.DeepEqual(d, m) {
				line += "    # default layout"
				break
			}
		}
		fmt.Fprintln(w, line)
	}
	if spec.SharedPropagation {
		fmt.Fprintln(w, "--propagation shared")
	}
	fmt.Fprintf(w, "# then: %s\n", strings.Join(quoteWords(spec.Args), " "))
}

// mountWords is m as the nook run options that make it.
func mountWords(m sandbox.Mount) []string {
	var pre []string
	if m.Mode != nil && m.Op != sandbox.OpChmod {
		pre = append(pre, "--perms", fmt.Sprintf("%04o", *m.Mode))
	}
	if m.Size != 0 {
		pre = append(pre, "--size", strconv.FormatInt(m.Size, 10))
	}
	if m.DestNoFollow {
		pre = append(pre, "--dest-nofollow")
	}
	if m.IndexOff {
		pre = append(pre, "--overlay-index-off")
	}
	if m.Fuse {
		pre = append(pre, "--fuse")
	}
	switch m.Op {
	case sandbox.OpBind, sandbox.OpDevBind:
		name := "--bind"
		switch {
		case m.Op == sandbox.OpDevBind:
			name = "--dev-bind"
		case m.ReadOnly:
			name = "--ro-bind"
		}
		if m.Try {
			name += "-try"
		}
		if m.NoFollow {
			name += "-nofollow"
		}
		return append(pre, name, m.Source, m.Dest)
	case sandbox.OpSymlink:
		if m.Replace {
			return append(pre, "--symlink-replace", m.Source, m.Dest)
		}
		return append(pre, "--symlink", m.Source, m.Dest)
	case sandbox.OpWrite:
		return append(pre, "--write", string(m.Data), m.Dest)
	case sandbox.OpFile:
		return append(pre, "--file", strconv.Itoa(m.FD), m.Dest)
	case sandbox.OpChmod:
		return append(pre, "--chmod", fmt.Sprintf("%04o", *m.Mode), m.Dest)
	case sandbox.OpOverlay:
		for i := len(m.Lower) - 1; i >= 0; i-- { // lowest first, as given
			pre = append(pre, "--overlay-src", m.Lower[i])
		}
		switch {
		case m.Upper != "":
			return append(pre, "--overlay", m.Upper, m.Work, m.Dest)
		case m.TmpfsUpper:
			return append(pre, "--tmp-overlay", m.Dest)
		}
		return append(pre, "--ro-overlay", m.Dest)
	}
	return append(pre, "--"+string(m.Op), m.Dest)
}

// quoteWords quotes for a POSIX shell the words that need it.
func quoteWords(ws []string) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		if w != "" && strings.IndexFunc(w, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+=:,@%", r))
		}) < 0 {
			out[i] = w
		} else {
			out[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
		}
	}
	return out
}
