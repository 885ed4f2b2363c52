#!/usr/bin/env bash
# guest.sh: the VM stage's work inside the VM, as root. nook-vm.service
# (test/vm/image.sh) runs it from the run disk, mounted on /nook, which
# run.sh filled: bin/ (nook and the test binaries, built on the host),
# test/ (the repository's test scripts), bench/, config (what to run, as
# shell variables; see run.sh) and an empty results/. Results go to
# /nook/results/: guest.log (this script's output, also on the serial
# console), the logs of every test binary, summary, and status (0 when
# everything passed), which run.sh reads after the VM is off.
set -uo pipefail
nook=/nook
res=$nook/results
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LANG=C.UTF-8 CI=true NOOK_VM_GUEST=1
# shellcheck source=/dev/null
. "$nook/config"
say() { printf '\n=== [vm %s] %s\n' "$(uname -r)" "$*"; }

# The test users, and the unprivileged users sbuild builds as (they must be
# in group sbuild, with a home sbuild can write its configuration under).
sbuild_users() {
	local u
	for u in nook-ci-sub nook-ci-nosub; do
		usermod -a -G sbuild "$u"
		install -d -o "$u" -g "$u" -m 0755 "/home/$u"
		usermod -d "/home/$u" "$u"
	done
	# Without subordinate ids a session maps one id, and apt's download
	# sandbox cannot switch to _apt (docs/sessions.md, "Single-id mode"):
	# the user tells apt to stay root, in the session sbuild sets up.
	cat >/home/nook-ci-nosub/.sbuildrc <<'RC'
$external_commands = {
	'chroot-setup-commands' => [
		['sh', '-c', 'echo "APT::Sandbox::User \"root\";" >/etc/apt/apt.conf.d/90nook-single-id'],
	],
};
1;
RC
	chown nook-ci-nosub: /home/nook-ci-nosub/.sbuildrc
}

# leftovers_snapshot FILE: what must look the same after the tests: the
# mount points, the entries of the shared scratch directories, nook's
# sessions as every user, processes of the test users.
leftovers_snapshot() {
	{
		echo "# mounts"
		awk '{print $5}' /proc/self/mountinfo | sort
		echo "# scratch"
		ls -1A /tmp /var/tmp /dev/shm /run/user 2>/dev/null | grep -v '^nook-vm$' | sort
		echo "# sessions"
		for u in root nook-ci-sub nook-ci-nosub nook-ci-sbuild; do
			id "$u" >/dev/null 2>&1 || continue
			runuser -u "$u" -- env HOME="$(getent passwd "$u" | cut -d: -f6)" "$bin/nook" session list 2>/dev/null | sed "s/^/$u: /"
		done
		echo "# processes"
		for u in nook-ci-sub nook-ci-nosub nook-ci-sbuild; do
			id "$u" >/dev/null 2>&1 || continue
			pgrep -a -u "$u" | sed "s/^/$u: /"
		done
	} >"$1"
}

main() {
	say "$(. /etc/os-release && echo "$PRETTY_NAME"), $(nproc) cpus, $(free -m | awk '/^Mem/{print $2}') MiB"
	local t0 rc=0
	t0=$(date +%s)
	work=/var/tmp/nook-vm
	bin=$work/bin
	rm -rf "$work"
	mkdir -p "$work"
	cp -a "$nook/bin" "$bin"
	chmod -R a+rX "$work"

	say "setup: packages, users, tarballs (all in the image: nothing is fetched)"
	"$nook/test/setup-host.sh" >"$res/setup.log" 2>&1 || { echo "setup-host.sh failed:"; tail -20 "$res/setup.log"; return 1; }
	if [ "${SBUILD:-0}" = 1 ]; then
		"$nook/test/sbuild/setup.sh" >>"$res/setup.log" 2>&1 || { echo "sbuild/setup.sh failed:"; tail -20 "$res/setup.log"; return 1; }
		sbuild_users
	fi
	leftovers_snapshot "$work/before"

	# shellcheck source=test/lib/runtests.sh
	. "$nook/test/lib/runtests.sh"
	export NOOK_TEST_TIMEOUT=${TEST_TIMEOUT:-30m} NOOK_TEST_RUN=${TEST_RUN:-} NOOK_TEST_SKIP=${TEST_SKIP:-}
	if [ -n "$NOOK_TEST_SKIP" ]; then
		say "NOT RUN in this VM (they run on the host three ways; nothing in them differs by kernel): tests matching $NOOK_TEST_SKIP"
	fi
	logs_to=$res
	# Software emulation: time limits in tests stretch by this much.
	local scale=NOOK_TEST_TIME_SCALE=${TIME_SCALE:-10}
	only=${TESTS:-}
	if [ -n "$only" ]; then
		say "tests as root: $only"
		run_as - root "$scale"
		say "tests as nook-ci-sub (has subordinate ids)"
		run_as nook-ci-sub sub NOOK_TEST_EXPECT_SUBIDS=1 "$scale"
		say "tests as nook-ci-nosub (no subordinate ids)"
		run_as nook-ci-nosub nosub "$scale"
	fi
	# Parts of other suites: NAME:PATTERN, three ways.
	local part
	for part in ${PART_TESTS:-}; do
		only=${part%%:*} NOOK_TEST_RUN=${part#*:}
		say "$only, the tests matching $NOOK_TEST_RUN, three ways"
		run_as - root "$scale"
		run_as nook-ci-sub sub NOOK_TEST_EXPECT_SUBIDS=1 "$scale"
		run_as nook-ci-nosub nosub "$scale"
	done
	only=${INIT_TESTS:-}
	NOOK_TEST_RUN=${INIT_TEST_RUN:-}
	if [ -n "$only" ]; then
		say "again through the Go init (NOOK_ENGINE=init): $only${NOOK_TEST_RUN:+, tests matching $NOOK_TEST_RUN}"
		run_as - root-init NOOK_ENGINE=init "$scale"
		run_as nook-ci-sub sub-init NOOK_TEST_EXPECT_SUBIDS=1 NOOK_ENGINE=init "$scale"
		run_as nook-ci-nosub nosub-init NOOK_ENGINE=init "$scale"
	fi
	[ "$failed" -eq 0 ] || rc=1

	if [ "${SBUILD:-0}" = 1 ]; then
		say "sbuild through nook as schroot, as ${SBUILD_USERS:-nook-ci-sub}"
		if NOOK_SBUILD_LIGHT=1 NOOK_SBUILD_USERS="${SBUILD_USERS:-nook-ci-sub}" "$nook/test/sbuild/ci.sh" "$bin/nook" 2>&1 |
			tee "$res/sbuild.log" | grep --line-buffered -E '^=== sbuild end|^TIME (sbuild|total)|^PASS|^FAIL|^!!!'; then
			summary+=("sbuild     test/sbuild/ci.sh (${SBUILD_USERS:-nook-ci-sub})  pass")
		else
			summary+=("sbuild     test/sbuild/ci.sh (${SBUILD_USERS:-nook-ci-sub})  FAIL")
			rc=1
			tail -80 "$res/sbuild.log"
		fi
		sed -n '/=== sbuild end to end: summary/,$p' "$res/sbuild.log"
	fi

	if [ -x "$nook/custom.sh" ]; then
		say "custom: $nook/custom.sh"
		NOOK="$bin/nook" BIN="$bin" RESULTS="$res" "$nook/custom.sh" || rc=1
	fi

	say "leftovers"
	leftovers_snapshot "$work/after"
	if ! diff -u "$work/before" "$work/after" >"$res/leftovers.diff"; then
		echo "!!! left behind after the tests:"
		cat "$res/leftovers.diff"
		summary+=("leftovers  mounts, scratch, sessions, processes  FAIL")
		rc=1
	else
		summary+=("leftovers  mounts, scratch, sessions, processes  none")
	fi

	say "summary ($(($(date +%s) - t0)) s in the VM)"
	printf '%s\n' "${summary[@]}" | tee "$res/summary"
	return "$rc"
}

main 2>&1 | tee "$res/guest.log"
rc=${PIPESTATUS[0]}
echo "$rc" >"$res/status"
exit "$rc"
