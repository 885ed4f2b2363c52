#!/usr/bin/env bash
# The VM part of bench/vm.sh: runs inside a test/vm guest as root (the
# VM stage's custom script; NOOK and RESULTS are set), measures as the
# unprivileged nook-ci-sub and writes RESULTS/bench.md. Under software
# emulation absolute times mean nothing; the ratios of nook to bwrap in the
# same hyperfine run are what to read.
set -euo pipefail
user=nook-ci-sub
runs=${BENCH_RUNS:-40}
home=/var/tmp/nook-bench-vm
rm -rf "$home"
mkdir -p "$home"
chown "$user:" "$home"
as() { (cd "$home" && runuser -u "$user" -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$home" LANG=C.UTF-8 "$@"); }
out=$RESULTS/bench.md
# pair NAME NOOK_CMD BWRAP_CMD: one hyperfine run of the two, nook first;
# hyperfine's Relative column is the ratio to the faster.
pair() {
	local name=$1
	as hyperfine -N --warmup 5 --runs "$runs" --export-markdown "$home/pair.md" \
		-n "nook: $2" "$2" -n "bwrap: $3" "$3" >/dev/null
	{
		echo "#### $name"
		echo
		cat "$home/pair.md"
		echo
	} >>"$out"
}
{
	echo "### $(. /etc/os-release && echo "$PRETTY_NAME"), kernel $(uname -r)"
	echo
	echo "$(nproc) vCPUs under QEMU TCG; $(bwrap --version); $($NOOK version); $runs runs each, as $user."
	echo
} >"$out"
cd /
pair "nook run --ro-bind / / true (nook's default pid, IPC and UTS namespaces) and bwrap's" \
	"$NOOK run --ro-bind / / true" "bwrap --ro-bind / / true"
pair "the same work (nook without the namespaces bwrap does not make)" \
	"$NOOK run --share-pid --share-ipc --share-uts --ro-bind / / true" "bwrap --ro-bind / / true"
full="--unshare-all --ro-bind / / --dev /dev --proc /proc --tmpfs /tmp true"
pair "full isolation: --unshare-all --ro-bind / / --dev /dev --proc /proc --tmpfs /tmp" \
	"$NOOK run $full" "bwrap $full"

# A session on the minbase tarball (the buildd one would take minutes to
# unpack under emulation; a command's cost does not depend on the size).
as "$NOOK" chroot add minbase /var/cache/nook-ci/bookworm-minbase.tar
id=$(as "$NOOK" session begin minbase 2>/dev/null)
entry=$(as "$NOOK" session info "$id" --json | sed -n 's/.*"lower": "\(.*\)".*/\1/p')
as mkdir -p "$home/u" "$home/w"
common="--unshare-pid --unshare-ipc --unshare-uts --hostname buildd --proc /proc --dev /dev --ro-bind /sys /sys --ro-bind /etc/resolv.conf /etc/resolv.conf --ro-bind /etc/hosts /etc/hosts --chdir /"
if bwrap --help 2>&1 | grep -q -- --overlay-src; then
	# bwrap 0.11+: the same overlay as the session's, on a host upper.
	b="bwrap --unshare-user --uid 0 --gid 0 --overlay-src $entry --overlay $home/u $home/w / $common true"
	what="bwrap with the same overlay (one id: bwrap maps no subordinate ids)"
else
	# bwrap 0.8 (Debian 12) has no overlay: a bind of the tree instead.
	b="bwrap --unshare-user --uid 0 --gid 0 --bind $entry / $common true"
	what="bwrap with a bind of the tree instead of the overlay (bwrap 0.8 has none; one id)"
fi
pair "session run ID -- true against $what" "$NOOK session run $id -- true" "$b"
as "$NOOK" session end "$id"
rm -rf "$home"
cat "$out"
