#!/usr/bin/env bash
# sbuild through a schroot binary against sbuild's own unshare mode, side by
# side on the same chroot tarball and the same tiny package (issue 7).
#
#   sudo bench/sbuild.sh                      # the real /usr/bin/schroot
#   sudo bench/sbuild.sh /path/to/nook        # nook's schroot face
#   sudo RUNS=5 bench/sbuild.sh ...           # runs per mode (default 3)
# With a binary other than /usr/bin/schroot, the real schroot is measured
# too, in the same alternation (REAL=0 leaves it out).
#
# As nook-ci-sbuild (test/sbuild/setup.sh makes it: group sbuild, a
# subordinate id range, ~/.cache/sbuild/bookworm-amd64.tar -> the cached
# buildd tarball, which is where unshare mode looks):
#   schroot  test/sbuild/build.sh SCHROOT_BINARY nook-ci-sbuild; its "TIME
#            sbuild" line is the wall time of the sbuild command alone
#            (sbuild --chroot-mode=schroot -d bookworm --arch=amd64
#            --no-run-lintian --no-run-autopkgtest --no-run-piuparts).
#   unshare  the same sbuild command with --chroot-mode=unshare, timed the
#            same way, in a scratch build dir.
# The two modes alternate (schroot, unshare, schroot, ...) so that a change
# in the machine's load hits both alike. Then, in a private mount namespace
# with SCHROOT_BINARY over /usr/bin/schroot: one session begun, hyperfine
# measures `schroot --run-session -q -c SESSION -d / -- true` (50 runs, 3
# warm-up), the session is ended; begin and end are timed once.
# Prints a Markdown summary. Needs the network (apt-get update inside).
set -euo pipefail
[ "$(id -u)" -eq 0 ] || { echo "bench/sbuild.sh: run as root" >&2; exit 1; }
self=$(readlink -f "$0")
top=$(cd "$(dirname "$self")/.." && pwd)
# shellcheck source=test/sbuild/unpack-helper.sh
. "$top/test/sbuild/unpack-helper.sh"
user=nook-ci-sbuild
path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", b - a}'; }

# as_user CMD...: CMD as the bench user, in group sbuild, clean environment.
as_user() {
	local home
	home=$(getent passwd "$user" | cut -d: -f6)
	runuser -u "$user" -- env -i "HOME=$home" "PATH=$path" LANG=C.UTF-8 "USER=$user" "LOGNAME=$user" "$@"
}

# percall BIN OUT: runs inside a private mount namespace (see the end).
percall() {
	local bin=$1 out=$2 t0
	sid="" # global: the EXIT trap below runs after this function returns
	local is_nook=0
	if [ "$(readlink -f "$bin")" != "$(readlink -f /usr/bin/schroot)" ]; then
		mount --bind "$bin" /usr/bin/schroot
		is_nook=1
		show_unpack_helper "$bin" "$out" >/dev/null
	fi
	cd /
	t0=$(now)
	sid=$(as_user /usr/bin/schroot -c nook-ci-bookworm --begin-session)
	echo "begin $(elapsed "$t0" "$(now)")" >"$out/lifecycle"
	trap 'as_user /usr/bin/schroot -c "$sid" --end-session >/dev/null 2>&1 || true' EXIT
	local cmds=("/usr/bin/schroot --run-session -q -c $sid -d / -- true")
	if [ "$is_nook" = 1 ]; then
		# nook: also without the session's held user namespace (env's
		# own exec, about 2 ms, is in that line).
		cmds+=("env NOOK_USERNS_IDLE=0 /usr/bin/schroot --run-session -q -c $sid -d / -- true")
	fi
	as_user hyperfine -N --runs 50 --warmup 3 --export-json "$out/percall.json" "${cmds[@]}" >&2
	t0=$(now)
	as_user /usr/bin/schroot -c "$sid" --end-session
	echo "end $(elapsed "$t0" "$(now)")" >>"$out/lifecycle"
	trap - EXIT
}
if [ "${1:-}" = __percall ]; then
	shift
	percall "$@"
	exit 0
fi

bin=$(readlink -f "${1:-/usr/bin/schroot}")
runs=${RUNS:-3}
[ -x "$bin" ] || { echo "bench/sbuild.sh: $bin is not executable" >&2; exit 1; }
"$top/test/sbuild/setup.sh" >/dev/null

work=$(mktemp -d /var/tmp/nook-bench-sbuild.XXXXXX)
chmod 0755 "$work"
trap 'rm -rf "$work"' EXIT
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# unshare_run: one sbuild --chroot-mode=unshare build; prints its wall time.
unshare_run() {
	local d=$work/unshare t0 t1 rc=0
	rm -rf "$d"
	mkdir -p "$d"
	chmod 0755 "$d"
	"$top/test/sbuild/mkpkg.sh" "$d/src" >/dev/null
	install -d -o "$user" -g "$(id -g "$user")" "$d/build"
	t0=$(now)
	(cd "$d/build" && as_user sbuild --chroot-mode=unshare -d bookworm --arch=amd64 \
		--no-run-lintian --no-run-autopkgtest --no-run-piuparts "$d/src/nookhello_1.0.dsc" \
		>"$d/out" 2>&1 </dev/null) || rc=$?
	t1=$(now)
	if [ "$rc" -ne 0 ] || [ ! -f "$d/build/nookhello_1.0_amd64.deb" ]; then
		tail -40 "$d/build/nookhello_1.0_amd64.build" "$d/out" >&2 || true
		echo "bench/sbuild.sh: unshare-mode build failed (rc $rc)" >&2
		exit 1
	fi
	elapsed "$t0" "$t1"
	rm -rf "$d"
}

# schroot_run BIN: one build.sh run; prints the sbuild phase's wall time.
schroot_run() {
	local b=$1 out=$work/schroot.out
	if ! NOOK_SBUILD_QUIET=1 "$top/test/sbuild/build.sh" "$b" "$user" >"$out" 2>&1; then
		tail -60 "$out" >&2
		echo "bench/sbuild.sh: build through $b failed" >&2
		exit 1
	fi
	awk '$1 == "TIME" && $2 == "sbuild" {print $3}' "$out"
}

real=/usr/bin/schroot
with_real=0
if [ "${REAL:-1}" = 1 ] && [ "$bin" != "$(readlink -f "$real")" ]; then
	with_real=1
fi
declare -a s_times u_times r_times
for i in $(seq 1 "$runs"); do
	t=$(schroot_run "$bin")
	s_times+=("$t")
	echo "run $i: schroot mode ($bin) $t s" >&2
	if [ "$with_real" = 1 ]; then
		t=$(schroot_run "$real")
		r_times+=("$t")
		echo "run $i: schroot mode (real schroot) $t s" >&2
	fi
	t=$(unshare_run)
	u_times+=("$t")
	echo "run $i: unshare mode $t s" >&2
done

echo "per-call cost: one session, hyperfine" >&2
chmod 0777 "$work" # the bench user writes hyperfine's JSON here
unshare --mount --propagation private -- bash "$self" __percall "$bin" "$work"
if [ "$with_real" = 1 ]; then
	mkdir -p "$work/real"
	chmod 0777 "$work/real"
	unshare --mount --propagation private -- bash "$self" __percall "$real" "$work/real"
fi
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

stats() { printf '%s\n' "$@" | awk '{s+=$1; if (NR==1 || $1<m) m=$1} END{printf "%.1f %.1f", s/NR, m}'; }
read -r s_mean s_min <<<"$(stats "${s_times[@]}")"
read -r u_mean u_min <<<"$(stats "${u_times[@]}")"
percall_of() {
	python3 -c '
import json,sys
rs=json.load(open(sys.argv[1]))["results"]
i=int(sys.argv[2]) if len(sys.argv) > 2 else 0
if i >= len(rs):
    print("- - -"); sys.exit()
r=rs[i]
print("%.1f %.1f %.1f" % (r["mean"]*1000, r["stddev"]*1000, r["min"]*1000))' "$1" "${2:-0}"
}
read -r pc_mean pc_sd pc_min <<<"$(percall_of "$work/percall.json")"
read -r pc0_mean pc0_sd pc0_min <<<"$(percall_of "$work/percall.json" 1)"
begin=$(awk '$1=="begin"{print $2}' "$work/lifecycle")
end=$(awk '$1=="end"{print $2}' "$work/lifecycle")
real_rows=""
if [ "$with_real" = 1 ]; then
	read -r r_mean r_min <<<"$(stats "${r_times[@]}")"
	read -r rpc_mean rpc_sd rpc_min <<<"$(percall_of "$work/real/percall.json")"
	real_rows="| --chroot-mode=schroot via the real schroot 1.6 | ${r_times[*]} | $r_mean | $r_min |"
	real_pc="real schroot: per call mean $rpc_mean ms ± $rpc_sd, min $rpc_min ms; begin $(awk '$1=="begin"{print $2}' "$work/real/lifecycle") s, end $(awk '$1=="end"{print $2}' "$work/real/lifecycle") s"
fi

cat <<REPORT

### sbuild 0.85, nookhello, $runs runs each ($(date -u +%Y-%m-%d), $(nproc) CPUs)
schroot binary: $bin
load average at start $load_start, at end $load_end

| mode | runs (s) | mean (s) | min (s) |
|---|---|---|---|
| --chroot-mode=schroot via $(basename "$bin") | ${s_times[*]} | $s_mean | $s_min |
${real_rows}
| --chroot-mode=unshare | ${u_times[*]} | $u_mean | $u_min |

$(basename "$bin") / unshare: mean $(awk -v a="$s_mean" -v b="$u_mean" 'BEGIN{printf "%.2f", a/b}'), min $(awk -v a="$s_min" -v b="$u_min" 'BEGIN{printf "%.2f", a/b}')

per call, \`schroot --run-session -q -c SESSION -d / -- true\` (hyperfine, 50 runs): mean $pc_mean ms ± $pc_sd, min $pc_min ms
(with NOOK_USERNS_IDLE=0 through env: mean $pc0_mean ms ± $pc0_sd, min $pc0_min ms)
session begin $begin s, end $end s
${real_pc:-}
REPORT
