package native

import (
	"fmt"
	"io"
	"time"
)

// SessionManPage writes nook-session(1), which covers nook session,
// nook chroot and nook cache; docs/nook-session.1 is its output
// (go run ./cmd/nook man session > docs/nook-session.1).
func SessionManPage(w io.Writer, date string) {
	// mdoc wants "Month D, YYYY"; ManDate is ISO.
	if t, err := time.Parse("2006-01-02", date); err == nil {
		date = t.Format("January 2, 2006")
	}
	fmt.Fprintf(w, sessionMan, date)
}

const sessionMan = `.Dd %s
.Dt NOOK-SESSION 1
.Os
.Sh NAME
.Nm nook session ,
.Nm nook chroot ,
.Nm nook cache
.Nd rootless build sessions over chroot tarballs and directories
.Sh SYNOPSIS
.Nm nook session begin
.Op Fl n Ar name
.Op Fl \-copy
.Op Fl \-boot | \-long\-lived
.Op Fl \-no\-network
.Ar chroot
.Nm nook session run
.Ar id
.Op Fl u Ar user
.Op Fl d Ar dir
.Op Fl \-no\-network
.Op Fl \-bind Ar src Ns Op : Ns Ar dst
.Op Fl \-ro\-bind Ar src Ns Op : Ns Ar dst
.Op Fl \-setenv Ar key Ns = Ns Ar value
.Op Fl p
.Op Fl \-sync
.Op Fl \-
.Op Ar command ...
.Nm nook session end
.Ar id ... | Fl \-all
.Op Fl \-discard
.Nm nook session end
.Fl \-orphans
.Nm nook session list
.Op Fl \-json
.Op Fl q
.Nm nook session info
.Ar id
.Op Fl \-json
.Nm nook chroot add
.Ar name source
.Op Fl \-alias Ar alias
.Op Fl \-description Ar text
.Op Fl \-copy
.Nm nook chroot remove
.Ar name
.Nm nook chroot list
.Op Fl \-json
.Op Fl q
.Nm nook chroot info
.Ar name
.Op Fl \-json
.Nm nook chroot create
.Ar name suite
.Op Fl \-variant Ar variant
.Op Fl \-mirror Ar url
.Nm nook cache list
.Op Fl \-json
.Nm nook cache prune
.Sh DESCRIPTION
A session is a throwaway, writable copy of a chroot that lives on disk,
not in memory.
Every command runs in fresh user, mount, pid, IPC and UTS namespaces over
an overlay whose lower layer is the chroot and whose upper layer is the
session's own directory.
Nothing stays mounted between commands, so a session survives a reboot,
and there is no daemon.
.Pp
A chroot is a name and a source: a tarball (plain, or compressed with gzip,
zstd, xz or bzip2, told apart by content), a directory, or the built-in
chroot
.Cm host ,
the running system.
The first session of a tarball unpacks it once into a cache entry keyed by
its content; later sessions begin in constant time.
.Ss Session commands
.Bl -tag -width Ds
.It Cm begin Ar chroot
Start a session and print only its id, by default
.Ar chroot Ns \-UUID .
.Bl -tag -width Ds
.It Fl n , Fl \-name , Fl \-session\-name Ar name
Use
.Ar name
as the id.
.It Fl \-copy
Make the session a private full copy of the chroot in a directory on the
host
.Pq Cm info No shows it as its location
instead of an overlay.
Beginning it costs a full unpack or copy; clients that read or write the
session's tree from the host need it.
Begin makes a copy by itself, and says why, where overlay sessions cannot
work: the sessions directory on NFS, FUSE, CIFS, 9p or an overlay, or a
kernel older than 5.11 for a user.
.It Fl \-boot
Start the chroot's systemd as the session's pid 1, in fresh user, mount,
pid, ipc, uts and cgroup namespaces, under a supervisor that lives as long
as the container, and wait until systemd reports that its start-up is over
.Pq at most Ev NOOK_BOOT_TIMEOUT , No 120 s .
It needs a range of subordinate ids and a cgroup v2 subtree delegated to
the caller; real root is refused (its container's root would be the
host's). The cgroup is the one named by
.Ev NOOK_CGROUP ,
else the cgroup nook runs in when the caller may write to it (a systemd
scope started with Delegate=yes, user@UID.service, or a directory root
made and chowned on a host without systemd).
The console is kept in the session directory's console.log.
.Cm end
powers the container off (at most
.Ev NOOK_BOOT_STOP_TIMEOUT , No 30 s ,
then it is killed) and removes its cgroup.
.Cm run
reaches the running container through an agent inside (never by entering
its namespaces from the host): the command's standard input, output and
error are relayed to the caller's (a terminal of the container's own when
the caller has one on standard input and output), and it gets the signals
and gives its exit status;
.Fl u
and
.Fl d
apply, binds and
.Fl \-no\-network
do not.
.It Fl \-long\-lived
Keep one sandbox of the session's tree, with one set of namespaces, from
begin to end, instead of fresh namespaces for every command.
Its commands reach it as those of a booted session do, through nook's
agent inside (no systemd; the engine's own pid 1 reaps), with their
standard input, output and error relayed; processes a command leaves
running stay until end.
It needs neither subordinate ids nor a delegated cgroup.
.It Fl \-no\-network
With
.Fl \-boot
or
.Fl \-long\-lived :
the sandbox gets a network namespace of its own with only loopback, for
its whole life.
.El
.It Cm run Ar id Oo Ar options Oc Oo Fl \- Oc Op Ar command ...
Run
.Ar command ,
by default the user's login shell.
stdin, stdout and stderr pass through unchanged.
.Bl -tag -width Ds
.It Fl u , Fl \-user Ar user
Run as
.Ar user ,
a name or number in the session's own passwd (default root).
A name the chroot lacks is added to the session, never to the cache.
.It Fl d , Fl \-directory Ar dir
Working directory inside; by default the current one when it exists
inside, else
.Pa / .
A missing
.Ar dir
is an error.
.It Fl \-no\-network
A network namespace of its own, with only
.Li lo .
By default the host's network is shared, with the host's
.Pa /etc/resolv.conf
and
.Pa /etc/hosts .
.It Fl \-bind Ar src Ns Op : Ns Ar dst
Bind host
.Ar src
onto
.Ar dst
(default
.Ar src ) ,
read-write.
.It Fl \-ro\-bind Ar src Ns Op : Ns Ar dst
The same, read-only.
.It Fl \-setenv Ar key Ns = Ns Ar value
Set a variable; repeatable.
.It Fl p , Fl \-preserve\-environment
Keep the caller's environment instead of building one from the user's
passwd entry.
.It Fl \-sync
Let sync, fsync and friends work, and mount the command's overlay so that
its unmount syncs the upper filesystem.
By default the calls are suppressed and the overlay is volatile: a session
is disposable, dpkg's fsyncs are much of a package installation's time, and
the sync at unmount waits for every dirty page of the filesystem that holds
the session.
A clean shutdown loses nothing; a power cut may cost the session.
.It Fl \-keep\-fd Ar fd
Pass the inherited
.Ar fd
even when it is a directory.
The command gets nook's standard input, output and error and every other
fd the caller left open without close-on-exec, at the same numbers, except
directories: a directory fd names a directory of the host, and
.Ql ..
from it leads out of the session.
Repeatable.
.El
.It Cm end Ar id ... | Fl \-all Op Fl \-discard
Remove sessions and everything in them, files of subordinate ids
included, without root.
A source session (begun through schroot's
.Ar source:NAME )
first replaces its chroot's tarball with its tree;
.Fl \-discard
ends it without that.
.It Cm end Fl \-orphans
End only the sessions whose owner is gone, and print their ids.
A session has an owner when a process's life bounds it:
.Nm autopkgtest-virt-nook
begins one per autopkgtest run, owned by the server.
A server killed with SIGKILL (a test farm's worker killed, a machine's
crash) cannot end its session; the next server started by the same user
ends it, and so does this command, which a worker's service can run when it
starts.
An owner counts as gone only when that is sure: its pid names no process,
or another process that started later, in the same pid namespace and the
same boot; or the machine has rebooted since.
An orphan in which a command still runs is left for a later call.
.It Cm list Oo Fl \-json Oc Op Fl q
List your sessions.
.Fl q ,
.Fl \-quiet
prints their ids alone, one a line.
.It Cm info Ar id Op Fl \-json
Show a session's state.
.El
.Ss Chroot commands
.Bl -tag -width Ds
.It Cm add Ar name source
Define a chroot in nook's configuration directory.
A tarball is first read to its end without being unpacked (by the unpack
helper, when it is installed), so that an empty, truncated or non\-tar file
is named here rather than at the first
.Cm begin .
.Bl -tag -width Ds
.It Fl \-alias Ar alias
Another name; repeatable.
.It Fl \-description Ar text
A description.
.It Fl \-copy
Every session of the chroot is a private full copy.
.El
.It Cm remove Ar name
Remove one of nook's own definitions.
.It Cm list Oo Fl \-json Oc Op Fl q
List every chroot and where it is defined.
.Fl q ,
.Fl \-quiet
prints the names and aliases alone, one a line.
.It Cm info Ar name Op Fl \-json
Show every definition of
.Ar name ,
the one used first.
.It Cm create Ar name suite
Make a Debian tarball with
.Xr mmdebstrap 1
and add it.
.Bl -tag -width Ds
.It Fl \-variant Ar variant
The mmdebstrap variant (default buildd).
.It Fl \-mirror Ar url
The Debian mirror.
.El
.El
.Pp
Definitions are also read, never written, from
.Pa /etc/schroot/schroot.conf
and
.Pa /etc/schroot/chroot.d/*
(type=file and type=directory) and from sbuild's unshare-mode tarballs
.Pa $XDG_CACHE_HOME/sbuild/ Ns Ar name Ns .t* .
A name defined more than once resolves to the first of: nook's own,
schroot's, sbuild's, the built-in host; aliases are looked at only when no
definition has the name itself.
.Ss Cache commands
.Bl -tag -width Ds
.It Cm list Op Fl \-json
The unpacked tarballs, with sizes and sources.
.It Cm prune
Remove every entry no session uses.
.El
.Sh IDENTITY
Real root runs commands without a user namespace, with the chroot's own ids.
A user with ranges in
.Pa /etc/subuid
and
.Pa /etc/subgid
is root inside, with ids 1 to 65535 mapped onto the range, so every file in
the session is the user's own on the host.
Such a session keeps its user namespace between commands: the first command
starts a small holder process, later ones enter its namespace instead of
running
.Xr newuidmap 1
and
.Xr newgidmap 1
again.
The holder keeps nothing the session needs; it exits after
.Ev NOOK_USERNS_IDLE
without a command, and end stops it.
A user without a range gets a single id, with chown suppressed; begin warns.
There, a command for a non-root user maps the caller to that user's ids.
.Sh CONCURRENCY
Commands of one session run one at a time: an overlay upper directory must
not be used by two live mounts.
A second command, or an end, waits for the running one and says so first.
.Sh ENVIRONMENT
.Bl -tag -width Ds
.It Ev NOOK_UNPACK
The unpack helper
.Nm nook-unpack
that unpacks a tarball into the cache.
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
How long a session's user namespace holder waits for the next command, as
a Go duration
.Pq default Li 60s ;
.Li 0
starts none, so that every command makes its own user namespace.
.El
.Sh FILES
.Bl -tag -width Ds -compact
.It Pa $XDG_CONFIG_HOME/nook/chroot.d/ Ns Ar name Ns .json
nook's chroot definitions
.Pq Pa /etc/nook/chroot.d No for root
.It Pa $XDG_CACHE_HOME/nook/unpack/
the unpack cache
.Pq Pa /var/cache/nook/unpack No for root
.It Pa $XDG_STATE_HOME/nook/sessions/
the sessions
.Pq Pa /var/lib/nook/sessions No for root
.El
.Sh EXIT STATUS
.Cm run
exits with the command's status, 128+N when it was killed by signal N,
127 when it was not found, 126 when it could not be executed, 125 when nook
itself failed: no such session, a damaged one, a user the session cannot
map, a sandbox that could not be set up.
Other commands exit 0 on success, 1 on failure and 2 for a usage error.
.Sh EXAMPLES
.Bd -literal -offset indent
nook chroot add bookworm ~/.cache/sbuild/bookworm-amd64.tar.zst
id=$(nook session begin bookworm)
nook session run "$id" \-\- apt\-get install \-y build\-essential
nook session run "$id" \-u "$USER" \-d /build \-\-no\-network \-\- dpkg\-buildpackage \-b
nook session end "$id"
.Ed
.Sh SEE ALSO
.Xr mmdebstrap 1 ,
.Xr nook\-run 1 ,
.Xr sbuild 1 ,
.Xr schroot 1
`
