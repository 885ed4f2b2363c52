#!/usr/bin/env bash
# mksource.sh OUTDIR: nook's Debian source package from this checkout's
# HEAD, into OUTDIR (nook_VERSION.dsc and nook_VERSION.tar.xz). Native
# format, version 0.0~gitDATE.REVISION (the commit's date and abbreviated
# hash), with vendor/ made by `go mod vendor` from the module cache (or
# the proxy): debian/README.source says why. Needs git, go and
# dpkg-source; no root.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
top=$(cd "$(dirname "$0")/../.." && pwd)
out=$1
export PATH="/usr/local/go/bin:$PATH"
rev=$(git -C "$top" rev-parse --short=12 HEAD)
date=$(git -C "$top" log -1 --format=%cd --date=format:%Y%m%d HEAD)
version=0.0~git$date.$rev
mkdir -p "$out"
work=$(mktemp -d /var/tmp/nook-mksource.XXXXXX)
trap 'rm -rf "$work"' EXIT
src=$work/nook-$version
mkdir "$src"
git -C "$top" archive HEAD | tar -C "$src" -xf -
(cd "$src" && GOFLAGS=-mod=mod CGO_ENABLED=0 go mod vendor)
# The changelog's first entry gets this build's version; the rest of the
# entry stays as committed.
sed -i "1s/^nook ([^)]*)/nook ($version)/" "$src/debian/changelog"
head -1 "$src/debian/changelog" | grep -q "($version)" || { echo "mksource.sh: could not set the version in debian/changelog" >&2; exit 1; }
# Every file's time the commit's: the same commit makes the same tarball.
epoch=$(git -C "$top" log -1 --format=%ct HEAD)
find "$src" -exec touch -h -d "@$epoch" {} +
(cd "$work" && SOURCE_DATE_EPOCH=$epoch dpkg-source --compression-level=6 -b "nook-$version" >/dev/null)
mv "$work/nook_$version.dsc" "$work/nook_$version.tar.xz" "$out/"
echo "$out/nook_$version.dsc"
