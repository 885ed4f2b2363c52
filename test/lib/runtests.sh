# shellcheck shell=bash
# Shared by test/all.sh and the VM stage's guest (test/vm/guest.sh): runs
# the test binaries in $bin as a user and sums up. The caller sets work (a
# scratch directory), bin (the test binaries and nook) and, optionally,
# only (the test binaries to run, by name without .test) and
# NOOK_TEST_RUN (a -test.run pattern), NOOK_TEST_SKIP (a -test.skip
# pattern: the caller says loudly what it leaves out), NOOK_TEST_TIMEOUT (default 15m)
# and logs_to (a directory each log is copied to as soon as it is written).

failed=0
summary=()

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
			LANG=C.UTF-8 NOOK_BIN="$bin/nook" CI="${CI:-}" "$@" "$t" -test.v -test.count=1 -test.timeout="${NOOK_TEST_TIMEOUT:-15m}" ${NOOK_TEST_RUN:+-test.run="$NOOK_TEST_RUN"} ${NOOK_TEST_SKIP:+-test.skip="$NOOK_TEST_SKIP"})
		local rc=0
		if [ "$user" = "-" ]; then
			(cd "$home" && "${cmd[@]}") >"$log" 2>&1 </dev/null || rc=$?
		else
			# In the user's delegated cgroup (test/setup-host.sh), as a
			# login manager would start a session: booted sessions need it.
			(cg=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
				[ -z "$cg" ] || [ ! -d "$cg/nook-ci/$user" ] || echo "$BASHPID" >"$cg/nook-ci/$user/cgroup.procs"
				cd "$home" && runuser -u "$user" -- "${cmd[@]}") >"$log" 2>&1 </dev/null || rc=$?
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
			echo "!!! $label: $(basename "$t") failed (rc $rc); what failed, then the end of its log:"
			grep -E -- '--- FAIL|_test\.go:[0-9]+: |^panic:' "$log" | grep -v -- '--- SKIP' | head -60
			echo "  ..."
			grep -v -- '^=== \(RUN\|PAUSE\|CONT\)' "$log" | tail -40
		fi
		[ -z "${logs_to:-}" ] || cp "$log" "$logs_to/"
	done
}

