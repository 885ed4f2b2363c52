#!/usr/bin/env bash
# ci.sh NOOK_BINARY: nook builds its own Debian package and the package
# works (issue 21, part 2), as root. test/all.sh calls it with the nook it
# built; it needs the network (the trixie tarball once, `go mod vendor`
# from the module proxy when the module cache lacks a module, apt-get in
# the chroot).
#
#   setup    test/debpkg/setup.sh: a trixie buildd tarball (cached in
#            /var/cache/nook-ci) and the schroot definition nook-ci-trixie.
#   source   test/debpkg/mksource.sh: the source package of HEAD.
#   sbuild   Debian 12's sbuild builds it for trixie with --chroot-mode=
#            schroot, where schroot is NOOK_BINARY (bind-mounted over
#            /usr/bin/schroot in a private mount namespace, as
#            test/sbuild/build.sh does), arch-dependent and arch-all
#            packages, with lintian (errors and warnings fail it), as root.
#   install  in a fresh session of the same tarball (through NOOK_BINARY as
#            schroot): the .debs installed with dpkg; nook run true; nook
#            session on a tarball; schroot and bubblewrap installed from the
#            archive, then nook-schroot, nook-bwrap and nook-mkosi-sandbox:
#            /usr/bin/schroot --version answers as nook, the originals sit
#            diverted; the face packages removed: the originals are back,
#            byte for byte, and no diversion is left.
#   leftover no session, mount or process of the run is left.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# shellcheck source=test/lib/e2e.sh
. "$top/test/lib/e2e.sh"
e2e_args "$@"
chroot=nook-ci-trixie
say() { printf '=== debpkg: %s\n' "$*"; }
fail() { printf '!!! debpkg: %s\n' "$*" >&2; exit 1; }

"$here/setup.sh"

scratch=$(mktemp -d /var/tmp/nook-debpkg.XXXXXX)
chmod 0755 "$scratch"
marker=NOOK_DEBPKG_E2E=$(basename "$scratch" | cut -d. -f2)
# NOOK_DEBPKG_KEEP=1 keeps the scratch directory (logs, packages) of a
# failed run.
trap 'rc=$?; if [ $rc -ne 0 ] && [ "${NOOK_DEBPKG_KEEP:-}" = 1 ]; then echo "kept $scratch" >&2; else rm -rf "$scratch"; fi; exit $rc' EXIT

say "source package of $(git -C "$top" rev-parse --short HEAD)"
dsc=$("$top/test/debpkg/mksource.sh" "$scratch/src")
version=$(basename "$dsc" .dsc)
version=${version#nook_}
say "$(basename "$dsc")"

export NOOK_DEBPKG_BIN=$bin NOOK_DEBPKG_SCRATCH=$scratch NOOK_DEBPKG_DSC=$dsc
export NOOK_DEBPKG_VERSION=$version NOOK_DEBPKG_MARKER=$marker NOOK_DEBPKG_CHROOT=$chroot
unshare --mount --propagation private -- bash "$here/inner.sh"
