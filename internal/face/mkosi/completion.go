package mkosi

import (
	"sort"

	"github.com/nook-project/nook/internal/completion"
)

// CompletionOptions are mkosi-sandbox's options for the shell completion.
// Every argument completes as a path.
func CompletionOptions() []completion.Option {
	names := make([]string, 0, len(nargs))
	for n := range nargs {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]completion.Option, len(names))
	for i, n := range names {
		out[i] = completion.Option{Names: []string{n}}
		for range nargs[n] {
			out[i].Args = append(out[i].Args, completion.File)
		}
	}
	return out
}
