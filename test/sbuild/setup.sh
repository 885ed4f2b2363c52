#!/usr/bin/env bash
# Prepares this Debian 12 machine for the sbuild end-to-end test (issue 7),
# idempotently. Run as root. Safe to run again: every step checks first.
#
# What it sets up:
#   - the Debian packages: sbuild, schroot (the real one; the harness
#     validates itself against it), mmdebstrap, dpkg-dev (dpkg-source on the
#     host), uidmap (newuidmap for sbuild's unshare mode in the benchmark),
#     hyperfine and time (benchmark);
#   - a buildd chroot tarball, made once with mmdebstrap and kept at
#     /var/cache/nook-ci/bookworm-buildd.tar (a minute and a mirror round
#     trip to make, so it is cached like test/setup-host.sh's minbase one);
#   - an unprivileged user nook-ci-sbuild, in group sbuild (sbuild refuses
#     schroot mode to a non-root caller outside that group), with a home
#     directory and a subordinate id range (schroot mode does not need one,
#     but sbuild's unshare mode does, and nook sessions use one when present);
#     its ~/.cache/sbuild/bookworm-amd64.tar is a symlink to the tarball, which
#     is where sbuild's unshare mode looks;
#   - a schroot chroot definition /etc/schroot/chroot.d/nook-ci-bookworm,
#     shaped as sbuild-createchroot writes one (type=file, profile=sbuild,
#     groups root,sbuild), with the aliases sbuild's name lookup tries for
#     `-d bookworm --arch=amd64`;
#   - /var/lib/sbuild/build, which the sbuild schroot profile bind-mounts on
#     /build inside every session.
# sbuild 0.85 (bookworm) needs no signing key for its internal build-depends
# archive (it marks that archive trusted), so there is no `sbuild-update
# --keygen` step; see the check at the end.
set -euo pipefail
[ "$(id -u)" -eq 0 ] || { echo "setup.sh: run as root" >&2; exit 1; }

tarball=/var/cache/nook-ci/bookworm-buildd.tar
user=nook-ci-sbuild
chroot_name=nook-ci-bookworm
chroot_conf=/etc/schroot/chroot.d/$chroot_name
mirror=http://deb.debian.org/debian

say() { printf '=== setup: %s\n' "$*"; }

# --- packages ------------------------------------------------------------
packages=(sbuild schroot mmdebstrap dpkg-dev uidmap hyperfine time util-linux
	procps passwd tar xz-utils)
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
say "sbuild $(dpkg-query -W -f '${Version}' sbuild), schroot $(dpkg-query -W -f '${Version}' schroot)"

# --- the chroot tarball ----------------------------------------------------
# Made through a .tmp name and renamed, so an interrupted run never leaves a
# truncated tarball under the real name.
if [ ! -s "$tarball" ]; then
	say "making $tarball with mmdebstrap (once, about a minute)"
	mkdir -p "$(dirname "$tarball")"
	rm -f "$tarball.tmp"
	mmdebstrap --quiet --variant=buildd --format=tar bookworm "$tarball.tmp" "$mirror"
	mv "$tarball.tmp" "$tarball"
fi
# schroot insists the file is root-owned and not writable by others.
chown root:root "$tarball"
chmod 0644 "$tarball"
chmod 0755 "$(dirname "$tarball")"
ls -l "$tarball"

# --- the unprivileged user --------------------------------------------------
if ! id "$user" >/dev/null 2>&1; then
	say "creating user $user"
	useradd --create-home --shell /bin/bash --groups sbuild "$user"
fi
# An existing user may predate the sbuild group membership.
id -nG "$user" | tr ' ' '\n' | grep -qx sbuild || usermod -a -G sbuild "$user"
home=$(getent passwd "$user" | cut -d: -f6)
if [ ! -d "$home" ]; then
	mkdir -p "$home"
	chown "$user:" "$home"
	chmod 0755 "$home"
fi
# A subordinate id range of its own, placed after every range already given
# out (useradd may already have given one: SUB_UID_COUNT in login.defs).
for f in /etc/subuid /etc/subgid; do
	touch "$f"
	if ! grep -q "^$user:" "$f"; then
		start=$(awk -F: 'BEGIN{m=100000} {e=$2+$3; if (e>m) m=e} END{print m}' "$f")
		if [ "$f" = /etc/subuid ]; then
			usermod --add-subuids "$start-$((start + 65535))" "$user"
		else
			usermod --add-subgids "$start-$((start + 65535))" "$user"
		fi
	fi
done
grep "^$user:" /etc/subuid /etc/subgid
# sbuild's unshare mode finds its tarball as ~/.cache/sbuild/<dist>-<arch>.t*.
install -d -o "$user" -g "$user" -m 0755 "$home/.cache" "$home/.cache/sbuild"
ln -sfn "$tarball" "$home/.cache/sbuild/bookworm-amd64.tar"

# --- sbuild's own directories -------------------------------------------------
# The sbuild schroot profile bind-mounts this on /build in each session; the
# sbuild package makes it, but make sure (group sbuild, setgid, as packaged).
if [ ! -d /var/lib/sbuild/build ]; then
	install -d -o sbuild -g sbuild -m 02770 /var/lib/sbuild/build
fi

# --- the schroot chroot definition ---------------------------------------------
# The same keys, in the same order, that sbuild-createchroot writes for a
# tarball chroot, plus aliases: sbuild -d bookworm --arch=amd64 looks for
# bookworm-amd64-sbuild, then bookworm-amd64, among names and aliases.
# nook.isolate-network-commands is nook's (docs/schroot-compat.md): sbuild
# 0.85 cannot ask for a network-less build, so the definition does; the real
# schroot takes a dotted key as a custom key and ignores it.
mkdir -p /etc/schroot/chroot.d
want=$(cat <<CONF
[$chroot_name]
description=Debian bookworm/amd64 buildd chroot for nook's sbuild test
groups=root,sbuild
root-groups=root,sbuild
profile=sbuild
type=file
file=$tarball
source-root-groups=root,sbuild
aliases=bookworm-amd64-sbuild,bookworm-amd64
nook.isolate-network-commands=dpkg-buildpackage
CONF
)
if [ ! -f "$chroot_conf" ] || [ "$(cat "$chroot_conf")" != "$want" ]; then
	say "writing $chroot_conf"
	printf '%s\n' "$want" >"$chroot_conf.tmp"
	chmod 0644 "$chroot_conf.tmp"
	mv "$chroot_conf.tmp" "$chroot_conf"
fi
# Another definition claiming the same aliases would make schroot refuse to
# start at all; say so here rather than in the middle of a build.
if ! schroot -l >/dev/null; then
	echo "setup.sh: schroot -l fails; is another definition in /etc/schroot clashing with $chroot_conf?" >&2
	exit 1
fi
schroot -l | grep -x "chroot:$chroot_name"

# --- sbuild keys ---------------------------------------------------------------
# Older sbuild signed its internal build-depends archive with a key made
# by `sbuild-update --keygen`. Bookworm's 0.85 writes that archive into apt's
# sources as [trusted=yes] and needs no key (its /var/lib/sbuild/apt-keys stays
# empty); make the key only for an sbuild that does not do that.
if ! grep -qs 'trusted=yes' /usr/share/perl5/Sbuild/ResolverBase.pm; then
	if [ ! -s /var/lib/sbuild/apt-keys/sbuild-key.sec ]; then
		say "this sbuild signs its internal archive: sbuild-update --keygen"
		sbuild-update --keygen
	fi
fi
say "done"
