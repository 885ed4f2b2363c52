#!/usr/bin/env bash
# image.sh RELEASE: prints the path of a bootable Debian RELEASE (bookworm,
# trixie) disk image for the VM stage, building it first when it is missing.
#
# The image is made once with debvm-create (mmdebstrap + Debian's own cloud
# kernel) and kept under /var/cache/nook-ci/vm/, named by RELEASE and a hash
# of this recipe, so a changed recipe makes a new image and the old one of
# that release is removed. Boots never write to it (run.sh boots it with
# snapshot=on): one image serves every run.
#
# What is in it besides a minimal Debian: every package the tests and their
# set-up scripts install (so nothing is fetched at boot), the chroot
# tarballs of /var/cache/nook-ci/ (the session and sbuild tests need them;
# made on the host once, by test/setup-host.sh and test/sbuild/setup.sh),
# the unit nook-vm.service that runs /nook/guest.sh from the run's data disk
# (see run.sh) and powers the machine off after it, and serial-getty@ttyS0
# masked: the unit writes to the serial console, and a getty there hangs it
# up (the write then fails and kills the test that made it).
# Run as root.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 bookworm|trixie" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "image.sh: run as root" >&2; exit 1; }
release=$1
case "$release" in
bookworm | trixie) ;;
*) echo "image.sh: unknown release $release (bookworm or trixie)" >&2; exit 2 ;;
esac
cache=/var/cache/nook-ci
dir=$cache/vm
# bookworm-systemd.tar too: without it the guest's setup-host.sh made it
# with mmdebstrap under software emulation (10 to 28 minutes of the VM
# stage, measured in CI 2026-12-03) for the booted-session tests.
tarballs=("$cache/bookworm-minbase.tar" "$cache/bookworm-buildd.tar" "$cache/bookworm-systemd.tar")
packages=(uidmap bubblewrap hyperfine strace procps util-linux iproute2 passwd mandoc
	mmdebstrap busybox-static xz-utils zstd bzip2 gzip tar time sbuild schroot dpkg-dev
	e2fsprogs ca-certificates)

for t in "${tarballs[@]}"; do
	[ -s "$t" ] || { echo "image.sh: $t is missing: run test/setup-host.sh and test/sbuild/setup.sh first" >&2; exit 1; }
done

# The recipe's hash: this script and the tarballs' sizes and times.
key=$({ cat "$0"; stat -c '%n %s %Y' "${tarballs[@]}"; } | sha256sum | cut -c1-12)
img=$dir/$release-$key.ext4
# One builder at a time: two CI runs (or both releases) would otherwise
# remove each other's half-made image.
mkdir -p "$dir"
chmod 0755 "$dir"
exec 9>"$dir/.lock-$release"
flock 9
if [ -s "$img" ]; then
	echo "$img"
	exit 0
fi

for p in debvm qemu-system-x86 e2fsprogs; do
	dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' && continue
	echo "image.sh: installing $p" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	apt-get install -y -qq --no-install-recommends "$p" >/dev/null
done

# An image of this release made by an older recipe.
find "$dir" -maxdepth 1 -name "$release-*.ext4*" -delete

# The unit and its start script, copied into the image by the hooks below.
files=$(mktemp -d)
trap 'rm -rf "$files"' EXIT
cat >"$files/nook-vm.service" <<'UNIT'
[Unit]
Description=nook VM stage: the tests on the run disk
After=network-online.target
Wants=network-online.target
SuccessAction=poweroff-force
FailureAction=poweroff-force

[Service]
Type=oneshot
StandardOutput=journal+console
StandardError=journal+console
ExecStart=/usr/local/sbin/nook-vm-start
TimeoutStartSec=infinity
UNIT
cat >"$files/nook-vm-start" <<'START'
#!/bin/sh
# Runs the VM stage's guest script from the run disk (see test/vm/run.sh).
mkdir -p /nook
mount -o nodev LABEL=nookrun /nook || exit 1
/nook/guest.sh
rc=$?
sync
umount /nook
exit $rc
START
chmod 0755 "$files/nook-vm-start"
chmod 0644 "$files/nook-vm.service"

echo "image.sh: building $img (once; a few minutes)" >&2
tmp=$img.tmp
rm -f "$tmp"
debvm-create -r "$release" -o "$tmp" -z 10G -s autologin -- \
	--include="$(IFS=,; echo "${packages[*]}")" \
	--customize-hook='mkdir -p "$1/var/cache/nook-ci" && chmod 0755 "$1/var/cache/nook-ci"' \
	--customize-hook="cp ${tarballs[*]} \"\$1/var/cache/nook-ci/\"" \
	--customize-hook='ln -sf /dev/null "$1/etc/systemd/system/serial-getty@ttyS0.service"' \
	--customize-hook="cp $files/nook-vm.service \"\$1/etc/systemd/system/\"" \
	--customize-hook="cp $files/nook-vm-start \"\$1/usr/local/sbin/\"" \
	--customize-hook='ln -s ../nook-vm.service "$1/etc/systemd/system/multi-user.target.wants/nook-vm.service"' \
	>&2
# debvm makes the file system as ext2 and tunes it to ext4, without the
# "filetype" feature: directory entries carry no file type (d_type), and
# overlayfs then warns "upper fs needs to support d_type" and its whiteouts
# do not hide lower files (rm -rf of a lower directory fails with "Directory
# not empty"). Every overlay upper in the tests lives on this disk.
tune2fs -O filetype "$tmp" >&2
e2fsck -fyD "$tmp" >&2 || [ $? -le 1 ]
mv "$tmp" "$img"
echo "$img"
