#!/usr/bin/env bash
# build.sh SCHROOT_BINARY [USER]
#
# The sbuild end-to-end test of issue 7: Debian 12's own sbuild (0.85) builds
# a tiny C package (mkpkg.sh) through "schroot", where "schroot" is
# SCHROOT_BINARY, and the result is installed and run in a fresh session.
# Run as root; the build runs as USER (default root). A non-root USER must be
# in group sbuild (sbuild refuses schroot mode otherwise); setup.sh makes
# nook-ci-sbuild so.
#
# How SCHROOT_BINARY gets used: bookworm's sbuild execs most of its schroot
# calls with an environment that has no PATH, so execvp's default search
# (/bin:/usr/bin) finds /usr/bin/schroot whatever PATH the caller had. So the
# whole test runs in a private mount namespace (unshare -m --propagation
# private) in which SCHROOT_BINARY is bind-mounted over /usr/bin/schroot
# (and /bin/schroot when /bin is not a symlink to usr/bin). Nothing changes
# for the rest of the machine. With SCHROOT_BINARY=/usr/bin/schroot nothing
# is mounted and the real schroot is tested: that validates the harness.
# The binary is invoked as "schroot" (argv[0] is what the caller passes), so
# bind-mounting the nook binary itself selects nook's schroot personality.
# A bind mount keeps the source file's mode: the nook binary stays un-setuid.
#
# Phases, each timed:
#   sbuild   sbuild -d bookworm --arch=amd64 --chroot-mode=schroot on the .dsc
#            as USER in a scratch build dir; asserts exit 0, the .deb and
#            .changes present, usr/bin/nookhello in `dpkg-deb -c`.
#   install  as USER: begin a session on the chroot, pipe the .deb in with
#            `sh -c 'cat > /tmp/nookhello.deb'`, dpkg -i it as root, run
#            nookhello as USER and compare its output, end the session.
#   leftover nothing may remain: no session listed by `schroot --all-sessions
#            -l` that was not there before, no new mounts (in the test's
#            mount namespace and, for paths that look like ours, the host's),
#            no process left in the test's cgroup, none of USER's processes,
#            no process carrying the run's marker variable, no new entries in
#            real schroot's state directories.
# On failure everything is still cleaned up (sessions the run began are ended,
# left processes killed, scratch removed) unless NOOK_SBUILD_KEEP=1, which
# keeps the scratch directory (logs, build results) for a look.
#
# Environment knobs:
#   NOOK_SBUILD_CHROOT  chroot name for the install phase (and, when set,
#                       passed to sbuild as --chroot); default: sbuild
#                       resolves bookworm-amd64-sbuild itself and the install
#                       phase uses nook-ci-bookworm (setup.sh's definition).
#   NOOK_SBUILD_LIGHT=1 build mkpkg.sh's light variant (no debhelper) without
#                       apt-get update (the VM stage, under emulation).
#   NOOK_SBUILD_KEEP=1  keep the scratch directory.
#   NOOK_SBUILD_QUIET=1 do not stream sbuild's log (it is still kept and its
#                       tail shown on failure).
# Output: lines "TIME <phase> <seconds>" (parsed by bench/sbuild.sh) and a
# final "PASS"/"FAIL" line. Exit status 0 only on PASS.
set -euo pipefail

self=$(readlink -f "$0")
here=$(dirname "$self")
# shellcheck source=test/sbuild/unpack-helper.sh
. "$here/unpack-helper.sh"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", b - a}'; }
say() { printf '=== sbuild-e2e: %s\n' "$*"; }
fail() {
	printf '!!! sbuild-e2e: %s\n' "$*" >&2
	exit 1
}

# ---------------------------------------------------------------------------
# Inner part: runs inside the private mount namespace, as root.
# State comes from the outer part in NOOK_E2E_* variables.
# ---------------------------------------------------------------------------
inner() {
	# Globals, not locals: the EXIT trap, which runs after inner() has
	# returned, needs them.
	schroot_bin=$NOOK_E2E_SCHROOT user=$NOOK_E2E_USER scratch=$NOOK_E2E_SCRATCH
	marker=$NOOK_E2E_MARKER
	dsc=$scratch/src/nookhello_1.0.dsc builddir=$scratch/build
	sid="" cg="" log=$scratch/sbuild.out
	home=$(getent passwd "$user" | cut -d: -f6)
	path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
	sessions_before=$scratch/sessions.before
	mounts_before=$scratch/mounts.before

	# as_user CMD...: CMD as USER (with its supplementary groups, so in
	# group sbuild) and a clean environment; as root for USER=root. The
	# marker variable lets the leftover check find anything this started.
	as_user() {
		local envv=(env -i "HOME=$home" "PATH=$path" LANG=C.UTF-8 "USER=$user" "LOGNAME=$user"
			"NOOK_SBUILD_E2E=$marker")
		if [ "$user" = root ]; then
			"${envv[@]}" "$@"
		else
			runuser -u "$user" -- "${envv[@]}" "$@"
		fi
	}
	# in_cgroup CMD...: CMD with its whole process tree in the run's cgroup
	# (when cgroup2 is available), so that a process left behind is found.
	# The subshell moves itself in first, so its children start there.
	in_cgroup() {
		(
			[ -z "$cg" ] || echo "$BASHPID" >"$cg/cgroup.procs"
			"$@"
		)
	}
	in_cgroup_as_user() { in_cgroup as_user "$@"; }
	# list_sessions: every session SCHROOT lists, as root and as USER
	# (a front end may keep sessions per user), sorted and unique.
	list_sessions() {
		{
			/usr/bin/schroot --all-sessions -l 2>/dev/null || true
			[ "$user" = root ] || as_user /usr/bin/schroot --all-sessions -l 2>/dev/null || true
		} | sort -u
	}
	# mount_points: the mount points of this namespace, one a line, sorted
	# (mount ids change, mount points are what must match).
	mount_points() { awk '{print $5}' /proc/self/mountinfo | sort; }
	# schroot_state: entries of real schroot's state directories.
	schroot_state() {
		ls -1 /var/lib/schroot/session /var/lib/schroot/unpack /run/schroot/mount 2>/dev/null | sort || true
	}
	# marked_pids: processes whose environment carries this run's marker.
	marked_pids() {
		# One grep over every environ file (NUL-separated entries);
		# kernel threads and pids of other namespaces refuse, hence -s.
		grep -lsxz "NOOK_SBUILD_E2E=$marker" /proc/[0-9]*/environ |
			cut -d/ -f3 | grep -vx "$$" || true
	}
	cg_pids() {
		if [ -n "$cg" ]; then cat "$cg/cgroup.procs" 2>/dev/null || true; fi
	}
	show_pids() {
		local p
		for p in "$@"; do
			ps -o pid=,user=,args= -p "$p" 2>/dev/null || true
		done
	}

	# Clean-up on any exit: end the install session if open, end sessions
	# that appeared during a failed run, kill what is left in the cgroup.
	# shellcheck disable=SC2317 # reached through the EXIT trap
	inner_cleanup() {
		local rc=$?
		set +e
		if [ -n "$sid" ]; then
			as_user /usr/bin/schroot -c "$sid" --end-session >/dev/null 2>&1
		fi
		if [ "$rc" -ne 0 ] && [ -f "$sessions_before" ]; then
			local s
			for s in $(list_sessions | comm -13 "$sessions_before" -); do
				echo "cleanup: ending $s" >&2
				/usr/bin/schroot -c "$s" --end-session >/dev/null 2>&1 ||
					as_user /usr/bin/schroot -c "$s" --end-session >/dev/null 2>&1
			done
		fi
		if [ -n "$cg" ]; then
			local p
			for p in $(cg_pids); do kill -KILL "$p" 2>/dev/null; done
			for _ in 1 2 3 4 5 6 7 8 9 10; do
				rmdir "$cg" 2>/dev/null && break
				sleep 0.2
			done
		fi
		exit "$rc"
	}
	trap inner_cleanup EXIT

	# --- put SCHROOT_BINARY where sbuild will exec it ---------------------
	# (The harness's own calls name /usr/bin/schroot too, so that no other
	# schroot earlier in PATH, e.g. in /usr/local/bin, gets in the way.)
	[ -e /usr/bin/schroot ] || fail "/usr/bin/schroot missing: the bind mount needs a target (install schroot, setup.sh does)"
	if [ "$(readlink -f "$schroot_bin")" != "$(readlink -f /usr/bin/schroot)" ]; then
		mount --bind "$schroot_bin" /usr/bin/schroot
		# Without merged /usr, /bin/schroot is a separate file that the
		# default execvp search finds first.
		if [ "$(readlink -f /bin)" != /usr/bin ] && [ -e /bin/schroot ]; then
			mount --bind "$schroot_bin" /bin/schroot
		fi
	fi
	local unpack_bin
	unpack_bin=$(show_unpack_helper "$schroot_bin" "$scratch")
	[ -z "$unpack_bin" ] || say "nook-unpack: $unpack_bin, shown as /usr/libexec/nook/nook-unpack"
	say "schroot is $(readlink -f "$schroot_bin") (cmp with /usr/bin/schroot in this namespace: $(cmp -s "$schroot_bin" /usr/bin/schroot && echo same || echo DIFFERENT))"
	cmp -s "$schroot_bin" /usr/bin/schroot || fail "bind mount did not take"

	# A cgroup of our own (cgroup v2, wherever it is mounted) to find every
	# process the run leaves behind, however it was daemonised.
	local cg2
	cg2=$(awk '$3 == "cgroup2" {print $2; exit}' /proc/self/mounts)
	if [ -n "$cg2" ] && mkdir "$cg2/nook-sbuild-e2e.$marker" 2>/dev/null; then
		cg=$cg2/nook-sbuild-e2e.$marker
	else
		say "note: no writable cgroup2 hierarchy; leftover processes are found by user and marker only"
	fi

	list_sessions >"$sessions_before"
	[ ! -s "$sessions_before" ] || say "note: sessions existed before the run (ignored): $(tr '\n' ' ' <"$sessions_before")"
	mount_points >"$mounts_before"
	schroot_state >"$scratch/state.before"

	# --- phase: sbuild ------------------------------------------------------
	local sbuild_args=(-d bookworm --arch=amd64 --chroot-mode=schroot
		--no-run-lintian --no-run-autopkgtest --no-run-piuparts)
	# apt-update stays on (the default): mmdebstrap tarballs ship without apt
	# lists, so without it no build-dependency can be installed. The
	# dist-upgrade that follows is sbuild's default too and costs ~0.5 s.
	[ -z "${NOOK_SBUILD_CHROOT:-}" ] || sbuild_args+=("--chroot=$NOOK_SBUILD_CHROOT")
	# NOOK_SBUILD_LIGHT=1 (mkpkg.sh): nothing to install beyond what the
	# tarball has, so no apt-get update (under emulation parsing the
	# archive's indices takes minutes). sbuild still resolves the build
	# dependencies through apt, against its own dummy archive only.
	[ "${NOOK_SBUILD_LIGHT:-0}" != 1 ] || sbuild_args+=(--no-apt-update --no-apt-upgrade --no-apt-distupgrade --build-dep-resolver=null)
	say "phase sbuild: sbuild ${sbuild_args[*]} $(basename "$dsc")  (as $user)"
	local t0 t1 rc=0
	t0=$(now)
	# sbuild writes its full log to nookhello_1.0_amd64.build in the build
	# dir; on a terminal, or with --verbose, it also prints it. Without a
	# terminal (CI) and without --verbose it prints nothing, so the log is
	# streamed with --verbose unless NOOK_SBUILD_QUIET=1.
	local buildlog=$builddir/nookhello_1.0_amd64.build
	set +e
	(
		cd "$builddir"
		if [ "${NOOK_SBUILD_QUIET:-}" = 1 ]; then
			in_cgroup_as_user sbuild "${sbuild_args[@]}" "$dsc" >"$log" 2>&1 </dev/null
		else
			in_cgroup_as_user sbuild --verbose "${sbuild_args[@]}" "$dsc" </dev/null 2>&1 | tee "$log"
			exit "${PIPESTATUS[0]}"
		fi
	)
	rc=$?
	set -e
	t1=$(now)
	echo "TIME sbuild $(elapsed "$t0" "$t1")"
	if [ -f "$buildlog" ]; then
		sed -n '/^| Summary/,$p' "$buildlog" | grep -E '^(Build-Time|Install-Time|Package-Time|Status):' | sed 's/^/  sbuild summary: /' || true
	fi
	if [ "$rc" -ne 0 ]; then
		if [ "${NOOK_SBUILD_QUIET:-}" = 1 ]; then
			tail -20 "$log"
			[ ! -f "$buildlog" ] || tail -60 "$buildlog"
		fi
		fail "sbuild exited $rc"
	fi
	[ -f "$buildlog" ] || fail "sbuild wrote no log $buildlog"
	grep -q '^Status: successful' "$buildlog" || fail "sbuild's log does not say 'Status: successful'"
	local deb=$builddir/nookhello_1.0_amd64.deb
	[ -f "$deb" ] || fail "no $deb after the build; build dir has: $(ls "$builddir")"
	[ -f "$builddir/nookhello_1.0_amd64.changes" ] || fail "no .changes after the build"
	dpkg-deb -c "$deb" | awk '{print $NF}' | grep -qx './usr/bin/nookhello' ||
		fail "usr/bin/nookhello not in the .deb: $(dpkg-deb -c "$deb")"
	say "built $(basename "$deb") ($(stat -c %s "$deb") bytes), contains ./usr/bin/nookhello"
	# The network the build saw. The CI chroot definition asks nook (and
	# only nook: real schroot has no such key) to isolate dpkg-buildpackage.
	local net
	net=$(dpkg-deb --fsys-tarfile "$deb" | tar -xOf - ./usr/share/nookhello/build-net | tr '\n' ' ')
	say "the build saw network interfaces: $net"
	if [ "$schroot_bin" != "$(readlink -f /usr/bin/schroot)" ] &&
		grep -q '^nook.isolate-network-commands=.*dpkg-buildpackage' "/etc/schroot/chroot.d/${NOOK_SBUILD_CHROOT:-nook-ci-bookworm}" 2>/dev/null; then
		[ "$net" = "lo " ] || fail "dpkg-buildpackage saw the interfaces '$net'; the definition isolates it to lo"
	fi

	# --- phase: install and run in a fresh session --------------------------
	local chroot=${NOOK_SBUILD_CHROOT:-nook-ci-bookworm} expected got
	expected=$(cat "$scratch/src/nookhello.expected")
	say "phase install: session on $chroot, dpkg -i, run nookhello (as $user)"
	t0=$(now)
	local tb te
	tb=$(now)
	sid=$(in_cgroup_as_user /usr/bin/schroot -c "$chroot" --begin-session </dev/null)
	[ -n "$sid" ] || fail "--begin-session printed no session id"
	echo "TIME begin-session $(elapsed "$tb" "$(now)")"
	say "session $sid"
	in_cgroup_as_user /usr/bin/schroot -c "$sid" --run-session -q -u root -d / -- sh -c 'cat > /tmp/nookhello.deb' <"$deb"
	in_cgroup_as_user /usr/bin/schroot -c "$sid" --run-session -q -u root -d / -- dpkg -i /tmp/nookhello.deb </dev/null
	got=$(in_cgroup_as_user /usr/bin/schroot -c "$sid" --run-session -q -d / -- nookhello </dev/null)
	[ "$got" = "$expected" ] || fail "nookhello printed '$got', expected '$expected'"
	say "nookhello printed: $got"
	te=$(now)
	in_cgroup_as_user /usr/bin/schroot -c "$sid" --end-session </dev/null
	sid=""
	echo "TIME end-session $(elapsed "$te" "$(now)")"
	t1=$(now)
	echo "TIME install $(elapsed "$t0" "$t1")"

	# --- phase: nothing left behind ---------------------------------------------
	say "phase leftover: sessions, mounts, processes"
	t0=$(now)
	local left
	# Processes get a few seconds to exit (session teardown may be
	# asynchronous in a front end; the real schroot's is not).
	local deadline
	deadline=$(($(date +%s) + 10))
	while :; do
		left="$(cg_pids) $(marked_pids)"
		[ "$user" = root ] || left="$left $(pgrep -u "$user" || true)"
		left=$(printf '%s\n' $left | sort -un | tr '\n' ' ' | sed 's/ $//')
		[ -n "$left" ] && [ "$(date +%s)" -lt "$deadline" ] || break
		sleep 0.2
	done
	if [ -n "$left" ]; then
		show_pids $left >&2
		fail "processes left behind: $left"
	fi
	left=$(list_sessions | comm -13 "$sessions_before" -)
	[ -z "$left" ] || fail "sessions left behind: $left"
	left=$(mount_points | comm -13 "$mounts_before" -)
	[ -z "$left" ] || fail "mounts left behind in the test's namespace: $left"
	left=$(schroot_state | comm -13 "$scratch/state.before" -)
	[ -z "$left" ] || fail "entries left in /var/lib/schroot or /run/schroot: $left"
	t1=$(now)
	echo "TIME leftover $(elapsed "$t0" "$t1")"
}

if [ "${1:-}" = __inner ]; then
	inner
	exit 0
fi

# ---------------------------------------------------------------------------
# Outer part: checks, scratch, the package, the namespace, the host check.
# ---------------------------------------------------------------------------
[ $# -ge 1 ] && [ $# -le 2 ] || { echo "usage: $0 SCHROOT_BINARY [USER]" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "build.sh: run as root (it makes a mount namespace; USER runs the build)" >&2; exit 1; }
schroot_bin=$(readlink -f "$1")
user=${2:-root}
[ -f "$schroot_bin" ] && [ -x "$schroot_bin" ] || fail "$1 is not an executable file"
id "$user" >/dev/null 2>&1 || fail "no user $user (test/sbuild/setup.sh makes nook-ci-sbuild)"
if [ "$user" != root ]; then
	id -nG "$user" | tr ' ' '\n' | grep -qx sbuild || fail "$user is not in group sbuild"
fi
home=$(getent passwd "$user" | cut -d: -f6)
[ -d "$home" ] || fail "$user has no home directory $home"
[ ! -e "$home/.sbuildrc" ] || say "note: $home/.sbuildrc exists and sbuild reads it; the test assumes sbuild's defaults"
command -v sbuild >/dev/null || fail "sbuild is not installed (run test/sbuild/setup.sh)"

t_start=$(now)
scratch=$(mktemp -d /var/tmp/nook-sbuild-e2e.XXXXXX)
chmod 0755 "$scratch"
marker=$(basename "$scratch" | cut -d. -f2)
host_mounts_before=$(awk '{print $5}' /proc/self/mountinfo | sort)
outer_cleanup() {
	local rc=$?
	set +e
	if [ "$rc" -ne 0 ] && [ "${NOOK_SBUILD_KEEP:-}" = 1 ]; then
		echo "kept $scratch (NOOK_SBUILD_KEEP=1)" >&2
	else
		rm -rf "$scratch"
	fi
	if [ "$rc" -eq 0 ]; then echo PASS; else echo "FAIL (rc $rc)"; fi
	exit "$rc"
}
trap outer_cleanup EXIT

say "schroot=$schroot_bin user=$user scratch=$scratch"
t0=$(now)
"$here/mkpkg.sh" "$scratch/src" >/dev/null
install -d -o "$user" -g "$(id -g "$user")" -m 0755 "$scratch/build"
echo "TIME mkpkg $(elapsed "$t0" "$(now)")"

export NOOK_E2E_SCHROOT=$schroot_bin NOOK_E2E_USER=$user NOOK_E2E_SCRATCH=$scratch NOOK_E2E_MARKER=$marker
unshare --mount --propagation private -- bash "$self" __inner

# The host's mount table: the test ran in its own namespace, so nothing of
# it should show here. Other work on a shared machine may mount things
# meanwhile, so only mount points that look like this test's fail.
new=$(awk '{print $5}' /proc/self/mountinfo | sort | comm -13 <(echo "$host_mounts_before") -)
if [ -n "$new" ]; then
	if echo "$new" | grep -E 'schroot|sbuild|nook|/build'; then
		fail "mounts appeared in the host's namespace: $new"
	fi
	say "note: unrelated new host mounts: $new"
fi
echo "TIME total $(elapsed "$t_start" "$(now)")"
