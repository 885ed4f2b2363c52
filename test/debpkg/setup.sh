#!/usr/bin/env bash
# Prepares this machine for test/debpkg/ci.sh (issue 21, part 2), as root,
# idempotently: every step checks first.
#
#   - host packages: sbuild, schroot (sbuild needs its configuration, the
#     test runs nook in its place), mmdebstrap, dpkg-dev;
#   - a Debian 13 buildd chroot tarball, /var/cache/nook-ci/trixie-buildd.tar,
#     made once with mmdebstrap as test/sbuild/setup.sh makes bookworm's,
#     with nook's build dependencies and lintian already in it: golang-1.24
#     is some 50 MB to fetch, and every build would fetch it again. The
#     tarball's name carries no package list: a changed list is noticed by
#     the list kept beside it, and the tarball is made again;
#   - a schroot definition /etc/schroot/chroot.d/nook-ci-trixie, shaped as
#     sbuild-createchroot writes one, with the aliases sbuild looks for
#     (trixie-amd64-sbuild, trixie-amd64). test/sbuild/setup.sh makes the
#     user nook-ci-sbuild and sbuild's directories; ci.sh calls it first.
set -euo pipefail
[ "$(id -u)" -eq 0 ] || { echo "setup.sh: run as root" >&2; exit 1; }

tarball=/var/cache/nook-ci/trixie-buildd.tar
chroot_name=nook-ci-trixie
chroot_conf=/etc/schroot/chroot.d/$chroot_name
mirror=http://deb.debian.org/debian
# debian/control's Build-Depends (less what the buildd variant has) and
# lintian, which sbuild runs in the chroot after the build.
include=debhelper,golang-go,mandoc,zsh,lintian

say() { printf '=== debpkg setup: %s\n' "$*"; }

packages=(sbuild schroot mmdebstrap dpkg-dev)
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	say "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -s "$tarball" ] || [ "$(cat "$tarball.include" 2>/dev/null)" != "$include" ]; then
	say "making $tarball with mmdebstrap (once, a few minutes)"
	mkdir -p "$(dirname "$tarball")"
	rm -f "$tarball.tmp"
	mmdebstrap --quiet --variant=buildd --include="$include" --format=tar trixie "$tarball.tmp" "$mirror"
	mv "$tarball.tmp" "$tarball"
	printf '%s\n' "$include" >"$tarball.include"
fi
chown root:root "$tarball"
chmod 0644 "$tarball"
ls -l "$tarball"

mkdir -p /etc/schroot/chroot.d
want=$(cat <<CONF
[$chroot_name]
description=Debian trixie/amd64 buildd chroot for nook's own package build
groups=root,sbuild
root-groups=root,sbuild
profile=sbuild
type=file
file=$tarball
source-root-groups=root,sbuild
aliases=trixie-amd64-sbuild,trixie-amd64
nook.isolate-network-commands=dpkg-buildpackage
CONF
)
if [ ! -f "$chroot_conf" ] || [ "$(cat "$chroot_conf")" != "$want" ]; then
	say "writing $chroot_conf"
	printf '%s\n' "$want" >"$chroot_conf.tmp"
	chmod 0644 "$chroot_conf.tmp"
	mv "$chroot_conf.tmp" "$chroot_conf"
fi
schroot -l | grep -x "chroot:$chroot_name"
say done
