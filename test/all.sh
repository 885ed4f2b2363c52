#!/usr/bin/env bash
# Runs nook's whole test suite (make check).
#
# As root (CI runs it so): installs the Debian packages the tests need,
# creates two unprivileged users -- nook-ci-sub with a subordinate id range
# and nook-ci-nosub without one -- and runs every test three times: as root
# and as each user. Test binaries are built once into a directory everyone
# can read, because the checkout itself may not be readable by the users.
# Then the Debian clients end to end, and the VM stage: Debian 12's and
# 13's own kernels booted under QEMU, the engine, session and sbuild tests
# run inside (test/vm/run.sh; docs/kernels.md).
#
# As an ordinary user: runs the suite once, as you, and says what that
# leaves out.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
export PATH="/usr/local/go/bin:$HOME/go/bin:$PATH"
# -tags nooktest: the test-only knobs (NOOK_TEST_STOP_AT,
# NOOK_TEST_STALL_UNPACK, NOOK_RAW_NO_VM, NOOK_RAW_FULL_FORK) exist only
# in such a build (internal/phase/hooks_nooktest.go); a shipped one
# ignores them.
export GOFLAGS="${GOFLAGS:-} -buildvcs=false -tags=nooktest"

say() { printf '\n=== %s\n' "$*"; }

# One work directory per checkout, so two clones can run the suite at once.
tag=$(printf '%s' "$top" | sha1sum | cut -c1-8)
work=/var/tmp/nook-ci-$tag
[ "$(id -u)" -eq 0 ] || work="${TMPDIR:-/tmp}/nook-test-$(id -u)-$tag"
bin="$work/bin"

if [ "$(id -u)" -eq 0 ]; then
	say "setup: packages and users"
	"$top/test/setup-host.sh"
	# The buildd chroot tarball and sbuild's set-up: the unit suites use
	# the tarball too (autopkgtest-virt-nook over a chroot with dpkg-dev),
	# not only the sbuild stage below, so it is made before any test.
	say "setup: sbuild, its buildd chroot tarball and user"
	"$top/test/sbuild/setup.sh"
fi

say "lint: gofmt, go vet, staticcheck"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change: $unformatted"
	exit 1
fi
go vet ./...
# And the shipped build, without the test knobs.
GOFLAGS=-buildvcs=false go vet ./...
# The raw engine's child code is per architecture: keep every port building,
# every Debian release architecture and loong64. (GOARM does not change what
# vet sees; test/crossvet.sh builds arm with GOARM=5 and 7.)
for arch in arm64 386 arm riscv64 ppc64le s390x mips64le loong64; do
	GOARCH=$arch go vet ./... || { echo "go vet fails for GOARCH=$arch"; exit 1; }
done
# The seccomp tables per architecture, run there under qemu-user.
"$top/test/crossvet.sh"
# The generated syscall table must be what the generator makes of the x/sys
# in go.mod (the test needs the source tree, so it runs here, in it).
CGO_ENABLED=0 go test -count=1 -run 'TestXsysnumUpToDate' -v ./sandbox/seccomp | grep -E -- '^(--- |ok|FAIL)'
if ! command -v staticcheck >/dev/null; then
	go install honnef.co/go/tools/cmd/staticcheck@v0.8.2
fi
staticcheck ./...

say "go1.24: nook builds and vets with Debian 13's Go"
# go.mod's go line is 1.24 so that Debian's package builds with Debian's Go
# (debian/); the 1.24.4 toolchain comes through the module proxy once and
# stays in the module cache.
"$top/test/go124.sh"

say "fuzz: every target briefly"
# 5 s a target here (test/fuzz.sh says 10 s alone): CI runs every stop, and
# a longer run for the record is FUZZTIME=10m test/fuzz.sh.
FUZZTIME=${FUZZTIME:-5s} "$top/test/fuzz.sh"

say "build: nook and the test binaries into $bin"
rm -rf "$bin"
mkdir -p "$bin"
chmod 0755 "$work" "$bin"
CGO_ENABLED=0 go build -o "$bin" ./cmd/nook ./cmd/nook-unpack
pkgs=$(go list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}{{end}}' ./...)
for p in $pkgs; do
	name=$(echo "${p#github.com/nook-project/nook/}" | tr / _)
	CGO_ENABLED=0 go test -c -o "$bin/$name.test" "$p"
done
# nook has no cgo, but a program that embeds the sandbox package may: the
# runtime then cannot reach every thread (syscall.AllThreadsSyscall), which
# the Go init's pid 1 needs to drop its capabilities. The sandbox suite
# built with cgo runs too (below), from a directory of its own, which the
# runs of every binary leave out.
mkdir -p "$bin/cgo"
CGO_ENABLED=1 go test -c -o "$bin/cgo/sandbox.test" ./sandbox
chmod -R a+rX "$work"

say "install: make install and uninstall into a temporary DESTDIR"
if command -v make >/dev/null || [ "$(id -u)" -eq 0 ]; then
	"$top/test/install.sh"
else
	echo "NOTE: make is not installed, so test/install.sh is left out (test/setup-host.sh installs it)"
fi

say "release: make release twice, bit-identical"
if command -v make >/dev/null && command -v git >/dev/null && git -C "$top" rev-parse HEAD >/dev/null 2>&1; then
	"$top/test/release.sh"
else
	echo "NOTE: make, git or a git checkout is missing, so test/release.sh is left out"
fi

# shellcheck source=test/lib/runtests.sh
. "$top/test/lib/runtests.sh"

if [ "$(id -u)" -eq 0 ]; then
	say "tests as root"
	run_as - root
	say "tests as nook-ci-sub (has subordinate ids)"
	run_as nook-ci-sub sub NOOK_TEST_EXPECT_SUBIDS=1
	say "tests as nook-ci-nosub (no subordinate ids)"
	run_as nook-ci-nosub nosub
	# The engine's fallback, nook's re-executed Go init, runs only for what
	# the raw engine cannot express; run the sandbox and CLI suites through
	# it alone too, so both set-up paths stay tested three ways.
	say "sandbox and CLI suites again with NOOK_ENGINE=init"
	only="sandbox cmd_nook"
	run_as - root-init NOOK_ENGINE=init
	run_as nook-ci-sub sub-init NOOK_TEST_EXPECT_SUBIDS=1 NOOK_ENGINE=init
	run_as nook-ci-nosub nosub-init NOOK_ENGINE=init
	# And through the raw engine's plain-fork code, the only one on
	# architectures without the CLONE_VM trampoline (arm64).
	say "sandbox and CLI suites again with NOOK_RAW_NO_VM=1"
	run_as - root-novm NOOK_RAW_NO_VM=1
	run_as nook-ci-nosub nosub-novm NOOK_RAW_NO_VM=1
	# The sandbox suite built with cgo, as an embedder may build it:
	# through the Go init (whose pid 1 cannot drop capabilities on every
	# thread there, and must fail closed) and through the raw engine.
	say "sandbox suite built with cgo, with NOOK_ENGINE=init and without"
	only="cgo/sandbox"
	run_as - root-cgo-init NOOK_ENGINE=init
	run_as nook-ci-sub sub-cgo-init NOOK_TEST_EXPECT_SUBIDS=1 NOOK_ENGINE=init
	run_as nook-ci-nosub nosub-cgo-init NOOK_ENGINE=init
	run_as - root-cgo
	run_as nook-ci-sub sub-cgo NOOK_TEST_EXPECT_SUBIDS=1
	run_as nook-ci-nosub nosub-cgo
	only=
	# Debian 12's and 13's own kernels (6.1, 6.12), booted under QEMU: the
	# engine and session tests three ways and sbuild through nook as
	# schroot, inside each (test/vm, docs/kernels.md). The images are made
	# here, before anything else runs (debvm-create's mmdebstrap mounts in
	# its scratch tree, which the end-to-end stages' leftover checks would
	# see); the VMs then run beside the end-to-end stages, which wait on
	# the network and on sbuild more than on the CPU the emulation takes.
	# Its output follows them.
	say "VM stage: the images"
	t0=$(date +%s)
	vm_log=$work/vm-stage.log
	rm -f "$vm_log" "$work/vm-stage.rc" "$work/vm-stage.pid"
	if NOOK_VM_SETUP_DONE=1 NOOK_VM_IMAGES_ONLY=1 NOOK_VM_BIN="$bin" "$top/test/vm/run.sh" bookworm trixie; then
		say "VM stage: booting Debian 12 and 13 in the background (its output follows the end-to-end stages)"
		(
			rc=0
			NOOK_VM_SETUP_DONE=1 NOOK_VM_BIN="$bin" NOOK_VM_OUT="$work/vm" "$top/test/vm/run.sh" bookworm trixie >"$vm_log" 2>&1 </dev/null &
			echo $! >"$work/vm-stage.pid"
			wait $! || rc=$?
			echo "$rc" >"$work/vm-stage.rc"
		) &
		vm_pid=$!
		# However this script ends, the VMs end with it: run.sh's own
		# clean-up kills QEMU on SIGTERM.
		trap 'p=$(cat "$work/vm-stage.pid" 2>/dev/null) && kill -TERM "$p" 2>/dev/null' EXIT
		trap 'exit 130' INT TERM
	else
		echo "!!! VM stage: the images could not be made"
		echo 1 >"$work/vm-stage.rc"
		vm_pid=
	fi
	# Debian 12's own clients drive nook's schroot face end to end: sbuild
	# builds a package as a user in group sbuild and as root (test/sbuild,
	# docs/sbuild-e2e.md), autopkgtest runs a package's tests
	# (autopkgtest-virt-schroot), piuparts walks a copy session's tree from
	# the host.
	e2e() { # e2e NAME WHO: test/NAME/ci.sh with this build's nook
		say "$1 end to end through nook as schroot"
		local result=pass
		"$top/test/$1/ci.sh" "$bin/nook" || { result=FAIL; failed=1; }
		summary+=("$(printf '%-11s %-36s %s' "$1" "test/$1/ci.sh ($2)" "$result")")
	}
	e2e sbuild "user, root"
	e2e autopkgtest "user, root"
	e2e piuparts root
	# debci 3.6 end to end: RabbitMQ on loopback, the collector, two
	# workers as two users with subordinate ids, jobs of real packages
	# spread over both, one worker killed with SIGKILL mid-test; through
	# nook's own debci backend and through debci's schroot backend with
	# nook as schroot (test/debci, docs/debci.md, docs/scale-out.md).
	e2e debci "nook and schroot backends, 2 workers"
	# nook's own Debian package (debian/), built for trixie by sbuild
	# through nook as schroot, installed, used and removed in a fresh
	# session (test/debpkg/ci.sh).
	e2e debpkg root
	say "VM stage: Debian 12 and 13 kernels under QEMU (waiting for it)"
	[ -z "$vm_pid" ] || wait "$vm_pid" || true
	trap - EXIT INT TERM
	[ ! -f "$vm_log" ] || cat "$vm_log"
	result=pass
	[ "$(cat "$work/vm-stage.rc" 2>/dev/null)" = 0 ] || { result=FAIL; failed=1; }
	summary+=("$(printf '%-11s %-36s %s (%d s)' vm "test/vm/run.sh (6.1, 6.12)" "$result" $(($(date +%s) - t0)))")
else
	say "tests as $(id -un) only"
	echo "NOTE: not root, so the suite ran once, as you. CI runs it as root and as two"
	echo "      unprivileged users (with and without /etc/subuid ranges), and boots"
	echo "      Debian 12's and 13's kernels to run it there too (test/vm): sudo $0"
	run_as - self
	only="sandbox cmd_nook"
	run_as - self-init NOOK_ENGINE=init
	only="cgo/sandbox"
	run_as - self-cgo-init NOOK_ENGINE=init
	run_as - self-cgo
	only=
fi

say "summary"
printf '%s\n' "${summary[@]}"
if [ "$failed" -ne 0 ]; then
	echo "FAILED"
	exit 1
fi
echo "all passed"
