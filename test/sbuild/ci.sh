#!/usr/bin/env bash
# ci.sh NOOK_BINARY: the sbuild end-to-end test (issue 7) for CI, as root.
#
# test/all.sh calls it (as root, after the other suites) with the nook it
# built. It costs, on a quiet 2-core machine, about a minute and a half for
# the tarball the first time (cached after) and under half a minute per
# build; it needs the network (apt-get, mmdebstrap, apt-get update inside
# the chroot).
#
# What it does: test/sbuild/setup.sh (packages, tarball, user nook-ci-sbuild,
# schroot definition), a quick check that NOOK_BINARY answers as schroot,
# then test/sbuild/build.sh NOOK_BINARY for nook-ci-sbuild and for root.
#
# How nook gets to be "schroot": nook picks its face from argv[0]'s base
# name. sbuild 0.85 execs plain "schroot" (found as /usr/bin/schroot, see
# build.sh), so argv[0] is "schroot" whatever file is behind that path;
# build.sh bind-mounts the nook binary itself over /usr/bin/schroot in a
# private mount namespace. (A bind mount of a symlink would follow it, so a
# symlink would not help; none is needed.)
#
# `ci.sh /usr/bin/schroot` runs the same thing against the real schroot,
# which is how the harness itself is validated.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 NOOK_BINARY (or /usr/bin/schroot)" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "ci.sh: run as root" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
bin=$(readlink -f "$1")
[ -x "$bin" ] || { echo "ci.sh: $1 is not executable" >&2; exit 1; }

"$here/setup.sh"

# Does the binary speak schroot at all? Call it by the name "schroot" via a
# symlink in a scratch dir (here argv[0] comes from the symlink's name) and
# ask for the chroot list: a clear early failure instead of a failed build.
probe=$(mktemp -d /var/tmp/nook-sbuild-probe.XXXXXX)
trap 'rm -rf "$probe"' EXIT
ln -s "$bin" "$probe/schroot"
if ! list=$("$probe/schroot" -l 2>&1) || ! grep -qx 'chroot:nook-ci-bookworm' <<<"$list"; then
	echo "ci.sh: $bin, called as schroot, does not list chroot:nook-ci-bookworm:" >&2
	echo "$list" >&2
	exit 1
fi

rc=0
declare -a times
# NOOK_SBUILD_USERS: who builds (the VM stage adds the CI users to group
# sbuild and builds as each).
for user in ${NOOK_SBUILD_USERS:-nook-ci-sbuild root}; do
	printf '\n=== sbuild end to end as %s through %s\n' "$user" "$bin"
	out=$(mktemp)
	# NOOK_SBUILD_QUIET keeps CI logs short; the sbuild log is shown on failure.
	NOOK_SBUILD_QUIET=${NOOK_SBUILD_QUIET:-1} "$here/build.sh" "$bin" "$user" 2>&1 | tee "$out" || true
	status=$(tail -1 "$out")
	[ "$status" = PASS ] || rc=1
	times+=("$(printf '%-15s %-12s %s' "$user" "$status" "$(grep '^TIME ' "$out" | awk '{printf "%s=%ss ", $2, $3}')")")
	rm -f "$out"
done
printf '\n=== sbuild end to end: summary\n'
printf '%s\n' "${times[@]}"
exit "$rc"
