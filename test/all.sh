#!/usr/bin/env bash
# Runs nook's whole test suite.
#
# As root (CI runs it so): installs the Debian packages the tests need,
# creates two unprivileged users -- nook-ci-sub with a subordinate id range
# and nook-ci-nosub without one -- and runs every test three times: as root
# and as each user. Test binaries are built once into a directory everyone
# can read, because the checkout itself may not be readable by the users.
#
# As an ordinary user: runs the suite once, as you, and says what that
# leaves out.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
export PATH="/usr/local/go/bin:$HOME/go/bin:$PATH"
export GOFLAGS="${GOFLAGS:-} -buildvcs=false"

say() { printf '\n=== %s\n' "$*"; }

# One work directory per checkout, so two clones can run the suite at once.
tag=$(printf '%s' "$top" | sha1sum | cut -c1-8)
work=/var/tmp/nook-ci-$tag
[ "$(id -u)" -eq 0 ] || work="${TMPDIR:-/tmp}/nook-test-$(id -u)-$tag"
bin="$work/bin"

if [ "$(id -u)" -eq 0 ]; then
	say "setup: packages and users"
	"$top/test/setup-host.sh"
fi

say "lint: gofmt, go vet, staticcheck"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change: $unformatted"
	exit 1
fi
go vet ./...
# The raw engine's child code is per architecture: keep every port building.
for arch in arm64 386 arm riscv64 ppc64le s390x; do
	GOARCH=$arch go vet ./... || { echo "go vet fails for GOARCH=$arch"; exit 1; }
done
if ! command -v staticcheck >/dev/null; then
	go install honnef.co/go/tools/cmd/staticcheck@v0.8.2
fi
staticcheck ./...

say "fuzz: every target briefly"
"$top/test/fuzz.sh"

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

failed=0
declare -a summary

# run_as USER LABEL EXTRA_ENV... : every test binary as USER (or only
# those named in $only).
run_as() {
	local user=$1 label=$2
	shift 2
	local home="$work/home-$label"
	rm -rf "$home"
	mkdir -p "$home"
	[ "$user" = "-" ] || chown "$user:" "$home"
	local tests=("$bin"/*.test)
	if [ -n "${only:-}" ]; then
		tests=()
		for n in $only; do tests+=("$bin/$n.test"); done
	fi
	for t in "${tests[@]}"; do
		local log="$work/$label-$(basename "$t" .test).log"
		[ "$(basename "$(dirname "$t")")" = cgo ] && log="$work/$label-cgo-$(basename "$t" .test).log"
		local cmd=(env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME="$home" TMPDIR="$home"
			LANG=C.UTF-8 NOOK_BIN="$bin/nook" CI="${CI:-}" "$@" "$t" -test.v -test.count=1 -test.timeout=15m)
		local rc=0
		if [ "$user" = "-" ]; then
			(cd "$home" && "${cmd[@]}") >"$log" 2>&1 </dev/null || rc=$?
		else
			(cd "$home" && runuser -u "$user" -- "${cmd[@]}") >"$log" 2>&1 </dev/null || rc=$?
		fi
		local pass skip fail
		pass=$(grep -c -- '--- PASS' "$log" || true)
		skip=$(grep -c -- '--- SKIP' "$log" || true)
		fail=$(grep -c -- '--- FAIL' "$log" || true)
		summary+=("$(printf '%-10s %-32s pass %4d  skip %3d  fail %3d  rc %d' "$label" "${t#"$bin"/}" "$pass" "$skip" "$fail" "$rc")")
		if [ "$skip" -gt 0 ]; then
			grep -B1 -- '--- SKIP' "$log" | grep -v -- '^--$' | grep -v '^=== RUN' | sed "s/^/  [$label skip] /"
		fi
		if [ "$rc" -ne 0 ]; then
			failed=1
			echo "!!! $label: $(basename "$t") failed (rc $rc); its log:"
			grep -v -- '^=== \(RUN\|PAUSE\|CONT\)' "$log" | tail -80
		fi
	done
}

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
else
	say "tests as $(id -un) only"
	echo "NOTE: not root, so the suite ran once, as you. CI runs it as root and as two"
	echo "      unprivileged users (with and without /etc/subuid ranges): sudo $0"
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
