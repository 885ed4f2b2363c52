#!/usr/bin/env bash
# Runs every fuzz target of the module for a short while (FUZZTIME, default
# 10s each). CI calls it from test/all.sh; a long run for the record:
#   FUZZTIME=10m test/fuzz.sh
# A crash leaves its input under the package's testdata/fuzz/, which makes
# it a regression case of the ordinary test run from then on.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
t=${FUZZTIME:-10s}
for pkg in $(go list ./...); do
	for target in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
		echo "fuzz $pkg $target ($t)"
		go test -run '^$' -fuzz "^$target\$" -fuzztime "$t" "$pkg" | tail -1
	done
done
