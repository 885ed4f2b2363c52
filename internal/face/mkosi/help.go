package mkosi

import (
	"fmt"
	"io"
)

// Version is the mkosi release whose mkosi-sandbox command line this face
// follows (its main branch after 25.3: --same-dir, --pack-fds, "+SRC").
const Version = "26"

// usage is mkosi-sandbox's help text, with nook's additions marked.
func usage(w io.Writer) {
	fmt.Fprint(w, `mkosi-sandbox [OPTIONS...] COMMAND [ARGUMENTS...]

Run the specified command in a custom sandbox (nook's mkosi-sandbox face).

  -h --help                       Show this help
     --version                    Show package version
     --tmpfs DST                  Mount a new tmpfs on DST
     --dev DST                    Mount dev on DST
     --proc DST                   Mount procfs on DST
     --dir DST                    Create a new directory at DST
     --bind SRC DST               Bind mount the host path SRC to DST
     --bind-try SRC DST           Bind mount the host path SRC to DST if it exists
     --ro-bind SRC DST            Bind mount the host path SRC to DST read-only
     --ro-bind-try SRC DST        Bind mount the host path SRC to DST read-only if it exists
     --bind-nofollow SRC DST      Like --bind, binding a symlink SRC as the link
     --ro-bind-nofollow SRC DST   Like --ro-bind, binding a symlink SRC as the link
     --symlink SRC DST            Create a symlink at DST pointing to SRC
     --write DATA DST             Write DATA to DST
     --overlay-lowerdir DIR       Add a lower directory for the next overlayfs mount
     --overlay-upperdir DIR       Set the upper directory for the next overlayfs mount
     --overlay-workdir DIR        Set the working directory for the next overlayfs mount
     --overlay DST                Mount an overlay filesystem at DST
     --unsetenv NAME              Unset the environment variable with name NAME
     --setenv NAME VALUE          Set the environment variable with name NAME to VALUE
     --chdir DIR                  Change the working directory in the sandbox to DIR
     --same-dir                   Change the working directory in the sandbox to $PWD
     --become-root                Map the current user/group to root:root in the sandbox
     --suppress-chown             Make chown() syscalls in the sandbox a noop
     --suppress-sync              Make sync() syscalls in the sandbox a noop
     --unshare-net                Unshare the network namespace if possible
     --unshare-ipc                Unshare the IPC namespace if possible
     --suspend                    Stop (SIGSTOP) once set up, before the command runs
     --pack-fds                   Pack inherited fds from 3 and set $LISTEN_FDS
     --debug                      Print each operation as it is executed

A SRC starting with "+" is a path inside the sandbox. See mkosi-sandbox(1)
and docs/mkosi-sandbox-compat.md.
`)
}
