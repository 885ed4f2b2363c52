package native

import (
	"fmt"
	"io"
	"time"
)

// NookManPage writes nook(1), the top-level page: the commands, the faces,
// the exit statuses, the environment and files, and where the details are
// (nook-run(1), nook-session(1)). docs/nook.1 is its output
// (go run ./cmd/nook man nook > docs/nook.1).
func NookManPage(w io.Writer, date string) {
	if t, err := time.Parse("2006-01-02", date); err == nil {
		date = t.Format("January 2, 2006")
	}
	fmt.Fprintf(w, nookMan, date)
}

const nookMan = `.Dd %s
.Dt NOOK 1
.Os
.Sh NAME
.Nm nook
.Nd rootless sandboxes and build sessions
.Sh SYNOPSIS
.Nm
.Cm run
.Op Ar options
.Op Fl \-
.Op Ar command ...
.Nm
.Cm session
.Cm begin | run | end | list | info
.Op Ar arguments
.Nm
.Cm chroot
.Cm add | remove | list | info | create
.Op Ar arguments
.Nm
.Cm cache
.Cm list | prune
.Nm
.Cm bwrap
.Op Ar options
.Op Fl \-
.Ar command ...
.Nm
.Cm schroot
.Op Ar options
.Op Fl \-
.Op Ar command ...
.Nm
.Cm mkosi-sandbox
.Op Ar options
.Op Fl \-
.Op Ar command ...
.Nm
.Cm autopkgtest-virt-nook
.Op Fl d
.Op Fl \-boot
.Op Fl \-network Cm on | off
.Ar chroot
.Nm
.Cm version
.Op Fl \-json
.Nm
.Cm completion
.Cm bash | zsh
.Nm
.Cm help
.Op Ar command
.Sh DESCRIPTION
.Nm
runs commands in sandboxes made of Linux namespaces, as an ordinary user:
no setuid helper, no daemon.
It keeps build sessions over chroot tarballs and directories on disk, and
answers the command lines of
.Xr bwrap 1 ,
.Xr schroot 1
and
.Xr mkosi-sandbox 1 ,
so that their clients can use it unchanged.
.Pp
The commands:
.Bl -tag -width Ds
.It Cm run
Run a command in a new sandbox, by default over the host's root made
read-only with a fresh
.Pa /tmp ,
.Pa /proc
and
.Pa /dev ;
see
.Xr nook-run 1 .
.It Cm session
Begin, use and end build sessions: throwaway, writable copies of a chroot
that live on disk and outlive the commands run in them; see
.Xr nook-session 1 .
.It Cm chroot
Define, list and remove the chroots sessions begin from: tarballs,
directories, the host; see
.Xr nook-session 1 .
.It Cm cache
List or prune the cache of unpacked chroot tarballs.
.It Cm bwrap
bubblewrap's command line, as when nook is called by the name
.Nm bwrap .
.It Cm schroot
schroot's command line, as when nook is called by the name
.Nm schroot .
.It Cm mkosi-sandbox
mkosi-sandbox's command line, as when nook is called by the name
.Nm mkosi-sandbox .
.It Cm autopkgtest-virt-nook
An autopkgtest virtualisation server over a session of
.Ar chroot ,
as when nook is called by the name
.Nm autopkgtest-virt-nook ;
.Fl \-boot
boots the chroot's systemd and offers isolation-container.
.It Cm version
Print nook's version and the revision it was built from;
.Fl \-json
as JSON.
.It Cm completion
Print the completion script for
.Xr bash 1
or
.Xr zsh 1 ;
.Li make install
installs both.
.It Cm help
Print the usage, or a command's
.Pq as Nm nook Ar command Fl \-help .
.El
.Pp
Every command takes
.Fl \-help .
Options are long ones with two dashes
.Pq Fl \-ro\-bind ;
one dash is for the few single-letter ones.
.Ss Faces
Which command line answers depends on the name nook is called by.
Called as
.Nm bwrap ,
it takes bubblewrap's options, so that flatpak, mkosi and the like run their
sandboxes through it.
Called as
.Nm schroot ,
or by a name containing
.Dq unschroot ,
it is schroot for sbuild, autopkgtest and piuparts, over nook's sessions.
Called as
.Nm mkosi-sandbox ,
it takes mkosi-sandbox's options and defaults.
Called as
.Nm autopkgtest-virt-nook ,
it is a virtualisation server for autopkgtest
.Pq autopkgtest ... \-\- nook CHROOT .
A symbolic link or a copy of the executable by that name is enough.
Any other name gives nook's own command line, except that a first argument
that is one of bubblewrap's options gives bubblewrap's
.Pq a sandbox re-running Pa /proc/self/exe ,
and options that start with one only mkosi-sandbox has give mkosi-sandbox's.
.Sh ENVIRONMENT
.Bl -tag -width Ds
.It Ev NOOK_UNPACK
The unpack helper
.Nm nook-unpack ,
which unpacks chroot tarballs.
Unset, nook looks for it beside its own executable, in
.Pa ../libexec/nook
from there (if nook is in a directory named
.Pa bin
and that path is owned by root or the user and writable by no one else), on
.Ev PATH ,
in
.Pa /usr/libexec/nook
and in
.Pa /usr/lib/nook .
.It Ev NOOK_USERNS_IDLE
How long a session's user namespace is kept between commands; see
.Xr nook-session 1 .
.It Ev NOOK_ENGINE
.Li init
sets sandboxes up through nook's re-executed Go init rather than the
default engine; for comparison and testing.
.It Ev NOOK_TIMING
.Li 1
prints the time of each step of start-up to standard error; see
.Xr nook-run 1 .
.It Ev XDG_CONFIG_HOME , XDG_CACHE_HOME , XDG_STATE_HOME
Where a user's chroot definitions, unpack cache and sessions are
.Pq below Pa ~/.config , Pa ~/.cache , Pa ~/.local/state No when unset .
.El
.Sh FILES
.Bl -tag -width Ds -compact
.It Pa $XDG_CONFIG_HOME/nook/chroot.d/
a user's chroot definitions
.Pq Pa /etc/nook/chroot.d No for root
.It Pa $XDG_CACHE_HOME/nook/unpack/
the unpack cache
.Pq Pa /var/cache/nook/unpack No for root
.It Pa $XDG_STATE_HOME/nook/sessions/
the sessions
.Pq Pa /var/lib/nook/sessions No for root
.It Pa /etc/schroot/schroot.conf , /etc/schroot/chroot.d/
schroot's definitions, read as chroots too
.It Pa /etc/subuid , /etc/subgid
subordinate id ranges, for sessions with many ids
.El
.Sh EXIT STATUS
.Cm run
and
.Cm session run
exit with the command's status, and with 128+N when the command was killed
by signal N.
nook's own statuses are those of
.Xr env 1
and the shells:
.Bl -tag -width Ds
.It 125
nook failed before the command started: the sandbox could not be set up,
no such session.
.It 126
The command was found but could not be executed.
.It 127
The command was not found.
.It 2
A usage error: an unknown command or option, a missing argument.
.El
.Pp
A command that itself exits 125, 126 or 127 cannot be told apart from nook's
own failures except by nook's message on standard error.
The other commands exit 0 on success, 1 on failure and 2 for a usage error.
The faces keep their tools' statuses:
.Cm bwrap
and
.Cm schroot
exit 1 for their own failures, as bubblewrap and schroot do.
.Sh EXAMPLES
.Bd -literal -offset indent
nook run \-\-unshare\-net \-\- make check
nook chroot add bookworm ~/.cache/sbuild/bookworm\-amd64.tar.zst
id=$(nook session begin bookworm)
nook session run "$id" \-\- apt\-get install \-y build\-essential
nook session end "$id"
.Ed
.Sh SEE ALSO
.Xr bwrap 1 ,
.Xr nook-run 1 ,
.Xr nook-session 1 ,
.Xr sbuild 1 ,
.Xr schroot 1 ,
.Xr subuid 5 ,
.Xr user_namespaces 7
`
