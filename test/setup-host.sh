#!/usr/bin/env bash
# Prepares a Debian machine for nook's tests, idempotently: the packages the
# tests use and two unprivileged users, nook-ci-sub (with a subordinate id
# range in /etc/subuid and /etc/subgid) and nook-ci-nosub (without one).
set -euo pipefail
[ "$(id -u)" -eq 0 ] || { echo "setup-host.sh: run as root" >&2; exit 1; }

# gcc and libc6-dev: test/all.sh builds the sandbox suite with cgo too.
# zsh: the completion tests check its script; make: test/install.sh.
# qemu-user-static: test/crossvet.sh runs the seccomp tests of other arches.
packages=(uidmap bubblewrap hyperfine strace procps util-linux iproute2 passwd mandoc
	mmdebstrap busybox-static xz-utils zstd bzip2 gzip tar time)
# What only the host's stages use: the VM stage's guest (test/vm/guest.sh
# sets NOOK_VM_GUEST) runs none of them, and installing them there under
# software emulation cost minutes of every CI run (test/vm/image.sh bakes
# the rest into its image).
[ -n "${NOOK_VM_GUEST:-}" ] || packages+=(gcc libc6-dev zsh make qemu-user-static)
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq "${missing[@]}" >/dev/null
fi

for u in nook-ci-sub nook-ci-nosub; do
	id "$u" >/dev/null 2>&1 || useradd --no-create-home --shell /usr/sbin/nologin "$u"
done
# useradd may have given either user a range (SUB_UID_COUNT in login.defs):
# the one without must have none; the one with gets its own.
for f in /etc/subuid /etc/subgid; do
	touch "$f"
	sed -i '/^nook-ci-nosub:/d' "$f"
	if ! grep -q '^nook-ci-sub:' "$f"; then
		start=$(awk -F: 'BEGIN{m=100000} {e=$2+$3; if (e>m) m=e} END{print m}' "$f")
		if [ "$f" = /etc/subuid ]; then
			usermod --add-subuids "$start-$((start + 65535))" nook-ci-sub
		else
			usermod --add-subgids "$start-$((start + 65535))" nook-ci-sub
		fi
	fi
done
grep '^nook-ci-' /etc/subuid /etc/subgid || true

# Unprivileged user namespaces must be allowed for the tests to mean anything.
for s in user.max_user_namespaces kernel.unprivileged_userns_clone kernel.apparmor_restrict_unprivileged_userns; do
	v=$(sysctl -n "$s" 2>/dev/null) || continue
	echo "$s = $v"
done

# A real Debian chroot for the session tests, made once and kept: rebuilding
# it each run would cost a minute and a mirror round trip. Tests find it at
# this fixed path (readable by the test users) and fail loudly when it is
# missing.
debian=/var/cache/nook-ci/bookworm-minbase.tar
if [ ! -f "$debian" ] || [ ! -s "$debian" ]; then
	rm -rf "$debian"
	echo "making $debian with mmdebstrap (once)"
	mkdir -p "$(dirname "$debian")"
	chmod 0755 "$(dirname "$debian")"
	rm -f "$debian.tmp"
	mmdebstrap --quiet --format=tar --variant=minbase bookworm "$debian.tmp" http://deb.debian.org/debian
	mv "$debian.tmp" "$debian"
fi
chmod 0644 "$debian"
ls -l "$debian"

# The same with systemd, for booted sessions (nook session begin --boot).
systemd_tar=/var/cache/nook-ci/bookworm-systemd.tar
if [ ! -s "$systemd_tar" ]; then
	echo "making $systemd_tar with mmdebstrap (once)"
	rm -f "$systemd_tar.tmp"
	mmdebstrap --quiet --format=tar --variant=minbase --include=systemd,systemd-sysv,dbus bookworm "$systemd_tar.tmp" http://deb.debian.org/debian
	mv "$systemd_tar.tmp" "$systemd_tar"
fi
chmod 0644 "$systemd_tar"
ls -l "$systemd_tar"

# A delegated cgroup v2 subtree for each test user, as a host without
# systemd gives one (docs/system-containers.md): a directory chowned to the
# user with the files delegation hands over. test/lib/runtests.sh starts
# each user's tests inside theirs. cgroupfs forgets it at reboot, so this
# runs every time.
cg2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
if [ -n "$cg2" ]; then
	mkdir -p "$cg2/nook-ci"
	for u in nook-ci-sub nook-ci-nosub; do
		mkdir -p "$cg2/nook-ci/$u"
		chown "$u:" "$cg2/nook-ci/$u" "$cg2/nook-ci/$u/cgroup.procs" "$cg2/nook-ci/$u/cgroup.threads" "$cg2/nook-ci/$u/cgroup.subtree_control"
	done
	echo "delegated cgroups: $cg2/nook-ci/{nook-ci-sub,nook-ci-nosub}"
else
	echo "setup-host.sh: no cgroup v2 mounted: the booted-session tests will skip" >&2
fi

# A newer bubblewrap (Debian 13's) for the message differential; the
# test skips loudly without it.
# Not inside the VM stage's guests, which run no bwrap differential and
# fetch nothing (test/vm/guest.sh sets NOOK_VM_GUEST).
if [ -z "${NOOK_VM_GUEST:-}" ]; then
	"$(dirname "$0")/fetch-bwrap-trixie.sh" || echo "setup-host.sh: could not fetch Debian 13's bubblewrap; TestBwrapMessagesNewer will skip" >&2
	"$(dirname "$0")/fetch-mkosi-trixie.sh" || echo "setup-host.sh: could not fetch Debian 13's mkosi; TestMkosiDifferential will skip" >&2
fi
