package mkosi

import (
	"fmt"
	"io"
	"strings"
)

// printOps writes the filesystem operations in the order they run, one a
// line, as --debug asks: the operation, its source where it has one, and
// its destination, with the flags that change what it does.
func printOps(w io.Writer, ops []fsop) {
	for _, op := range ops {
		var b strings.Builder
		fmt.Fprintf(&b, "mkosi-sandbox: %s", op.kind)
		switch op.kind {
		case opBind:
			src := op.src
			if op.relative {
				src = "+" + src
			}
			fmt.Fprintf(&b, " %s %s", src, op.dst)
			for _, f := range []struct {
				on   bool
				name string
			}{{op.ro, "ro"}, {!op.required, "try"}, {op.nofollow, "nofollow"}} {
				if f.on {
					b.WriteString(" " + f.name)
				}
			}
		case opSymlink:
			fmt.Fprintf(&b, " %s %s", op.src, op.dst)
		case opWrite:
			fmt.Fprintf(&b, " %q %s", op.data, op.dst)
		case opOverlay:
			fmt.Fprintf(&b, " lower=%s", strings.Join(op.lower, ":"))
			if op.upper != "" {
				fmt.Fprintf(&b, " upper=%s", op.upper)
			}
			if op.work != "" {
				fmt.Fprintf(&b, " work=%s", op.work)
			}
			fmt.Fprintf(&b, " %s", op.dst)
		default:
			fmt.Fprintf(&b, " %s", op.dst)
		}
		fmt.Fprintln(w, b.String())
	}
}
