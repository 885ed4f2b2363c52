#!/usr/bin/env bash
# autopkgtest through three servers side by side (issue 20 §5): Debian
# 12's autopkgtest 5.28 runs test/autopkgtest/pkg (three tests: identity,
# artifacts, fails) as nook-ci-sbuild over the same bookworm buildd
# tarball through
#   nook      autopkgtest-virt-nook, nook's own server (-- nook CHROOT)
#   schroot   autopkgtest-virt-schroot with nook as schroot (bind-mounted
#             over /usr/bin/schroot in a mount namespace of its own)
#   unshare   autopkgtest-virt-unshare (unshare --map-auto, a full tar
#             extract at every open and revert)
# Rounds alternate the three, so the machine's drift hits all; nook's unpack
# cache is warmed first (a first use of a tarball unpacks it once).
#
#   sudo bench/autopkgtest-virt.sh NOOK_BINARY [ROUNDS]     # default 3 rounds
#
# Prints each run's seconds and the medians. Needs no network; needs
# test/sbuild/setup.sh's chroot and user (it runs it).
set -euo pipefail
[ "$(id -u)" -eq 0 ] || { echo "bench/autopkgtest-virt.sh: run as root" >&2; exit 1; }
[ $# -ge 1 ] || { echo "usage: $0 NOOK_BINARY [ROUNDS]" >&2; exit 2; }
top=$(cd "$(dirname "$0")/.." && pwd)
nook=$(readlink -f "$1")
rounds=${2:-3}
user=nook-ci-sbuild chroot=nook-ci-bookworm tarball=/var/cache/nook-ci/bookworm-buildd.tar
"$top/test/sbuild/setup.sh" >/dev/null
command -v autopkgtest >/dev/null || apt-get install -y -qq autopkgtest >/dev/null
home=$(getent passwd "$user" | cut -d: -f6)
scratch=$(mktemp -d /var/tmp/nook-bench-virt.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
chmod 755 "$scratch"
cp -r "$top/test/autopkgtest/pkg" "$scratch/pkg"
mkdir "$scratch/bin"
ln -s "$nook" "$scratch/bin/autopkgtest-virt-nook"
chown -R "$user:" "$scratch"
as_user() {
	runuser -u "$user" -- env -i HOME="$home" PATH="$scratch/bin:/usr/sbin:/usr/bin:/sbin:/bin" LANG=C.UTF-8 "$@"
}
# one SERVER: one timed autopkgtest run; prints the seconds.
one() {
	local rc=0 start end
	start=$(date +%s.%N)
	case $1 in
	nook) (cd "$scratch" && as_user autopkgtest --no-built-binaries ./pkg/ -- nook "$chroot") >"$scratch/log" 2>&1 </dev/null || rc=$? ;;
	unshare) (cd "$scratch" && as_user autopkgtest --no-built-binaries ./pkg/ -- unshare --tarball "$tarball") >"$scratch/log" 2>&1 </dev/null || rc=$? ;;
	schroot) unshare -m --propagation private bash -c '
		mount --bind "$1" /usr/bin/schroot
		cd "$2" && runuser -u "$3" -- env -i HOME="$4" PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
			autopkgtest --no-built-binaries ./pkg/ -- schroot "$5"' _ "$nook" "$scratch" "$user" "$home" "$chroot" \
		>"$scratch/log" 2>&1 </dev/null || rc=$? ;;
	esac
	end=$(date +%s.%N)
	# 4: the "fails" test failed, as it must; anything else is a broken run.
	[ "$rc" = 4 ] || { echo "autopkgtest through $1 exited $rc:" >&2; tail -20 "$scratch/log" >&2; exit 1; }
	awk -v a="$start" -v b="$end" 'BEGIN{printf "%.1f\n", b - a}'
}
as_user "$nook" session end "$(as_user "$nook" session begin "$chroot")" 2>/dev/null
declare -A times
for ((i = 1; i <= rounds; i++)); do
	for s in nook schroot unshare; do
		t=$(one $s)
		echo "round $i $s ${t}s"
		times[$s]+="$t "
	done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END{print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
for s in nook schroot unshare; do
	echo "median $s $(echo "${times[$s]}" | median)s"
done
