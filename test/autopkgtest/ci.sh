#!/usr/bin/env bash
# ci.sh SCHROOT_BINARY: Debian 12's own autopkgtest (5.28) runs a source
# package's tests through "schroot" (autopkgtest-virt-schroot), where
# "schroot" is SCHROOT_BINARY: nook (which answers as schroot when called by
# that name) or /usr/bin/schroot (which is how the harness itself is checked).
# Run as root; it runs autopkgtest as nook-ci-sbuild (group sbuild, so root
# on the testbed through the chroot's root-groups) and as root.
#
# The package is test/autopkgtest/pkg, three tests with nothing to build:
#   identity   needs-root: uid 0 inside, /proc a mount point, bookworm's
#              /etc/debian_version
#   artifacts  as the caller's user where autopkgtest has one: writes
#              $AUTOPKGTEST_ARTIFACTS/note.txt, which autopkgtest copies
#              back out of the session
#   fails      exits 3 on purpose: autopkgtest must see the failure
# Each needs its test dependencies installed by autopkgtest (apt, dpkg in
# the session) and the test tree copied in and out.
#
# Then, for the same user, autopkgtest -U on one test with its output in a
# log root created: the testbed must reopen that stderr (see the call).
#
# Checked for each user: autopkgtest's exit status 4 (some test failed) and
# its summary exactly "identity PASS", "artifacts PASS", "fails FAIL
# non-zero exit status 3"; identity's output; the artifact's text (written
# by the user the test ran as); and that nothing is left: no session listed
# that was not there before, no mount point added in the test's mount
# namespace, no process carrying the run's marker variable.
#
# The chroot, its tarball and the user come from test/sbuild/setup.sh
# (nook-ci-bookworm, type=file, profile=sbuild). How the binary becomes
# "schroot": as in test/sbuild/build.sh, a private mount namespace in which
# it is bind-mounted over /usr/bin/schroot (autopkgtest finds schroot on
# PATH; the bind mount also covers callers that use /usr/bin directly).
#
# Output: per user a line "RESULT <user> PASS|FAIL <seconds>", then PASS or
# FAIL; exit status 0 only when both passed.
set -euo pipefail
self=$(readlink -f "$0")
here=$(dirname "$self")
top=$(cd "$here/../.." && pwd)
chroot=nook-ci-bookworm
say() { printf '=== autopkgtest-e2e: %s\n' "$*"; }

# ---------------------------------------------------------------------------
# Inner part: in the private mount namespace, as root.
# ---------------------------------------------------------------------------
if [ "${1:-}" = --inner ]; then
	bin=$2 user=$3 scratch=$4
	marker=nook-apt-e2e-$$-$RANDOM
	# shellcheck source=test/lib/e2e.sh
	. "$top/test/lib/e2e.sh"
	e2e_as_schroot "$bin" "$scratch"
	home=$(getent passwd "$user" | cut -d: -f6)
	path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
	as_user() {
		local envv=(env -i "HOME=$home" "PATH=$path" LANG=C.UTF-8 "USER=$user" "LOGNAME=$user"
			"NOOK_APT_E2E=$marker")
		if [ "$user" = root ]; then
			"${envv[@]}" "$@"
		else
			runuser -u "$user" -- "${envv[@]}" "$@"
		fi
	}
	e2e_before "$scratch" as_user schroot
	cp -r "$here/pkg" "$scratch/pkg"
	mkdir "$scratch/out-parent"
	chmod -R a+rX "$scratch"
	chown -R "$user:" "$scratch/pkg" "$scratch/out-parent"
	out=$scratch/out-parent/out
	rc=0
	(cd "$scratch" && as_user autopkgtest --no-built-binaries --output-dir "$out" ./pkg/ -- schroot "$chroot") \
		>"$scratch/autopkgtest.log" 2>&1 || rc=$?

	check "autopkgtest exit status 4 (a test failed, as one must), got $rc" "$([ "$rc" = 4 ] && echo 1)"
	summary=$(sed -E 's/ +/ /g' "$out/summary" 2>/dev/null || true)
	want=$'identity PASS\nartifacts PASS\nfails FAIL non-zero exit status 3'
	check "summary is: identity PASS, artifacts PASS, fails FAIL non-zero exit status 3" \
		"$([ "$summary" = "$want" ] && echo 1)"
	[ "$summary" = "$want" ] || printf '     summary was:\n%s\n' "$summary"
	check "identity ran as root inside bookworm" \
		"$(grep -qE '^uid=0 release=12\.' "$out/identity-stdout" 2>/dev/null && echo 1)"
	# autopkgtest runs tests without needs-root as the caller when the
	# caller is not root (and as root when it is).
	note=$(cat "$out/artifacts/note.txt" 2>/dev/null || true)
	check "artifact copied out: \"artifact written by $user\", got \"$note\"" \
		"$([ "$note" = "artifact written by $user" ] && echo 1)"
	check "the failing test's stderr came back" \
		"$(grep -qx 'failing-on-purpose' "$out/fails-stderr" 2>/dev/null && echo 1)"

	# -U (apt-get update and upgrade in the testbed first) as CI runners
	# call it, without --output-dir (whose log tee would stand between
	# autopkgtest and the testbed) and with autopkgtest's output going to
	# a log root made (this shell's redirection): -U's set-up runs
	# `apt-get update | tee /proc/self/fd/2` in the testbed, and a command
	# that cannot reopen its stderr makes autopkgtest sleep 15 s and update
	# again (issue 18). One test is enough.
	rc=0
	(cd "$scratch" && as_user autopkgtest -U --no-built-binaries --test-name identity ./pkg/ -- schroot "$chroot") \
		>"$scratch/autopkgtest-U.log" 2>&1 </dev/null || rc=$?
	check "autopkgtest -U --test-name identity exit status 0, got $rc" "$([ "$rc" = 0 ] && echo 1)"
	check "the testbed reopened autopkgtest's root-owned stderr (no 'tee: /proc/self/fd/2' refused, so no second apt-get update)" \
		"$(grep -q 'tee: /proc/self/fd/2' "$scratch/autopkgtest-U.log" || echo 1)"
	[ "$bad" -eq 0 ] || { echo "--- autopkgtest -U's output (last 30 lines):"; tail -30 "$scratch/autopkgtest-U.log"; }

	e2e_after "$scratch" "NOOK_APT_E2E=$marker" as_user schroot
	if [ "$bad" -ne 0 ]; then
		echo "--- autopkgtest's output (last 60 lines):"
		tail -60 "$scratch/autopkgtest.log"
	fi
	exit "$bad"
fi

# ---------------------------------------------------------------------------
# Outer part.
# ---------------------------------------------------------------------------
# shellcheck source=test/lib/e2e.sh
. "$top/test/lib/e2e.sh"
e2e_args "$@"
"$top/test/sbuild/setup.sh"
e2e_install autopkgtest

rc=0
results=()
for user in nook-ci-sbuild root; do
	say "autopkgtest as $user through $bin"
	scratch=$(mktemp -d /var/tmp/nook-apt-e2e.XXXXXX)
	chmod 755 "$scratch"
	start=$(date +%s.%N)
	status=PASS
	unshare -m --propagation private "$self" --inner "$bin" "$user" "$scratch" || status=FAIL
	secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b - a}')
	[ "$status" = PASS ] || rc=1
	results+=("RESULT $user $status ${secs}s")
	rm -rf "$scratch"
done
printf '%s\n' "${results[@]}"
if [ "$rc" -eq 0 ]; then echo PASS; else echo FAIL; fi
exit "$rc"
