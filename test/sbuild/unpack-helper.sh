# shellcheck shell=bash
# Sourced by test/sbuild/build.sh and bench/sbuild.sh, in a private mount
# namespace where nook is bind-mounted over /usr/bin/schroot.
#
# show_unpack_helper NOOK SCRATCH: nook looks for its unpack helper,
# nook-unpack, beside its own path (here /usr/bin/schroot), on PATH (sbuild
# 0.85 passes none) and in /usr/libexec/nook. When NOOK has a nook-unpack
# beside it, a read-only overlay on /usr/libexec, in this namespace only,
# adds it there as a package would install it; the helper's path is printed.
show_unpack_helper() {
	local helper
	helper=$(dirname "$(readlink -f "$1")")/nook-unpack
	[ -x "$helper" ] || return 0
	mkdir -p "$2/libexec/nook"
	chmod 755 "$2/libexec" "$2/libexec/nook"
	cp "$helper" "$2/libexec/nook/nook-unpack"
	mount -t overlay overlay -o "lowerdir=$2/libexec:/usr/libexec" /usr/libexec
	echo "$helper"
}
