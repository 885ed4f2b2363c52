#!/usr/bin/env bash
# Two commands against each other on a VM whose speed drifts: ROUNDS
# rounds of hyperfine, RUNS runs of each command per round, the order
# flipped every round, so a drift hits both alike. Prints each round's
# means (ms, A then B) and the mean of the rounds and their difference.
#
#   bench/ab.sh 'old/nook run --ro-bind / / true' 'new/nook run --ro-bind / / true'
#   ROUNDS=6 RUNS=40 bench/ab.sh CMD_A CMD_B
# Run it as the user to measure (it writes only a temporary file).
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: bench/ab.sh CMD_A CMD_B" >&2; exit 2; }
a=$1 b=$2
rounds=${ROUNDS:-6} runs=${RUNS:-40}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for i in $(seq "$rounds"); do
	if [ $((i % 2)) = 1 ]; then first=$a second=$b; else first=$b second=$a; fi
	hyperfine -N --warmup 10 --runs "$runs" --export-json "$out" "$first" "$second" >/dev/null
	python3 - "$out" "$a" "$b" <<'PY'
import json, sys
res = {r["command"]: r["mean"] * 1000 for r in json.load(open(sys.argv[1]))["results"]}
print("%.2f %.2f" % (res[sys.argv[2]], res[sys.argv[3]]))
PY
done | awk '{ print; sa += $1; sb += $2; n++ } END { printf "mean of %d rounds: A %.2f ms, B %.2f ms, B - A %.2f ms\n", n, sa / n, sb / n, sb / n - sa / n }'
