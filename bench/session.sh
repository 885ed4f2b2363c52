#!/usr/bin/env bash
# Build sessions on a real buildd chroot, as the unprivileged nook-ci-sub
# (which has subordinate ids), beside what sbuild's unshare mode does:
# first unpack against tar -x, warm begin, one command against nook run
# and bwrap, end after an apt-get install against rm -rf, apt-get install
# with and without the sync family, and nook's peak memory while unpacking.
# Results go to docs/benchmarks.md by hand.
#
#   sudo bench/session.sh            # builds nook, makes the tarball once
#   sudo ONLY="unpack apt" bench/session.sh   # some sections: unpack memory
#                                    # begin run apt end
#
# Needs hyperfine, bubblewrap, mmdebstrap, uidmap (test/setup-host.sh) and
# the network (mmdebstrap once; apt-get in the install runs).
set -euo pipefail
[ "$(id -u)" -eq 0 ] || { echo "bench/session.sh: run as root (it runs the measurements as nook-ci-sub)" >&2; exit 1; }
top=$(cd "$(dirname "$0")/.." && pwd)
export PATH="/usr/local/go/bin:$PATH"
"$top/test/setup-host.sh" >/dev/null
user=nook-ci-sub
runs=${RUNS:-30}

tarball=/var/cache/nook-bench/bookworm-buildd.tar
if [ ! -f "$tarball" ]; then
	mkdir -p "$(dirname "$tarball")"
	chmod 755 "$(dirname "$tarball")"
	mmdebstrap --quiet --format=tar --variant=buildd bookworm "$tarball.tmp" http://deb.debian.org/debian
	mv "$tarball.tmp" "$tarball"
fi
chmod 644 "$tarball"

work=/var/tmp/nook-bench-session
rm -rf "$work"
mkdir -p "$work"
chmod 755 "$work"
(cd "$top" && CGO_ENABLED=0 go build -o "$work" ./cmd/nook ./cmd/nook-unpack)
home="$work/home"
mkdir -p "$home"
chown "$user:" "$home"
nook="$work/nook"

# as USER with a private HOME (so the XDG directories are fresh)
as() { (cd "$home" && runuser -u "$user" -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$home" LANG=C.UTF-8 "$@"); }
md() { cat "$home/$1.md"; echo; }
want() { [ -z "${ONLY:-}" ] || [[ " $ONLY " == *" $1 "* ]]; }

echo "kernel $(uname -r); $(nproc) cpus; $(bwrap --version); $(tar --version | head -1); tarball $(stat -c %s "$tarball") bytes"
as "$nook" chroot add buildd "$tarball"

if want unpack; then
echo "== first unpack (cold cache) beside tar -x of the same file, both in a user namespace with the subordinate ids"
# unshare --map-auto --map-root-user maps the caller to root and the rest
# onto its subordinate range, as the session does; tar keeps the archive's
# numeric owners and skips the device nodes it cannot make. Each run
# starts after sync, so neither pays for the other's writeback.
as hyperfine -N --runs "${UNPACK_RUNS:-5}" --export-markdown "$home/unpack.md" \
	--prepare "sh -c '$nook session end --all && $nook cache prune >/dev/null && sync'" \
	--prepare "unshare --map-auto --map-root-user sh -c 'rm -rf $home/tree; mkdir $home/tree; sync'" \
	-n "nook session begin (cold: unpack)" "$nook session begin buildd" \
	-n "tar -x in a user namespace (unshare --map-auto)" "unshare --map-auto --map-root-user tar --numeric-owner --exclude=./dev/* -xf $tarball -C $home/tree" >/dev/null
md unpack
as unshare --map-auto --map-root-user rm -rf "$home/tree"
as "$nook" session end --all
fi

if want memory; then
echo "== peak memory of nook while unpacking (GNU time, max RSS of nook and its helpers)"
as "$nook" cache prune >/dev/null
as /usr/bin/time -f "%M KiB max RSS, %e s: nook session begin (cold), $(stat -c %s "$tarball") byte tarball" "$nook" session begin buildd >/dev/null
small=/var/cache/nook-ci/bookworm-minbase.tar
if [ -f "$small" ]; then
	as "$nook" chroot add minbase "$small"
	as /usr/bin/time -f "%M KiB max RSS, %e s: nook session begin (cold), $(stat -c %s "$small") byte tarball" "$nook" session begin minbase >/dev/null
fi
as "$nook" session end --all
fi

if want begin; then
echo "== session begin, warm cache"
as hyperfine -N --warmup 5 --runs "$runs" --export-markdown "$home/begin.md" \
	-n "nook session begin (warm)" "$nook session begin buildd" >/dev/null
md begin
as "$nook" session end --all
fi

if want run; then
echo "== one command: session run true beside nook run and bwrap with the equivalent mounts"
id=$(as "$nook" session begin buildd)
entry=$(as "$nook" session info "$id" --json | sed -n 's/.*"lower": "\(.*\)".*/\1/p')
sdir=$(as "$nook" session info "$id" --json | sed -n 's/.*"directory": "\(.*\)".*/\1/p')
as mkdir -p "$home/u" "$home/w"
as hyperfine -N --warmup 10 --runs "$runs" --export-markdown "$home/run.md" \
	-n "nook session run ID -- true (the session's user namespace held)" "$nook session run $id -- true" \
	-n "the same with NOOK_USERNS_IDLE=0 (a new user namespace, newuidmap and newgidmap, every command)" \
	"env NOOK_USERNS_IDLE=0 $nook session run $id -- true" \
	-n "nook run, same mounts (overlay /, proc, dev, ro sys, resolv.conf, hosts), subids-root" \
	"$nook run --identity subids-root --unshare-pid --unshare-ipc --unshare-uts --hostname buildd --suppress-sync --overlay-src $entry --overlay $home/u $home/w / --proc /proc --dev /dev --ro-bind /sys /sys --ro-bind /etc/resolv.conf /etc/resolv.conf --ro-bind /etc/hosts /etc/hosts --chdir / -- true" \
	-n "bwrap, same mounts but a bind of the tree for the overlay (bookworm's bwrap 0.8 has no --overlay), one id" \
	"bwrap --unshare-user --uid 0 --gid 0 --unshare-pid --unshare-ipc --unshare-uts --hostname buildd --bind $entry / --proc /proc --dev /dev --ro-bind /sys /sys --ro-bind /etc/resolv.conf /etc/resolv.conf --ro-bind /etc/hosts /etc/hosts --chdir / true" \
	-n "bwrap --unshare-user --uid 0 --unshare-pid --bind TREE / --proc /proc --dev /dev true (issue 22's anchor)" \
	"bwrap --unshare-user --uid 0 --unshare-pid --bind $entry / --proc /proc --dev /dev true" \
	-n "unshare --map-auto --map-root-user (the two setuid helpers alone)" "unshare --map-auto --map-root-user true" >/dev/null
md run
as "$nook" session end "$id"
fi

pkgs="python3"
if want apt; then
echo "== apt-get install, with the sync family suppressed (default) and kept (--sync); packages downloaded beforehand"
as hyperfine -N --runs "${APT_RUNS:-3}" --export-markdown "$home/apt.md" \
	--prepare "sh -c '$nook session end --all; $nook session begin buildd --name apt >/dev/null && $nook session run apt -- sh -c \"apt-get -q update && apt-get -q -y -d install $pkgs\" >/dev/null && sync'" \
	-n "apt-get install $pkgs (sync suppressed)" "$nook session run apt -- env DEBIAN_FRONTEND=noninteractive apt-get -q -y install $pkgs" \
	-n "apt-get install $pkgs (--sync)" "$nook session run apt --sync -- env DEBIAN_FRONTEND=noninteractive apt-get -q -y install $pkgs" >/dev/null
md apt
as "$nook" session end --all
fi

if want end; then
echo "== session end after that install, beside rm -rf of an extracted tree"
as hyperfine -N --runs 3 --export-markdown "$home/end.md" \
	--prepare "sh -c '$nook session begin buildd --name e >/dev/null && $nook session run e -- sh -c \"apt-get -q update && DEBIAN_FRONTEND=noninteractive apt-get -q -y install $pkgs\" >/dev/null'" \
	--prepare "unshare --map-auto --map-root-user sh -c 'rm -rf $home/tree; mkdir $home/tree && tar --numeric-owner --exclude=./dev/* -xf $tarball -C $home/tree'" \
	-n "nook session end (after apt-get install $pkgs)" "$nook session end e" \
	-n "rm -rf of the extracted tree (in the user namespace)" "unshare --map-auto --map-root-user rm -rf $home/tree" >/dev/null
md end
as "$nook" session end --all
fi
as "$nook" cache prune >/dev/null
rm -rf "$work"
