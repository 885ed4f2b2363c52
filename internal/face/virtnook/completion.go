package virtnook

import "github.com/nook-project/nook/internal/completion"

// CompletionOptions are the server's options for the shell completion
// (TestCompletionOptionsParse holds them to what parse takes).
func CompletionOptions() []completion.Option {
	return []completion.Option{
		{Names: []string{"--debug", "-d"}},
		{Names: []string{"--boot"}},
		{Names: []string{"--network"}, Args: []completion.Kind{completion.None}},
		{Names: []string{"--no-network"}},
		{Names: []string{"--help", "-h"}},
	}
}
