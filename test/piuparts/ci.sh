#!/usr/bin/env bash
# ci.sh SCHROOT_BINARY: Debian 12's own piuparts (1.1.7) tests packages in a
# schroot session (piuparts --schroot), where "schroot" is SCHROOT_BINARY:
# nook (answering as schroot when called by that name) or /usr/bin/schroot
# (which is how the harness itself is checked). As root, as piuparts runs.
#
# piuparts does what no other client does: it reads, writes and walks the
# session's tree from the host through the path `--location` gives (its
# sources.list, policy-rc.d, the .deb it installs, and the file lists it
# compares before and after). So its chroot is a nook copy session
# (nook.copy=true, docs/schroot-compat.md), defined here as
# nook-ci-bookworm-piuparts over the buildd tarball of test/sbuild/setup.sh.
#
# Two packages, built here with dpkg-deb:
#   nookpiu      a file and nothing else: piuparts must PASS (install, purge,
#                compare the trees)
#   nookpiubad   its postinst leaves /etc/nookpiubad-leftover behind: piuparts
#                must FAIL with "Package purging left files on system" naming
#                that file, which it can only see by walking the real tree
# and for each: no session left (schroot --all-sessions -l), no mount point
# added in the test's mount namespace, no process carrying the run's marker.
#
# As in test/sbuild/build.sh, the binary becomes "schroot" by a bind mount
# over /usr/bin/schroot in a private mount namespace.
#
# Output: "RESULT <package> PASS|FAIL <seconds>" per package, then PASS or
# FAIL; exit status 0 only when both behaved.
set -euo pipefail
self=$(readlink -f "$0")
here=$(dirname "$self")
top=$(cd "$here/../.." && pwd)
chroot=nook-ci-bookworm-piuparts
say() { printf '=== piuparts-e2e: %s\n' "$*"; }

# ---------------------------------------------------------------------------
# Inner part: in the private mount namespace, as root.
# ---------------------------------------------------------------------------
if [ "${1:-}" = --inner ]; then
	bin=$2 deb=$3 want=$4 scratch=$5
	marker=nook-piu-e2e-$$-$RANDOM
	# shellcheck source=test/lib/e2e.sh
	. "$top/test/lib/e2e.sh"
	e2e_as_schroot "$bin" "$scratch"
	e2e_before "$scratch" schroot
	rc=0
	(cd "$scratch" && env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		HOME=/root LANG=C.UTF-8 "NOOK_PIU_E2E=$marker" \
		piuparts --schroot "$chroot" -d bookworm --mirror http://deb.debian.org/debian \
		--no-upgrade-test "$deb") >"$scratch/piuparts.log" 2>&1 || rc=$?
	log=$scratch/piuparts.log
	if [ "$want" = pass ]; then
		check "piuparts exit status 0, got $rc" "$([ "$rc" = 0 ] && echo 1)"
		check "piuparts says PASS: All tests." "$(grep -q 'INFO: PASS: All tests\.' "$log" && echo 1)"
	else
		check "piuparts exit status non-zero, got $rc" "$([ "$rc" != 0 ] && echo 1)"
		check "piuparts found the file the purge left: /etc/nookpiubad-leftover" \
			"$(grep -A2 'FAIL: Package purging left files on system' "$log" | grep -q '/etc/nookpiubad-leftover' && echo 1)"
		check "and nothing else went wrong (no command failed)" "$(grep -q 'ERROR: Command failed' "$log" || echo 1)"
	fi
	e2e_after "$scratch" "NOOK_PIU_E2E=$marker" schroot
	if [ "$bad" -ne 0 ]; then
		echo "--- piuparts' output (last 60 lines):"
		tail -60 "$log"
	fi
	exit "$bad"
fi

# ---------------------------------------------------------------------------
# Outer part.
# ---------------------------------------------------------------------------
# shellcheck source=test/lib/e2e.sh
. "$top/test/lib/e2e.sh"
e2e_args "$@"
"$top/test/sbuild/setup.sh"
e2e_install piuparts
# The chroot: the buildd tarball, a private full copy per session under
# nook (real schroot ignores the nook. key and unpacks it as usual); the
# sbuild profile, whose fstab leaves the chroot's own /tmp alone (the
# default profile binds the host's /tmp over it, hiding the .deb piuparts
# copies into <location>/tmp).
def=/etc/schroot/chroot.d/$chroot
cat >"$def.tmp" <<EOF
[$chroot]
description=Debian bookworm/amd64 chroot for nook's piuparts test (a full copy per session)
groups=root
root-groups=root
profile=sbuild
type=file
file=/var/cache/nook-ci/bookworm-buildd.tar
nook.copy=true
EOF
mv "$def.tmp" "$def"

scratch=$(mktemp -d /var/tmp/nook-piu-e2e.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
chmod 755 "$scratch"
mkdeb() { # mkdeb NAME [POSTINST]
	local d=$scratch/$1
	mkdir -p "$d/DEBIAN" "$d/usr/share/$1"
	echo "$1" >"$d/usr/share/$1/README"
	cat >"$d/DEBIAN/control" <<EOF
Package: $1
Version: 1.0
Architecture: all
Maintainer: nook CI <nook@example.invalid>
Description: piuparts check for nook
 Built by test/piuparts/ci.sh.
EOF
	if [ -n "${2:-}" ]; then
		printf '#!/bin/sh\nset -e\n%s\n' "$2" >"$d/DEBIAN/postinst"
		chmod 755 "$d/DEBIAN/postinst"
	fi
	dpkg-deb --root-owner-group -b "$d" "$scratch/${1}_1.0_all.deb" >/dev/null
	rm -rf "$d"
}
mkdeb nookpiu
mkdeb nookpiubad 'echo left > /etc/nookpiubad-leftover'

rc=0
results=()
for pkg in nookpiu:pass nookpiubad:fail; do
	name=${pkg%:*} want=${pkg#*:}
	say "piuparts on $name (must $want) through $bin"
	work=$scratch/$name.work
	mkdir "$work"
	start=$(date +%s.%N)
	status=PASS
	unshare -m --propagation private "$self" --inner "$bin" "$scratch/${name}_1.0_all.deb" "$want" "$work" || status=FAIL
	secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b - a}')
	[ "$status" = PASS ] || rc=1
	results+=("RESULT $name $status ${secs}s")
done
printf '%s\n' "${results[@]}"
if [ "$rc" -eq 0 ]; then echo PASS; else echo FAIL; fi
exit "$rc"
