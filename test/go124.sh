#!/usr/bin/env bash
# go124.sh: nook builds and vets with the Go that Debian 13 ships (1.24.4),
# as Debian's package builds it (issue 21, part 2). test/all.sh runs it in
# its lint stage; it needs the Go module proxy the first time (the 1.24.4
# toolchain is a module, golang.org/toolchain, kept in the module cache
# after), and no root.
#
# With CGO_ENABLED=0 (nook has no cgo), this checkout's go.mod, built and
# vetted (tests too) by go1.24.4: no standard library API newer than 1.24
# and no module that asks for a newer Go. Go refuses a go.mod whose go line
# is newer than itself, so a go line raised past 1.24 fails here at once.
# (Debian's package builds with these same module versions, vendored:
# debian/README.source says why Debian 13's own are too old.)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
toolchain=go1.24.4
export CGO_ENABLED=0 GOTOOLCHAIN=$toolchain GOFLAGS="${GOFLAGS:-} -buildvcs=false"
go=$(command -v go || echo /usr/local/go/bin/go)

got=$("$go" version)
case $got in
"go version $toolchain "*) ;;
*) echo "go124.sh: FAIL: GOTOOLCHAIN=$toolchain ran '$got'" >&2; exit 1 ;;
esac
echo "go124.sh: $got"

cd "$top"
out=$(mktemp -d /var/tmp/nook-go124.XXXXXX)
trap 'chmod -R u+w "$out" 2>/dev/null; rm -rf "$out"' EXIT
"$go" build -o "$out/bin/" ./cmd/nook ./cmd/nook-unpack
built=$("$go" version "$out/bin/nook")
[ "$built" = "$out/bin/nook: $toolchain" ] || { echo "go124.sh: FAIL: the nook built says '$built'" >&2; exit 1; }
"$go" vet ./...
echo "go124.sh: built with $toolchain; build and vet pass"

