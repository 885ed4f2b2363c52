#!/usr/bin/env bash
# nook beside bwrap on Debian 12's and Debian 13's own kernels: boots each
# under QEMU with test/vm/run.sh and runs bench/vm-guest.sh inside, which
# compares `nook run --ro-bind / / true`, the full-isolation line and
# `nook session run ID -- true` with their bwrap equivalents in one
# hyperfine run each. Under software emulation only the ratios mean
# anything. Results go to docs/benchmarks.md by hand.
#
#   sudo bench/vm.sh [bookworm] [trixie]      # default: both
set -euo pipefail
[ "$(id -u)" -eq 0 ] || { echo "bench/vm.sh: run as root" >&2; exit 1; }
top=$(cd "$(dirname "$0")/.." && pwd)
out=${NOOK_VM_OUT:-/var/tmp/nook-vm-bench}
[ $# -gt 0 ] || set -- bookworm trixie
NOOK_VM_OUT=$out NOOK_VM_TESTS= NOOK_VM_INIT_TESTS= NOOK_VM_SBUILD=0 \
	NOOK_VM_CUSTOM="$top/bench/vm-guest.sh" "$top/test/vm/run.sh" "$@"
for r in "$@"; do
	cat "$out/$r/results/bench.md"
done
