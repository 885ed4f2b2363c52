#!/usr/bin/env bash
# Builds the seccomp tests for every Debian release architecture (and the
# other GOARCHes nook's filter knows) and runs the arch-dependent ones there:
# natively for 386, under qemu-user for the rest.
#
# What only a run on the target can check: TestXsysnumMatchesUnix compares
# the generated syscall table with the unix.SYS_* and TIOCSTI constants
# compiled for that GOARCH. The filter logic itself (TestFamilies,
# TestIoctl, ...) is arch-independent Go, run again here as a smoke test.
# Left out: TestExhaustive (the host run covers it; ~40 s per arch under
# qemu) and TestInstall* (they re-exec the test binary, which needs
# binfmt_misc, and qemu-user does not hand a guest's seccomp filter to the
# kernel).
#
# Needs qemu-user-static (test/setup-host.sh installs it); without it the
# qemu runs are skipped with a note, the builds still happen.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
export PATH="/usr/local/go/bin:$PATH"
out=$(mktemp -d "${TMPDIR:-/tmp}/nook-crossvet.XXXXXX")
trap 'rm -rf "$out"' EXIT

tests='TestXsysnumMatchesUnix|TestFamilies|TestIoctl|TestX32Dispatch|TestMIPSCrossABI|TestS390xArgByteOrder|TestProgram'
# GOARCH[/GOARM] and the qemu binary that runs it ("-": runs natively).
# arm: GOARM=5 is Debian armel, 7 armhf.
targets="386:- arm/5:arm arm/7:arm arm64:aarch64 riscv64:riscv64 loong64:loongarch64
	ppc64le:ppc64le s390x:s390x mips64le:mips64el"
missing=""
for t in $targets; do
	goarch=${t%%:*} q=${t#*:}
	arch=${goarch%/*} goarm=""
	[ "$goarch" = "$arch" ] || goarm=${goarch#*/}
	bin="$out/seccomp-${goarch//\//-}.test"
	GOOS=linux GOARCH=$arch GOARM=$goarm CGO_ENABLED=0 go test -c -o "$bin" ./sandbox/seccomp ||
		{ echo "crossvet: go test -c fails for GOARCH=$goarch"; exit 1; }
	run=("$bin")
	if [ "$q" != - ]; then
		if ! command -v "qemu-$q-static" >/dev/null; then
			missing="$missing $goarch"
			continue
		fi
		run=("qemu-$q-static" "$bin")
	fi
	if ! res=$("${run[@]}" -test.count=1 -test.run "$tests" 2>&1); then
		echo "$res"
		echo "crossvet: seccomp tests fail for GOARCH=$goarch"
		exit 1
	fi
	echo "crossvet: GOARCH=$goarch ok"
done
if [ -n "$missing" ]; then
	echo "crossvet: no qemu-user-static, not run for:$missing (built only)"
fi
