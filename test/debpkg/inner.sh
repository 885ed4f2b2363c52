#!/usr/bin/env bash
# The part of test/debpkg/ci.sh that runs in its private mount namespace,
# as root: NOOK_DEBPKG_BIN is /usr/bin/schroot here. State comes in
# NOOK_DEBPKG_* variables.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# shellcheck source=test/lib/e2e.sh
. "$top/test/lib/e2e.sh"
bin=$NOOK_DEBPKG_BIN scratch=$NOOK_DEBPKG_SCRATCH dsc=$NOOK_DEBPKG_DSC
version=$NOOK_DEBPKG_VERSION marker=$NOOK_DEBPKG_MARKER chroot=$NOOK_DEBPKG_CHROOT
# The marker (VAR=value) goes into the environment of every command the
# run starts, not this shell's: e2e_after finds what carries it.
say() { printf '=== debpkg: %s\n' "$*"; }
fail() { printf '!!! debpkg: %s\n' "$*" >&2; exit 1; }
now() { date +%s; }

e2e_as_schroot "$bin" "$scratch"
e2e_before "$scratch" /usr/bin/schroot
sid=
cleanup() {
	local rc=$?
	set +e
	[ -z "$sid" ] || /usr/bin/schroot -c "$sid" --end-session >/dev/null 2>&1
	exit "$rc"
}
trap cleanup EXIT

# --- sbuild ------------------------------------------------------------------
mkdir -p "$scratch/build"
# NOOK_DEBPKG_BUILT=DIR (for work on the later phases): DIR holds the
# .debs and .build log of an earlier run of this version; no sbuild.
if [ -n "${NOOK_DEBPKG_BUILT:-}" ]; then
	cp "$NOOK_DEBPKG_BUILT"/*.deb "$NOOK_DEBPKG_BUILT"/*.build "$scratch/build/"
	version=$(cd "$scratch/build" && ls nook_*_amd64.deb | sed 's/^nook_\(.*\)_amd64\.deb$/\1/')
	say "NOOK_DEBPKG_BUILT: the packages of $NOOK_DEBPKG_BUILT, no sbuild"
	sbuild=(true)
else
	sbuild=(sbuild)
fi
say "sbuild -d trixie (arch-dependent and arch-all, lintian) through $(readlink -f "$bin") as schroot"
t0=$(now)
rc=0
(cd "$scratch/build" && env "$marker" "${sbuild[@]}" -d trixie --arch=amd64 --chroot-mode=schroot --arch-all \
	--run-lintian --lintian-opts=--fail-on=error,warning \
	--no-run-autopkgtest --no-run-piuparts "$dsc" >"$scratch/sbuild.out" 2>&1 </dev/null) || rc=$?
log=$scratch/build/nook_${version}_amd64.build
echo "TIME sbuild $(($(now) - t0))"
if [ "$rc" -ne 0 ] || ! grep -q '^Status: successful' "$log"; then
	tail -20 "$scratch/sbuild.out"
	[ ! -f "$log" ] || tail -80 "$log"
	fail "sbuild exited $rc"
fi
# lintian's findings, as sbuild shows them (none expected: with
# --fail-on=error,warning an error or warning fails its run).
grep -E '^[EWIPXO]: nook' "$log" | sed 's/^/  lintian: /' || true
if [ -z "${NOOK_DEBPKG_BUILT:-}" ]; then
	grep -q '^Lintian: pass' "$log" || fail "lintian did not pass: $(grep '^Lintian:' "$log")"
	say "lintian: pass"
fi
debs=()
for p in nook nook-bwrap nook-schroot nook-mkosi-sandbox; do
	arch=all
	[ "$p" != nook ] || arch=amd64
	f=$scratch/build/${p}_${version}_$arch.deb
	[ -f "$f" ] || fail "no $f; built: $(ls "$scratch/build")"
	debs+=("$f")
done
contents=$(dpkg-deb -c "${debs[0]}" | awk '{print $6}')
for f in ./usr/bin/nook ./usr/bin/autopkgtest-virt-nook ./usr/libexec/nook/nook-unpack ./usr/share/man/man1/nook.1.gz \
	./usr/share/man/man1/nook-run.1.gz ./usr/share/man/man1/nook-session.1.gz \
	./usr/share/bash-completion/completions/nook ./usr/share/zsh/vendor-completions/_nook \
	./usr/share/debci/backends/nook/create-testbed ./usr/share/debci/backends/nook/test-package \
	./usr/share/debci/backends/nook/environment.sh; do
	grep -qx -- "$f" <<<"$contents" || fail "nook's .deb lacks $f"
done
say "built: $(cd "$scratch/build" && ls ./*.deb | tr '\n' ' ')"

# --- install in a fresh session ---------------------------------------------------
say "install: fresh session on $chroot"
t0=$(now)
sid=$(env "$marker" /usr/bin/schroot -c "$chroot" --begin-session </dev/null)
[ -n "$sid" ] || fail "--begin-session printed no session id"
in_s() { env "$marker" /usr/bin/schroot -c "$sid" --run-session -q -u root -d / -- "$@"; }
in_s mkdir -p /tmp/debs
for f in "${debs[@]}"; do in_s sh -c "cat > /tmp/debs/$(basename "$f")" <"$f"; done
cp "$here/session.sh" "$scratch/session.sh"
in_s sh -c 'cat > /tmp/session.sh' <"$here/session.sh"
in_s env NOOK_DEBPKG_VERSION="$version" bash /tmp/session.sh </dev/null || fail "the checks in the session failed (above)"
env "$marker" /usr/bin/schroot -c "$sid" --end-session </dev/null
sid=
echo "TIME install $(($(now) - t0))"

# --- nothing left --------------------------------------------------------------------
e2e_after "$scratch" "$marker" /usr/bin/schroot
[ "$bad" = 0 ] || fail "something was left behind (above)"
say PASS
