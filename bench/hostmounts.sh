#!/usr/bin/env bash
# Start-up cost of nook beside bubblewrap as the host's mount table grows
# (issue 22): with 20, 200 and 1000 mounts in the mount namespace the
# sandbox starts from. bwrap remounts every submount of a recursive bind
# one by one to make it read-only; nook's recursive mount_setattr does the
# whole tree at once. Results go to docs/benchmarks.md by hand.
#
#   sudo bench/hostmounts.sh [NOOK_BINARY]
#
# Runs as root only to make the mounts: they are made in a private mount
# namespace of their own (unshare -m), so the host's table is never
# touched and they are gone when the bench ends, however it ends; the
# measurements run as nook-ci-nosub inside that namespace. COUNTS
# overrides the axis ("20 200 1000"), RUNS the runs per line (100).
set -euo pipefail
[ "$(id -u)" -eq 0 ] || { echo "bench/hostmounts.sh: run as root (it makes mounts, then measures as nook-ci-nosub)" >&2; exit 1; }
top=$(cd "$(dirname "$0")/.." && pwd)
export PATH="/usr/local/go/bin:$PATH"
"$top/test/setup-host.sh" >/dev/null
. "$top/bench/lib.sh"
nook=$(bench_nook "${1:-}")
export NOOK=$nook RUNS=${RUNS:-100} COUNTS=${COUNTS:-20 200 1000}
out=$(mktemp -d /var/tmp/nook-bench-mounts.XXXXXX)
chmod 1777 "$out"
trap 'rm -rf "$out"' EXIT
export OUT=$out
echo "kernel $(uname -r); $(nproc) cpus; $(bwrap --version); $("$nook" version); runs=$RUNS"
# In a mount namespace of its own: add tmpfs mounts under one directory
# until the table holds COUNT, measure, and go on to the next count.
unshare -m --propagation private bash -euo pipefail -c '
	cd /
	base=$OUT/m
	mkdir -p "$base"
	made=0
	for count in $COUNTS; do
		have=$(wc -l < /proc/self/mountinfo)
		while [ "$have" -lt "$count" ]; do
			mkdir -p "$base/$made"
			mount -t tmpfs -o size=4k tmpfs "$base/$made"
			made=$((made + 1))
			have=$((have + 1))
		done
		echo "== $(wc -l < /proc/self/mountinfo) mounts in the host namespace"
		runuser -u nook-ci-nosub -- hyperfine -N --warmup 10 --runs "$RUNS" --export-markdown "$OUT/$count.md" \
			-n "nook run --share-pid --share-ipc --share-uts --ro-bind / / true" \
			"$NOOK run --share-pid --share-ipc --share-uts --ro-bind / / true" \
			-n "bwrap --ro-bind / / true" "bwrap --ro-bind / / true" \
			-n "nook run --unshare-all --ro-bind / / --dev /dev --proc /proc --tmpfs /tmp true" \
			"$NOOK run --unshare-all --ro-bind / / --dev /dev --proc /proc --tmpfs /tmp true" \
			-n "bwrap --unshare-all --ro-bind / / --dev /dev --proc /proc --tmpfs /tmp true" \
			"bwrap --unshare-all --ro-bind / / --dev /dev --proc /proc --tmpfs /tmp true" >/dev/null
		cat "$OUT/$count.md"
		echo
	done
'
