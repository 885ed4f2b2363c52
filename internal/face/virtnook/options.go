package virtnook

import (
	"fmt"
	"strings"
)

// options are the server's command line.
type options struct {
	chroot    string
	boot      bool
	noNetwork bool
	debug     bool
	help      bool
}

// usageError is a command line nook cannot take.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

const usage = `usage: autopkgtest-virt-nook [-d|--debug] [--boot] [--network on|off] CHROOT

An autopkgtest virtualisation server over nook sessions, for
autopkgtest … -- autopkgtest-virt-nook CHROOT (or -- nook autopkgtest-virt-nook CHROOT).

CHROOT is a nook chroot (nook chroot list), a schroot definition, an sbuild
tarball's name, or the path of a tarball.

  --boot             boot the chroot's systemd as pid 1 (nook session begin
                     --boot): offers isolation-container; needs subordinate
                     ids and a delegated cgroup (docs/system-containers.md)
  --network on|off   off: every command has its own network namespace with
                     only lo, or with --boot the container has one for its
                     life (--no-network is the same); default on
  -d, --debug        say on stderr what the server does
`

// parse reads the command line.
func parse(args []string) (*options, error) {
	o := &options{}
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, val, hasVal := strings.Cut(a, "=")
		switch {
		case a == "--":
			rest = append(rest, args[i+1:]...)
			i = len(args)
		case a == "-h" || a == "--help":
			o.help = true
		case a == "-d" || a == "--debug":
			o.debug = true
		case a == "--boot":
			o.boot = true
		case a == "--no-network":
			o.noNetwork = true
		case name == "--network":
			if !hasVal {
				if i+1 >= len(args) {
					return nil, &usageError{"--network needs on or off"}
				}
				i++
				val = args[i]
			}
			switch val {
			case "on":
				o.noNetwork = false
			case "off":
				o.noNetwork = true
			default:
				return nil, &usageError{fmt.Sprintf("--network %q: want on or off", val)}
			}
		case strings.HasPrefix(a, "-") && a != "-":
			return nil, &usageError{fmt.Sprintf("unknown option %q", a)}
		default:
			rest = append(rest, a)
		}
	}
	if o.help {
		return o, nil
	}
	if len(rest) != 1 {
		return nil, &usageError{"give exactly one chroot"}
	}
	o.chroot = rest[0]
	return o, nil
}
