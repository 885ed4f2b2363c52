#!/usr/bin/env bash
# Package initialisation of nook, per package: the median over RUNS runs of
# `GODEBUG=inittrace=1 NOOK version` (clock ms, and the allocations, which do
# not vary), slowest last, then the sum of the medians. Results go to
# docs/benchmarks.md by hand.
#
#   bench/inittrace.sh [NOOK_BINARY]     # default: builds nook (CGO_ENABLED=0)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
export PATH="/usr/local/go/bin:$PATH"
nook=${1:-}
if [ -z "$nook" ]; then
	nook=$(mktemp -d)/nook
	(cd "$top" && CGO_ENABLED=0 go build -o "$nook" ./cmd/nook)
fi
runs=${RUNS:-60}
for _ in $(seq "$runs"); do
	GODEBUG=inittrace=1 "$nook" version 2>&1 >/dev/null
done | awk '$1 == "init" { print $2, $5, $10 }' | sort -k1,1 -k2,2g | awk '
	function flush() { if (n) printf "%8.3f ms %6d allocs  %s\n", v[int((n + 1) / 2)], allocs, pkg }
	$1 != pkg { flush(); pkg = $1; n = 0 }
	{ v[++n] = $2; allocs = $3 }
	END { flush() }' | sort -g | awk '{ print; s += $1 } END { printf "sum of medians: %.2f ms over %d packages\n", s, NR }'
