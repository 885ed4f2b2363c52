package schroot

import "github.com/nook-project/nook/internal/completion"

// CompletionOptions are schroot's options for the shell completion, from
// the table the parser reads.
func CompletionOptions() []completion.Option {
	out := make([]completion.Option, len(optionTable))
	for i, o := range optionTable {
		out[i].Names = []string{"--" + o.long}
		if o.short != 0 {
			out[i].Names = append(out[i].Names, "-"+string(o.short))
		}
		if o.arg {
			k, ok := argKind[o.long]
			if !ok {
				k = completion.None
			}
			out[i].Args = []completion.Kind{k}
		}
	}
	return out
}

// argKind is what an option's argument completes to; nothing when unlisted
// (a user, a new session's name, a setting).
var argKind = map[string]completion.Kind{
	"chroot":    completion.ChrootOrSession, // -c takes a session too (-r, -e)
	"directory": completion.Dir,
	"shell":     completion.File,
}
