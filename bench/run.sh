#!/usr/bin/env bash
# Start-up cost of nook beside bubblewrap and unshare(1), in one hyperfine
# run, as an unprivileged user. Results go to docs/benchmarks.md by hand.
#
#   bench/run.sh [NOOK_BINARY]        # as an unprivileged user
#   sudo bench/run.sh                 # builds nook, runs as nook-ci-nosub,
#                                     # then the host mount-table axis
#                                     # (bench/hostmounts.sh)
#
# Needs hyperfine and bubblewrap (test/setup-host.sh installs both).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
export PATH="/usr/local/go/bin:$PATH"
. "$top/bench/lib.sh"
nook=$(bench_nook "${1:-}")
runs=${RUNS:-300}
as=()
if [ "$(id -u)" -eq 0 ]; then
	"$top/test/setup-host.sh" >/dev/null
	as=(runuser -u nook-ci-nosub --)
fi
# nook called as bwrap: a symlink named bwrap, as programs that run "bwrap" find it.
face=$(mktemp -d /var/tmp/nook-bench-bwrap.XXXXXX)
ln -s "$nook" "$face/bwrap"
chmod 755 "$face"
# A Go hello world, the floor of any Go program's start (issue 22 asks
# nook version to stay within 1.25x of it).
mkdir "$face/hello"
printf 'module hello\ngo 1.22\n' >"$face/hello/go.mod"
printf 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hello") }\n' >"$face/hello/main.go"
(cd "$face/hello" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -o "$face/hello-go" .)
chmod 755 "$face/hello-go"
trap 'rm -rf "$face"' EXIT
cd /
echo "kernel $(uname -r); $(nproc) cpus; $(bwrap --version); $("$nook" version); runs=$runs"
"${as[@]}" hyperfine -N --warmup 30 --runs "$runs" --export-markdown /tmp/nook-bench.md \
	-n 'nook run --ro-bind / / true' "$nook run --ro-bind / / true" \
	-n 'bwrap --ro-bind / / true' 'bwrap --ro-bind / / true' \
	-n 'nook as bwrap: --ro-bind / / true' "$face/bwrap --ro-bind / / true" \
	-n 'nook run --share-pid --share-ipc --share-uts --ro-bind / / true (same work)' \
	"$nook run --share-pid --share-ipc --share-uts --ro-bind / / true" \
	-n 'nook run --unshare-all --ro-bind / / --dev /dev --proc /proc --tmpfs /tmp true' \
	"$nook run --unshare-all --ro-bind / / --dev /dev --proc /proc --tmpfs /tmp true" \
	-n 'bwrap --unshare-all --ro-bind / / --dev /dev --proc /proc --tmpfs /tmp true' \
	'bwrap --unshare-all --ro-bind / / --dev /dev --proc /proc --tmpfs /tmp true' \
	-n 'nook as bwrap: --unshare-all --ro-bind / / --dev /dev --proc /proc --tmpfs /tmp true' \
	"$face/bwrap --unshare-all --ro-bind / / --dev /dev --proc /proc --tmpfs /tmp true" \
	-n 'nook run true (zero-setup default)' "$nook run true" \
	-n 'env NOOK_ENGINE=init nook run --ro-bind / / true (the Go init; env adds ~1 ms)' \
	"env NOOK_ENGINE=init $nook run --ro-bind / / true" \
	-n 'env nook run --ro-bind / / true (the raw engine, same env cost)' "env $nook run --ro-bind / / true" \
	-n 'nook version (Go start-up alone)' "$nook version" \
	-n 'a Go hello world' "$face/hello-go" \
	-n 'unshare -Ur true' 'unshare -Ur true' \
	-n '/bin/true' '/bin/true'
cat /tmp/nook-bench.md
if [ "$(id -u)" -eq 0 ] && [ "${HOSTMOUNTS:-1}" = 1 ]; then
	"$top/bench/hostmounts.sh" "$nook"
fi
