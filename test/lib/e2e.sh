# shellcheck shell=bash
# Shared by test/autopkgtest/ci.sh and test/piuparts/ci.sh: a Debian client
# driving SCHROOT_BINARY as schroot in a private mount namespace, as root.

# e2e_args BINARY: the outer part's checks; sets bin.
e2e_args() {
	[ $# -eq 1 ] || { echo "usage: $0 NOOK_BINARY (or /usr/bin/schroot)" >&2; exit 2; }
	[ "$(id -u)" -eq 0 ] || { echo "$0: run as root" >&2; exit 1; }
	bin=$(readlink -f "$1")
	[ -x "$bin" ] || { echo "$0: $1 is not executable" >&2; exit 1; }
}

# e2e_install PACKAGE: apt-get install it unless it is there.
e2e_install() {
	dpkg-query -W -f '${Status}' "$1" 2>/dev/null | grep -q 'install ok installed' && return
	echo "=== installing $1"
	DEBIAN_FRONTEND=noninteractive apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$1" >/dev/null
}

# e2e_as_schroot BINARY SCRATCH: in this (private) mount namespace, BINARY
# becomes /usr/bin/schroot, with nook's unpack helper where nook finds it.
e2e_as_schroot() {
	[ "$1" != /usr/bin/schroot ] || return 0
	# shellcheck source=test/sbuild/unpack-helper.sh
	. "$(dirname "${BASH_SOURCE[0]}")/../sbuild/unpack-helper.sh"
	mount --bind "$1" /usr/bin/schroot
	[ -L /bin ] || mount --bind "$1" /bin/schroot
	local helper
	helper=$(show_unpack_helper "$1" "$2")
	[ -z "$helper" ] || echo "=== unpack helper: $helper"
}

# check WHAT OK: prints the check; a failed one sets bad=1.
# shellcheck disable=SC2034 # read by the scripts that source this
bad=0
# shellcheck disable=SC2034
check() {
	if [ "$2" = 1 ]; then printf 'ok   %s\n' "$1"; else printf '!!!  %s\n' "$1"; bad=1; fi
}

# e2e_before DIR / e2e_after DIR MARKER_ASSIGNMENT LIST_SESSIONS...: the
# leftover checks. Before: the sessions LIST_SESSIONS prints and this
# namespace's mount points. After: no new session, no new mount point, no
# process whose environment holds MARKER_ASSIGNMENT (VAR=value); what is
# left is shown, killed and ended.
e2e_sessions() { "$@" --all-sessions -l 2>/dev/null | sort || true; }
e2e_before() {
	local dir=$1
	shift
	e2e_sessions "$@" >"$dir/sessions.before"
	awk '{print $5}' /proc/self/mountinfo | sort >"$dir/mounts.before"
}
e2e_after() {
	local dir=$1 marker=$2 new_sessions new_mounts left s
	shift 2
	new_sessions=$(comm -13 "$dir/sessions.before" <(e2e_sessions "$@"))
	check "no session left${new_sessions:+: $new_sessions}" "$([ -z "$new_sessions" ] && echo 1)"
	new_mounts=$(comm -13 "$dir/mounts.before" <(awk '{print $5}' /proc/self/mountinfo | sort))
	check "no mount left${new_mounts:+: $new_mounts}" "$([ -z "$new_mounts" ] && echo 1)"
	left=$(grep -lsxz "$marker" /proc/[0-9]*/environ | cut -d/ -f3 | grep -vx "$$" || true)
	check "no process left${left:+: $left}" "$([ -z "$left" ] && echo 1)"
	if [ -n "$left" ]; then
		# shellcheck disable=SC2086 # a list of pids
		ps -o pid=,user=,args= -p $left || true
		# shellcheck disable=SC2086
		kill -9 $left 2>/dev/null || true
	fi
	for s in $new_sessions; do "$@" -e -c "$s" >/dev/null 2>&1 || true; done
}
