package schroot

// helpText is nook's own wording of schroot's options.
const helpText = `Usage:
  schroot [OPTION...] [--] [COMMAND [ARG...]]
    run COMMAND (default: your login shell) in a chroot, answered by nook:
    every session is a nook session (no daemon, nothing mounted between
    commands, sessions survive a reboot).

Actions (one at most):
  -h, --help                 show this help
  -V, --version              show the version
  -l, --list                 list chroots, sources and sessions
  -i, --info                 describe the selected chroots
      --config               print the selected chroots' configuration
      --location             print where the selected chroots are
      --automatic-session    begin, run and end a session (the default)
  -b, --begin-session        begin a session; prints its id
      --recover-session      recover a session (nook sessions need none)
  -r, --run-session          run a command in an existing session
  -e, --end-session          end a session

Selection:
  -c, --chroot NAME          a chroot, alias, chroot:NAME, source:NAME,
                             session id or session:ID (repeatable)
  -a, --all                  every chroot, source and session
      --all-chroots          every chroot
      --all-sessions         every session
      --all-source-chroots   every source chroot
      --exclude-aliases      list names without their aliases

Environment:
  -d, --directory DIR        working directory inside (default: the current
                             one, which must exist inside)
  -u, --user USER            user inside (default: you)
  -p, --preserve-environment keep your environment (filtered)
  -s, --shell SHELL          the login shell to run
  -o, --option KEY=VALUE     accepted; nook runs no setup scripts
      --isolate-network      only a loopback interface inside

Sessions:
  -n, --session-name NAME    the new session's id
  -f, --force                accepted
  -q, --quiet                say less
  -v, --verbose              say more

Definitions come from /etc/schroot/schroot.conf, /etc/schroot/chroot.d,
nook's own chroots (nook chroot add) and sbuild's tarballs; see
docs/schroot-compat.md for every key nook reads and how it differs.
`
