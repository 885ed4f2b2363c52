#!/usr/bin/env bash
# Runs every fuzz target of the module for a short while (FUZZTIME, default
# 10s each). CI calls it from test/all.sh; a long run for the record:
#   FUZZTIME=10m test/fuzz.sh
# A crash leaves its input under the package's testdata/fuzz/, which makes
# it a regression case of the ordinary test run from then on; the whole
# output of a failing target is printed, with the input that failed.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
t=${FUZZTIME:-10s}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
rc=0
for pkg in $(go list ./...); do
	for target in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
		echo "fuzz $pkg $target ($t)"
		ok=0
		for try in 1 2; do
			if go test -run '^$' -fuzz "^$target\$" -fuzztime "$t" "$pkg" >"$log" 2>&1; then
				ok=1
				break
			fi
			if [ "$try" = 1 ] && grep -q 'context deadline exceeded' "$log" &&
				! grep -qE 'Failing input written|panic:|_test\.go:[0-9]+:' "$log"; then
				echo "  the fuzzer hit its deadline flake (golang/go#75804), nothing found; once more"
				continue
			fi
			break
		done
		if [ "$ok" = 1 ]; then
			tail -1 "$log"
		else
			rc=1
			grep -v '^fuzz: elapsed' "$log" || true
			dir=$(go list -f '{{.Dir}}' "$pkg")/testdata/fuzz/$target
			if [ -d "$dir" ]; then
				for f in "$dir"/*; do
					echo "--- failing input $f"
					cat "$f"
				done
			fi
		fi
	done
done
exit $rc
