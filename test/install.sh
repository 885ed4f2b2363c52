#!/usr/bin/env bash
# make install into a temporary DESTDIR: every file where it belongs, the
# installed nook runs and finds its unpack helper (in ../libexec/nook from
# itself), the completion scripts load; then make uninstall leaves nothing.
# test/all.sh runs it before the tests; it needs make, tar, bash and zsh.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
fail() { echo "install.sh: FAIL: $*" >&2; exit 1; }

# trusted DIR: DIR and every directory above it are owned by root or this
# user and writable by no one else, as nook wants the path to a helper in
# ../libexec/nook (session/unpackhelper.go, trustedHelper).
trusted() {
	local d=$1 uid mode
	while :; do
		read -r uid mode < <(stat -c '%u %a' -- "$d") || return 1
		[[ $uid == 0 || $uid == "$(id -u)" ]] && ((!(8#$mode & 8#022))) || return 1
		[[ $d == / ]] && return 0
		d=$(dirname -- "$d")
	done
}
# The installs go where nook trusts them: not under /tmp, which anyone
# may write to (there nook rightly skips ../libexec/nook).
base=
for d in "${XDG_RUNTIME_DIR:-}" "$HOME" /run; do
	if [ -n "$d" ] && [ -d "$d" ] && [ -w "$d" ] && trusted "$d"; then
		base=$d
		break
	fi
done
[ -n "$base" ] || fail "no directory to install into that only root and $(id -un) can write to (tried \$XDG_RUNTIME_DIR, \$HOME, /run)"
tmp=$(mktemp -d -p "$base" nook-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
chmod 0755 "$tmp"

# The helper: nook chroot add reads a tarball through it. Only the
# installed one is there to find: no NOOK_UNPACK, a PATH without it, and
# none in the system directories (else this proves nothing).
for p in /usr/libexec/nook/nook-unpack /usr/lib/nook/nook-unpack; do
	[ ! -e "$p" ] || fail "$p exists on this machine: cannot tell that the installed nook finds its own helper"
done
# Without a helper, chroot add defines a tarball unread; with it, a
# truncated one is refused, and a whole one is added.
mkdir -p "$tmp/tree/etc"
head -c 20000 /dev/urandom >"$tmp/tree/etc/data"
tar -C "$tmp/tree" -cf "$tmp/t.tar" .
head -c 10000 "$tmp/t.tar" >"$tmp/cut.tar"

# installed NOOK ARGS...: the installed nook, in a store of its own.
installed() {
	local nook=$1
	shift
	env -u NOOK_UNPACK PATH=/usr/bin:/bin HOME="$tmp/home" XDG_CONFIG_HOME="$tmp/home/config" \
		XDG_CACHE_HOME="$tmp/home/cache" XDG_STATE_HOME="$tmp/home/state" "$nook" "$@"
}

# install_once PREFIX ZSHDIR: install with PREFIX (the zsh completion into
# PREFIX/share/zsh/ZSHDIR), check, uninstall, check.
install_once() {
	local prefix=$1 zshdir=$2 dest=$tmp/dest out
	rm -rf "$dest" "$tmp/home"
	mkdir -p "$tmp/home"
	# BUILDDIR outside the checkout: nothing is left there either. make
	# builds; make install only installs, so it runs where Go is not on
	# PATH (sudo's secure_path).
	make -C "$top" --no-print-directory -s BUILDDIR="$tmp/build"
	env PATH="$nogo" make -C "$top" --no-print-directory -s install PREFIX="$prefix" DESTDIR="$dest" BUILDDIR="$tmp/build" ||
		fail "make install failed with PATH=$nogo, which has no go (as under sudo)"

	local files=(bin/nook libexec/nook/nook-unpack
		share/man/man1/nook.1 share/man/man1/nook-run.1 share/man/man1/nook-session.1
		share/man/man1/nook-bwrap.1 share/man/man1/nook-schroot.1 share/man/man1/nook-mkosi-sandbox.1
		share/man/man1/autopkgtest-virt-nook.1
		share/bash-completion/completions/nook "share/zsh/$zshdir/_nook"
		share/debci/backends/nook/create-testbed share/debci/backends/nook/test-package
		share/debci/backends/nook/environment.sh)
	for f in "${files[@]}"; do
		[ -f "$dest$prefix/$f" ] || fail "make install did not install $prefix/$f"
	done
	[ -x "$dest$prefix/bin/nook" ] && [ -x "$dest$prefix/libexec/nook/nook-unpack" ] ||
		fail "nook or nook-unpack is not executable"
	[ -x "$dest$prefix/share/debci/backends/nook/create-testbed" ] && [ -x "$dest$prefix/share/debci/backends/nook/test-package" ] ||
		fail "debci's nook backend: create-testbed or test-package is not executable"
	[ "$(readlink "$dest$prefix/share/man/man1/nook-chroot.1")" = nook-session.1 ] ||
		fail "make install did not link nook-chroot(1) to nook-session(1)"
	# autopkgtest finds its virtualisation server by name (-- nook CHROOT).
	[ "$(readlink "$dest$prefix/bin/autopkgtest-virt-nook")" = nook ] ||
		fail "make install did not link $prefix/bin/autopkgtest-virt-nook to nook"
	local extra
	extra=$(cd "$dest$prefix" && find . -type f | sed 's|^\./||' | sort | comm -23 - <(printf '%s\n' "${files[@]}" | sort))
	[ -z "$extra" ] || fail "make install installed files this test does not know: $extra"

	local nook=$dest$prefix/bin/nook
	installed "$nook" version >/dev/null || fail "the installed nook does not run: $nook version"
	if out=$(installed "$nook" chroot add cut "$tmp/cut.tar" 2>&1) || [[ $out != *truncated* ]]; then
		fail "the installed nook did not find its unpack helper: nook chroot add of a truncated tarball said: ${out:-nothing}"
	fi
	installed "$nook" chroot add t "$tmp/t.tar" || fail "the installed nook refused a whole tarball"

	# The completion scripts load: bash registers _nook for nook; zsh parses.
	bash --norc --noprofile -c 'source "$1" && complete -p nook' _ "$dest$prefix/share/bash-completion/completions/nook" >/dev/null ||
		fail "the bash completion does not load"
	if command -v zsh >/dev/null; then
		zsh -n "$dest$prefix/share/zsh/$zshdir/_nook" || fail "zsh cannot parse the completion"
	else
		[ "$(id -u)" -ne 0 ] || fail "zsh is not installed (test/setup-host.sh installs it)"
		echo "install.sh: NOTE: zsh is not installed, so its script was not parsed (test/setup-host.sh installs it)"
	fi

	make -C "$top" --no-print-directory -s uninstall PREFIX="$prefix" DESTDIR="$dest" BUILDDIR="$tmp/build"
	local left
	left=$(find "$dest" -type f -o -type l)
	[ -z "$left" ] || fail "make uninstall left: $left"
	[ ! -e "$dest$prefix/libexec/nook" ] || fail "make uninstall left $prefix/libexec/nook"
	[ ! -e "$dest$prefix/share/debci/backends/nook" ] || fail "make uninstall left $prefix/share/debci/backends/nook"
	echo "install.sh: make install and uninstall with PREFIX=$prefix into DESTDIR: ok (${#files[@]} files)"
}

# make install with nothing built says to run make first, and builds
# nothing: not even with go on PATH.
nogo=/usr/sbin:/usr/bin:/sbin:/bin
! env PATH="$nogo" sh -c 'command -v go' >/dev/null || fail "go is in $nogo: cannot tell that make install runs without it"
if out=$(make -C "$top" --no-print-directory -s install DESTDIR="$tmp/dest" BUILDDIR="$tmp/unbuilt" 2>&1) ||
	[[ $out != *"run make first"* ]] || [ -e "$tmp/unbuilt" ]; then
	fail "make install with nothing built: ${out:-no message}; want a failure saying to run make first, and no build"
fi

# The default prefix, and a distribution's.
install_once /usr/local site-functions
install_once /usr vendor-completions
