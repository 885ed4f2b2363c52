package native

import (
	"fmt"
	"os"

	"github.com/nook-project/nook/session"
)

// Cache is `nook cache list|prune`.
func Cache(args []string) int {
	if code, done := verbHelp(args, cacheHelp); done {
		return code
	}
	st, err := session.Open()
	if err != nil {
		return failf("cache", "%v", err)
	}
	asJSON := new(bool)
	fs := newJSONFlags("cache "+args[0], asJSON)
	if ok, code := parseOrUsage(fs, args[1:], cacheHelp); !ok {
		return code
	}
	switch args[0] {
	case "list":
		es, err := st.Cache.Entries()
		if err != nil {
			return failf("cache list", "%v", err)
		}
		if *asJSON {
			return printJSONList(es)
		}
		var rows [][]string
		for _, e := range es {
			rows = append(rows, []string{e.Name[:12] + "…-" + string(e.IDMode), mib(e.Size), e.Source, e.Unpacked.Format("2006-01-02 15:04")})
		}
		printTable(rows)
		return 0
	case "prune":
		res, err := st.Prune()
		if res == nil {
			return failf("cache prune", "%v", err)
		}
		var freed int64
		for _, e := range res.Removed {
			freed += e.Size
			fmt.Printf("removed %s (%s, from %s)\n", e.Name, mib(e.Size), e.Source)
		}
		fmt.Printf("freed %s; kept %d entries in use by sessions\n", mib(freed), len(res.Kept))
		if err != nil {
			return failf("cache prune", "%v", err)
		}
		return 0
	}
	fmt.Fprintf(os.Stderr, "nook cache: unknown verb %q (list, prune)%s\n", args[0], oneDashHelp(args[0]))
	return 2
}

const cacheHelp = `usage: nook cache list [--json] | nook cache prune

The unpack cache holds one read-only tree per chroot tarball content (and
id mapping), made by the first session of that tarball. A changed tarball
gets a new entry; the old one goes when no session uses it.

  list [--json]   the entries, with their sizes and sources
  prune           remove every entry no session uses
`
