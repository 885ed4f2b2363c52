#!/usr/bin/env bash
# Runs as root inside a fresh trixie session (test/debpkg/inner.sh), with
# nook's .debs in /tmp/debs: installs them, uses nook, installs and
# removes the face packages over the real schroot and bwrap.
set -euo pipefail
say() { printf '=== debpkg (session): %s\n' "$*"; }
fail() { printf '!!! debpkg (session): %s\n' "$*" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
cd /tmp/debs

dpkg -i nook_*.deb >/dev/null
v=$(nook version)
[ "$v" = "nook ${NOOK_DEBPKG_VERSION%%-*}" ] || fail "nook version says '$v', not the package's version"
say "installed: $v"
[ -x /usr/libexec/nook/nook-unpack ] || fail "no /usr/libexec/nook/nook-unpack"

# nook run: a sandbox in the session (nook inside nook).
nook run true || fail "nook run true failed"
out=$(nook run -- sh -c 'echo in-sandbox')
[ "$out" = in-sandbox ] || fail "nook run printed '$out'"
say "nook run true: ok"

# nook session on a tarball: a one-binary tree (the static nook itself),
# added as a chroot (read through the installed nook-unpack), a session
# begun, a command run in it, the session ended.
mkdir -p /tmp/mini/bin
cp /usr/bin/nook /tmp/mini/bin/nook
tar -C /tmp/mini -cf /tmp/mini.tar .
nook chroot add mini /tmp/mini.tar
id=$(nook session begin mini)
got=$(nook session run "$id" -- /bin/nook version)
[ "$got" = "$v" ] || fail "nook version in the session on mini.tar said '$got'"
nook session end "$id"
[ -z "$(nook session list -q 2>/dev/null || nook session list)" ] || fail "sessions left: $(nook session list)"
nook chroot remove mini
say "nook session on a tarball: ok"

# The originals: schroot and bubblewrap from the archive.
apt-get update -qq
apt-get install -y -qq --no-install-recommends schroot bubblewrap >/dev/null
sum() { sha256sum "$1" | cut -d' ' -f1; }
schroot_sum=$(sum /usr/bin/schroot) bwrap_sum=$(sum /usr/bin/bwrap)
real_version=$(schroot --version | sed -n 1p)
say "originals: $real_version; $(bwrap --version)"

dpkg -i nook-schroot_*.deb nook-bwrap_*.deb nook-mkosi-sandbox_*.deb >/dev/null
for n in schroot bwrap mkosi-sandbox; do
	[ "$(readlink -f /usr/bin/$n)" = /usr/bin/nook ] || fail "/usr/bin/$n is not nook: $(ls -l /usr/bin/$n)"
	dpkg-divert --listpackage /usr/bin/$n | grep -qx "nook-$n" || fail "/usr/bin/$n is not diverted by nook-$n"
done
[ "$(sum /usr/bin/schroot.distrib)" = "$schroot_sum" ] || fail "/usr/bin/schroot.distrib is not the original"
[ "$(sum /usr/bin/bwrap.distrib)" = "$bwrap_sum" ] || fail "/usr/bin/bwrap.distrib is not the original"
got=$(schroot --version | sed -n 1p)
case $got in
"schroot (nook ${NOOK_DEBPKG_VERSION%%-*}) "*) ;;
*) fail "schroot --version through nook-schroot said '$got'" ;;
esac
say "schroot --version: $got"
bwrap --ro-bind / / true || fail "bwrap (nook) --ro-bind / / true failed"
say "bwrap through nook-bwrap: ok"

dpkg -r nook-schroot nook-bwrap nook-mkosi-sandbox >/dev/null
[ "$(sum /usr/bin/schroot)" = "$schroot_sum" ] || fail "/usr/bin/schroot is not the original after removal"
[ "$(sum /usr/bin/bwrap)" = "$bwrap_sum" ] || fail "/usr/bin/bwrap is not the original after removal"
[ "$(schroot --version | sed -n 1p)" = "$real_version" ] || fail "schroot --version after removal: $(schroot --version | sed -n 1p)"
for n in schroot bwrap mkosi-sandbox; do
	[ ! -e /usr/bin/$n.distrib ] || fail "/usr/bin/$n.distrib left"
	[ -z "$(dpkg-divert --listpackage /usr/bin/$n)" ] || fail "a diversion of /usr/bin/$n is left"
done
[ ! -e /usr/bin/mkosi-sandbox ] || fail "/usr/bin/mkosi-sandbox left (there was none before)"
say "face packages removed: originals back, no diversion left"
dpkg -r nook >/dev/null
[ ! -e /usr/bin/nook ] && [ ! -e /usr/libexec/nook ] || fail "nook's files left after dpkg -r nook"
say "all checks passed"
