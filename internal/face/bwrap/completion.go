package bwrap

import "github.com/nook-project/nook/internal/completion"

// CompletionOptions are bwrap's options for the shell completion, from the
// table the parser reads. Every argument completes as a path: most are
// one, and the others (numbers, names) have nothing better to offer.
func CompletionOptions() []completion.Option {
	opts := options()
	out := make([]completion.Option, len(opts))
	for i, o := range opts {
		out[i] = completion.Option{Names: []string{"--" + o.name}}
		for range o.nargs {
			out[i].Args = append(out[i].Args, completion.File)
		}
	}
	return out
}
