#!/usr/bin/env bash
# autopkgtest -U through nook as schroot beside the real schroot (issue 18):
# Debian 12's autopkgtest runs test/autopkgtest/pkg's "identity" test with
# -U (apt-get update and dist-upgrade in the testbed first) as
# nook-ci-sbuild, its output in a log root created, as a CI runner's would
# be. Rounds alternate nook and schroot, so the machine's drift hits both.
#
#   sudo bench/autopkgtest.sh NOOK_BINARY [ROUNDS]     # default 3 rounds
#
# Prints each run's seconds and the medians. Needs the network (apt-get
# update in the testbed) and test/sbuild/setup.sh's chroot and user.
set -euo pipefail
[ "$(id -u)" -eq 0 ] || { echo "bench/autopkgtest.sh: run as root" >&2; exit 1; }
[ $# -ge 1 ] || { echo "usage: $0 NOOK_BINARY [ROUNDS]" >&2; exit 2; }
top=$(cd "$(dirname "$0")/.." && pwd)
nook=$(readlink -f "$1")
rounds=${2:-3}
user=nook-ci-sbuild
"$top/test/sbuild/setup.sh" >/dev/null
command -v autopkgtest >/dev/null || apt-get install -y -qq autopkgtest >/dev/null
scratch=$(mktemp -d /var/tmp/nook-bench-apt.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
chmod 755 "$scratch"
cp -r "$top/test/autopkgtest/pkg" "$scratch/pkg"
chown -R "$user:" "$scratch/pkg"
# one BINARY: one timed autopkgtest run with BINARY as /usr/bin/schroot,
# in a mount namespace of its own; prints the seconds.
one() {
	unshare -m --propagation private bash -c '
		set -e
		mount --bind "$1" /usr/bin/schroot
		cd "$2"
		start=$(date +%s.%N)
		rc=0
		runuser -u "$3" -- env -i HOME="$2" PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
			autopkgtest -U --no-built-binaries --test-name identity ./pkg/ -- schroot nook-ci-bookworm \
			>"$2/log" 2>&1 </dev/null || rc=$?
		[ "$rc" = 0 ] || { echo "autopkgtest through $1 failed ($rc):" >&2; tail -20 "$2/log" >&2; exit 1; }
		if grep -q "tee: /proc/self/fd/2" "$2/log"; then echo "($1: the testbed could not reopen stderr)" >&2; fi
		awk -v a="$start" -v b="$(date +%s.%N)" "BEGIN{printf \"%.1f\n\", b - a}"
	' bench "$1" "$scratch" "$user"
}
declare -a tn ts
for r in $(seq "$rounds"); do
	n=$(one "$nook")
	s=$(one /usr/bin/schroot)
	echo "round $r: nook ${n}s  schroot ${s}s"
	tn+=("$n") ts+=("$s")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END{print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
mn=$(median "${tn[@]}") ms=$(median "${ts[@]}")
echo "median of $rounds: nook ${mn}s, schroot ${ms}s, nook/schroot $(awk -v a="$mn" -v b="$ms" 'BEGIN{printf "%.2f", a/b}')"
