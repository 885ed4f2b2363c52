#!/usr/bin/env bash
# release.sh: `make release` is reproducible. The checkout's commit is
# cloned twice, to two paths of different lengths, and released in each:
# the first with the usual Go build cache, the second with an empty one of
# its own (so it compiles everything, the standard library too, afresh),
# and at a later time. The two archives, and the binaries in them, must be
# the same bit for bit; the binary is static, and says the commit's version
# and revision. test/all.sh runs it; it needs git, make, tar and gzip, no
# root and no network (the module cache has what go.mod names).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
fail() { echo "release.sh: FAIL: $*" >&2; exit 1; }
export PATH="/usr/local/go/bin:$PATH"
export CGO_ENABLED=0 GOFLAGS=-mod=readonly GOPROXY=off
rev=$(git -C "$top" rev-parse HEAD)
tmp=$(mktemp -d /var/tmp/nook-release.XXXXXX)
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT

# release DIR [ENV...]: clone HEAD to DIR, make release there; prints the archive.
release() {
	local dir=$1
	shift
	git clone -q --no-hardlinks "$top" "$dir"
	git -C "$dir" checkout -q "$rev"
	env "$@" make -C "$dir" --no-print-directory -s release >"$dir.log" 2>&1 || { cat "$dir.log" >&2; fail "make release in $dir failed"; }
	tail -1 "$dir.log"
}
a=$(release "$tmp/a")
sleep 1
b=$(release "$tmp/a-second-checkout/b" GOCACHE="$tmp/gocache")
a=$tmp/a/$a b=$tmp/a-second-checkout/b/$b
[ -f "$a" ] && [ -f "$b" ] || fail "no archive: $a $b"
[ "$(basename "$a")" = "$(basename "$b")" ] || fail "the two archives are named differently: $a $b"
nook=$(dirname "$a")/build/nook
if ! cmp -s "$a" "$b"; then
	for f in nook nook-unpack; do
		cmp "$(dirname "$a")/build/$f" "$(dirname "$b")/build/$f" || echo "release.sh: $f differs" >&2
	done
	fail "the two release archives differ: $(sha256sum "$a" "$b")"
fi
echo "release.sh: two builds, the same: $(sha256sum <"$a" | cut -c1-16) $(basename "$a")"

# Static: no program interpreter, no dynamic section.
for f in nook nook-unpack; do
	! readelf -lW "$(dirname "$a")/build/$f" | grep -q 'INTERP\|DYNAMIC' || fail "$f is not static"
done
# The VCS stamp: the version names the commit, the revision is it.
v=$("$nook" version --json)
grep -q "\"revision\": \"$rev\"" <<<"$v" || fail "nook version does not carry revision $rev: $v"
grep -q "\"version\": \"$(git -C "$top" describe --tags --always "$rev")\"" <<<"$v" || fail "nook version's version is not git describe's: $v"
go version -m "$nook" | grep -q -- '-trimpath=true' || fail "not built with -trimpath: $(go version -m "$nook")"
echo "release.sh: static, -trimpath, version $(sed -n 's/.*"version": "\(.*\)".*/\1/p' <<<"$v") at $rev"
