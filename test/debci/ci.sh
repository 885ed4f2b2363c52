#!/usr/bin/env bash
# ci.sh NOOK_BINARY: Debian 12's debci (3.6) end to end through nook, with
# each of two debci backends (NOOK_DEBCI_BACKEND=nook or schroot for one;
# both by default, nook's first): nook's own (debci/nook, which nook's
# package installs as /usr/share/debci/backends/nook: create-testbed makes
# the testbed as the worker's user, test-package runs autopkgtest through
# autopkgtest-virt-nook) and debci's schroot backend unchanged with nook
# standing in for schroot (issue 21, part 1). Run as root;
# test/debci/setup.sh prepares the machine (packages, the users
# nook-ci-dw1 and nook-ci-dw2, RabbitMQ on loopback, the schroot backend's
# testbed tarball) and is run first.
#
# What follows describes the schroot backend's run; the nook backend's
# differs in that each worker's PATH has nook and autopkgtest-virt-nook
# instead of schroot, its testbed is made by the backend's create-testbed
# as nook-ci-dw1 (and the tarball given to nook-ci-dw2, as to a second
# machine), and the killed worker's restart runs nook session end
# --orphans where the schroot backend's runs schroot --end-session
# --all-sessions.
#
# Two `debci worker` daemons run, as on two machines: each as its own
# unprivileged user (nook-ci-dw1, nook-ci-dw2, each with subordinate ids), in
# its own UTS namespace named after it (debci records `hostname -s` as the
# job's worker), with debci's own schroot backend unchanged
# (/usr/share/debci/backends/schroot/test-package: `debci-autopkgtest --user
# debci --apt-upgrade … -- schroot --session-id=… debci-bookworm-amd64`).
# Only for that worker, "schroot" is nook: a directory first on its PATH
# holds a schroot symlink to NOOK_BINARY, and NOOK_SCHROOT_ETC points nook
# at the worker's own /etc/schroot: the definition create-testbed writes
# (same name, profile debci, users, root-users) but type=file on the cached
# tarball test/debci/setup.sh made, where create-testbed (as root:
# debootstrap, chroot, /etc/schroot) writes type=directory on a tree in
# /var/lib/debci/chroots; nook unpacks the tarball as the worker. The host's
# /usr/bin/schroot and /etc/schroot are not touched.
#
# debci-collector runs as user debci with this run's data directory; jobs
# are enqueued with `debci enqueue` (as debci: its database is the
# collector's). The packages: Debian's hello, gzip and sed (real
# autopkgtests, fetched with apt-get source in the testbed as on
# ci.debian.net), and nook-ci-debci-fails, test/autopkgtest/pkg renamed,
# whose "fails" test exits 3 on purpose; its source is served from a
# loopback HTTP repository that a setup command (debci_autopkgtest_args)
# adds to each testbed's apt sources.
#
# Checked: every job's result reaches the collector with the status debci
# derives from autopkgtest's exit code (hello pass, the failing package
# fail, every status one of pass/fail/neutral and equal to the one its
# exit code gives); jobs ran on both workers; each result has its log
# (log.gz with autopkgtest's summary) and artifacts; nothing is left on
# either worker (its nook session list empty, no process of its user or
# its subordinate ids but the daemon, no new mount point).
# Then the kill: two packages enqueued, and once a test is running in a
# nook session on nook-ci-dw1, every process of that worker (its user and
# its subordinate ids: what a machine's crash or systemd's control-group
# kill ends) is killed with SIGKILL. Checked: the other worker finishes its
# job; the killed job's message, never acknowledged, is delivered again and
# its result reaches the collector; the killed worker's restart begins
# with what its service would run first (above), which ends the session
# the kill left; after the restart and that job, nothing is left on either
# worker.
#
# Output: check lines, "JOBS n in s s: x jobs/min" for the first batch and
# "RESULT debci PASS|FAIL <seconds>"; exit status 0 only when all passed.
set -euo pipefail
self=$(readlink -f "$0")
here=$(dirname "$self")
top=$(cd "$here/../.." && pwd)
# shellcheck source=test/lib/e2e.sh
. "$top/test/lib/e2e.sh"
e2e_args "$@"
# Both backends by default, each a run of this script of its own.
if [ -z "${NOOK_DEBCI_BACKEND:-}" ]; then
	rc=0
	"$here/setup.sh"
	for b in ${NOOK_DEBCI_BACKENDS:-nook schroot}; do
		NOOK_DEBCI_BACKEND=$b NOOK_DEBCI_SETUP_DONE=1 "$self" "$@" || rc=1
	done
	exit "$rc"
fi
backend=$NOOK_DEBCI_BACKEND
case $backend in nook | schroot) ;; *) echo "$0: NOOK_DEBCI_BACKEND=$backend: nook or schroot" >&2; exit 2 ;; esac
say() { printf '=== debci-e2e [%s]: %s\n' "$backend" "$*"; }
t_start=$(date +%s)
[ -n "${NOOK_DEBCI_SETUP_DONE:-}" ] || "$here/setup.sh"

workers=(nook-ci-dw1 nook-ci-dw2)
chroot=debci-bookworm-amd64
testbed=/var/cache/nook-ci/debci-bookworm-amd64.tar
failpkg=nook-ci-debci-fails
run=$(mktemp -d /var/tmp/nook-debci-e2e.XXXXXX)
chmod 755 "$run"
tag=nook-ci-$$
export debci_amqp_queue=$tag-tests-amd64-$backend
results_queue=$tag-results
path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
pids=()

# --- this run's debci configuration ------------------------------------------
mkdir -p "$run/config" "$run/data"
cat >"$run/config/debci.conf" <<CONF
debci_suite=bookworm
debci_arch=amd64
debci_backend=$backend
debci_amqp_server=amqp://127.0.0.1
debci_amqp_results_queue=$results_queue
debci_data_basedir=$run/data
debci_autopkgtest_args=--setup-commands=$run/add-repo.sh
CONF
chown debci:debci "$run/data"
# Everything debci runs gets these: its configuration and queue.
denv=(env -i "PATH=$path" LANG=C.UTF-8 "debci_config_dir=$run/config" "debci_amqp_queue=$debci_amqp_queue")
as_debci() { runuser -u debci -- "${denv[@]}" HOME=/usr/share/debci USER=debci "$@"; }

# --- the on-purpose failing package, served on loopback --------------------------
mkdir -p "$run/repo" "$run/src"
cp -r "$top/test/autopkgtest/pkg" "$run/src/$failpkg-1.0"
sed -i "s/nookcheck/$failpkg/g" "$run/src/$failpkg-1.0/debian/control" "$run/src/$failpkg-1.0/debian/changelog"
(cd "$run/src" && dpkg-source -q -b "$failpkg-1.0" >/dev/null 2>&1 && mv ./*.dsc ./*.tar.* "$run/repo/")
(cd "$run/repo" && apt-ftparchive -q sources . >Sources)
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
(cd "$run/repo" && exec /usr/bin/python3 -m http.server --bind 127.0.0.1 "$port") >"$run/http.log" 2>&1 &
pids+=($!)
cat >"$run/add-repo.sh" <<SH
echo 'deb-src [trusted=yes] http://127.0.0.1:$port/ ./' >/etc/apt/sources.list.d/nook-ci-debci.list
apt-get update -q -o APT::Update::Error-Mode=any >/dev/null
SH

# --- the real schroot, for the comparison (NOOK_BINARY /usr/bin/schroot) ---------------
# The schroot backend's testbed as debci's create-testbed writes it
# (type=directory, union-type=overlay, profile debci), on the same tree as
# nook's runs: the testbed tarball unpacked once under /var/lib/debci/chroots
# (create-testbed's own debootstrap adds a debug-symbols source this
# machine cannot reach, so its tree could not be made here), its users the
# two workers. This changes the host's /etc/schroot: a benchmark, not CI.
real=
if [ "$bin" = /usr/bin/schroot ]; then
	[ "$backend" = schroot ] || { echo "$0: the real schroot goes with NOOK_DEBCI_BACKEND=schroot" >&2; exit 2; }
	real=1
	tree=/var/lib/debci/chroots/$chroot-nook-ci
	if ! [ -x "$tree/usr/bin/apt-get" ] || [ "$testbed" -nt "$tree" ]; then
		say "unpacking $testbed into $tree for the real schroot"
		rm -rf "$tree"
		mkdir -p "$tree"
		tar -C "$tree" -xpf "$testbed"
	fi
	cat >"/etc/schroot/chroot.d/$chroot" <<CONF
[$chroot]
type=directory
profile=debci
description=debci bookworm/amd64 chroot
directory=$tree
users=nook-ci-dw1,nook-ci-dw2
groups=nook-ci-dw1,nook-ci-dw2
root-users=nook-ci-dw1,nook-ci-dw2
source-root-users=nook-ci-dw1,nook-ci-dw2
root-groups=root
union-type=overlay
CONF
fi

# --- each worker's schroot, or nook's backend: nook ----------------------------------
for w in "${workers[@]}"; do
	d=$run/$w
	mkdir -p "$d/bin" "$d/etc/chroot.d"
	if [ "$backend" = nook ]; then
		# As nook's package installs them: nook, and nook called as
		# autopkgtest's virtualisation server.
		ln -s "$bin" "$d/bin/nook"
		ln -s "$bin" "$d/bin/autopkgtest-virt-nook"
		chmod -R a+rX "$d"
		continue
	fi
	ln -s "$bin" "$d/bin/schroot"
	[ -z "$real" ] || continue
	cp -r /etc/schroot/debci "$d/etc/debci"
	cat >"$d/etc/chroot.d/$chroot" <<CONF
[$chroot]
type=file
file=$testbed
profile=debci
description=debci bookworm/amd64 chroot
users=$w
groups=$w
root-users=$w
source-root-users=$w
root-groups=root
union-type=overlay
CONF
	chmod -R a+rX "$d"
done
wenv() { # wenv WORKER: the worker's environment
	local home
	home=$(getent passwd "$1" | cut -d: -f6)
	printf '%s\n' "${denv[@]}" "HOME=$home" "USER=$1" "LOGNAME=$1" \
		"PATH=$run/$1/bin:$path" "NOOK_SCHROOT_ETC=$run/$1/etc" TMPDIR=/tmp
}
as_worker() { # as_worker WORKER CMD...
	local w=$1 e
	shift
	mapfile -t e < <(wenv "$w")
	(cd / && runuser -u "$w" -- "${e[@]}" "$@")
}
start_worker() { # start_worker WORKER: the daemon, in a UTS namespace of its own
	local w=$1 e
	mapfile -t e < <(wenv "$w")
	(cd / && exec unshare --uts sh -c 'hostname "$0" && exec setsid runuser -u "$0" -- "$@"' \
		"$w" "${e[@]}" debci worker) >>"$run/$w.log" 2>&1 </dev/null &
	pids+=($!)
}
# Processes of a worker: its user's and its subordinate ids'.
worker_procs() {
	local uid sub n
	uid=$(id -u "$1")
	IFS=: read -r _ sub n < <(grep "^$1:" /etc/subuid)
	ps -e -o pid=,uid= | awk -v u="$uid" -v s="$sub" -v n="$n" '$2 == u || ($2 >= s && $2 < s + n) {print $1}'
}
daemon_pid() { pgrep -u "$1" -x amqp-consume | head -1; }
sessions() {
	if [ -n "$real" ]; then
		# The real schroot's sessions are the machine's: those of the
		# testbed that this worker's user began.
		local n
		for n in $(schroot --list --all-sessions 2>/dev/null | sed -n "s/^session:\($chroot-.*\)/\1/p"); do
			[ "$(schroot --info --chroot "session:$n" 2>/dev/null | awk '$1 == "User" {print $2; exit}')" != "$1" ] || echo "$n"
		done
	else
		as_worker "$1" "$bin" session list 2>/dev/null || true
	fi
}
mounts() { awk '{print $5}' /proc/self/mountinfo | sort; }

cleanup() {
	local w p
	for w in "${workers[@]}"; do
		for p in $(worker_procs "$w"); do kill -9 "$p" 2>/dev/null || true; done
	done
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	for w in "${workers[@]}"; do
		for s in $(sessions "$w" | awk '{print $1}'); do
			if [ -n "$real" ]; then
				as_worker "$w" schroot --end-session --chroot "$s" >/dev/null 2>&1 || true
			else
				as_worker "$w" "$bin" session end "$s" >/dev/null 2>&1 || true
			fi
		done
	done
	rabbitmqctl -q delete_queue "$debci_amqp_queue" >/dev/null 2>&1 || true
	rabbitmqctl -q delete_queue "$results_queue" >/dev/null 2>&1 || true
	rm -rf "$run"
}
trap cleanup EXIT

for w in "${workers[@]}"; do
	left=$(sessions "$w")
	[ -z "$left" ] || { echo "!!!  $w has nook sessions before the test: $left"; exit 1; }
done
mounts >"$run/mounts.before"

# --- nook's backend: installed as nook's package installs it; its testbed -------------
if [ "$backend" = nook ]; then
	nb=/usr/share/debci/backends/nook
	install -d "$nb"
	install -m 0644 "$top/debci/nook/environment.sh" "$nb/"
	install -m 0755 "$top/debci/nook/create-testbed" "$top/debci/nook/test-package" "$nb/"
	say "create-testbed as nook-ci-dw1 (mmdebstrap as that user, no root)"
	t0=$(date +%s)
	ok=1
	as_worker nook-ci-dw1 "$nb/create-testbed" --suite bookworm >"$run/create-testbed.log" 2>&1 || ok=
	check "create-testbed as nook-ci-dw1 ($(($(date +%s) - t0)) s)" "$ok"
	[ -n "$ok" ] || { tail -30 "$run/create-testbed.log"; exit 1; }
	# The second machine gets the same tarball (one mmdebstrap run is
	# enough to show the recipe) and defines it as create-testbed does.
	nchroot=debci-nook-bookworm-amd64
	cache_of() { echo "$(getent passwd "$1" | cut -d: -f6)/.cache/debci/nook/$nchroot.tar"; }
	src=$(cache_of nook-ci-dw1) dst=$(cache_of nook-ci-dw2)
	runuser -u nook-ci-dw2 -- mkdir -p "$(dirname "$dst")"
	install -o nook-ci-dw2 -g nook-ci-dw2 -m 0644 "$src" "$dst"
	as_worker nook-ci-dw2 "$bin" chroot remove "$nchroot" >/dev/null 2>&1 || true
	ok=1
	as_worker nook-ci-dw2 "$bin" chroot add "$nchroot" "$dst" >/dev/null || ok=
	check "nook-ci-dw2 defines the same testbed" "$ok"
fi

# --- daemons ---------------------------------------------------------------------------
say "debci migrate; collector; workers ${workers[*]}"
as_debci debci migrate >"$run/migrate.log" 2>&1
(cd /usr/share/debci && exec runuser -u debci -- "${denv[@]}" HOME=/usr/share/debci USER=debci debci collector) \
	>"$run/collector.log" 2>&1 </dev/null &
pids+=($!)
for w in "${workers[@]}"; do start_worker "$w"; done
for _ in $(seq 60); do
	[ -n "$(daemon_pid nook-ci-dw1)" ] && [ -n "$(daemon_pid nook-ci-dw2)" ] &&
		rabbitmqctl -q list_queues name consumers 2>/dev/null | grep -q "^$debci_amqp_queue[[:space:]]2$" && break
	sleep 1
done
check "both workers consume $debci_amqp_queue" \
	"$(rabbitmqctl -q list_queues name consumers | grep -q "^$debci_amqp_queue[[:space:]]2$" && echo 1)"

db() { # db RUBY ARG...: RUBY with debci's models loaded, ARGs as ARGV
	local code=$1
	shift
	as_debci ruby -e "require 'debci/job'; $code" "$@"
}
wait_jobs() { # wait_jobs SECONDS ID...: until every job has a status
	local limit=$1 t0 pending
	shift
	[ $# -gt 0 ] || return 1
	t0=$(date +%s)
	while :; do
		pending=$(db "puts Debci::Job.where(run_id: ARGV.map(&:to_i), status: nil).count" "$@" 2>/dev/null || echo x)
		[ "$pending" = 0 ] && return 0
		[ $(($(date +%s) - t0)) -lt "$limit" ] || return 1
		sleep 2
	done
}
enqueue() { # enqueue PKG...: prints the new jobs' ids
	local before
	before=$(db 'puts Debci::Job.maximum(:run_id) || 0')
	as_debci debci enqueue "$@" >>"$run/enqueue.log" 2>&1
	db "puts Debci::Job.where('run_id > ?', $before).order(:run_id).pluck(:run_id)"
}
exit_status() { # the status debci-worker's case gives autopkgtest's exit code
	case $1 in 0 | 2) echo pass ;; 4 | 6 | 12 | 14) echo fail ;; 8) echo neutral ;; *) echo tmpfail ;; esac
}
check_results() { # check_results ID...: each job's status, worker, log and artifacts
	local id pkg st wk dir code
	for id in "$@"; do
		read -r pkg st wk < <(db 'j = Debci::Job.find(ARGV[0].to_i); puts [j.package.name, j.status || "pending", j.worker ? j.worker.name : "-"].join(" ")' "$id" || echo "? ? ?")
		dir=$(db 'puts Debci::Job.find(ARGV[0].to_i).autopkgtest_data_dir' "$id" || echo /nonexistent)
		code=$(tar -xOzf "$dir/artifacts.tar.gz" exitcode 2>/dev/null | head -1 || true)
		printf '     job %s %-22s %-8s worker %-12s exit %s\n' "$id" "$pkg" "$st" "$wk" "${code:-?}"
		echo "$id $pkg $st $wk" >>"$run/jobs"
		if [ "$st" = tmpfail ]; then
			echo "     job $id's log (last 8 lines):"
			{ zcat "$dir/log.gz" 2>/dev/null || tar -xOzf "$dir/artifacts.tar.gz" log 2>/dev/null; } | tail -8 | sed 's/^/       /' || true
		fi
		check "job $id ($pkg): status $st is autopkgtest's exit ${code:-?} as debci maps it" \
			"$([ -n "$code" ] && [ "$st" = "$(exit_status "$code")" ] && echo 1)"
		case $pkg in
		hello) check "hello passed" "$([ "$st" = pass ] && echo 1)" ;;
		"$failpkg") check "$failpkg failed (its test exits 3)" "$([ "$st" = fail ] && echo 1)" ;;
		esac
		check "job $id: log.gz holds autopkgtest's summary" \
			"$(zcat "$dir/log.gz" 2>/dev/null | grep -q '@@@@@@@@@@@@@@@@@@@@ summary' && echo 1)"
		check "job $id: artifacts hold duration and testpkg-version" \
			"$(tar -tzf "$dir/artifacts.tar.gz" 2>/dev/null | grep -c -E '(^|/)(duration|testpkg-version)$' | grep -qx 2 && echo 1)"
		if [ "$pkg" = "$failpkg" ]; then
			check "job $id: the test's artifact came back (artifacts/note.txt written by debci)" \
				"$(tar -xOzf "$dir/artifacts.tar.gz" --wildcards '*artifacts/note.txt' 2>/dev/null | grep -qx 'artifact written by debci' && echo 1)"
			check "job $id: the failing test's line in the summary" \
				"$(zcat "$dir/log.gz" 2>/dev/null | grep -qE '^fails +FAIL non-zero exit status 3' && echo 1)"
		fi
	done
}
check_clean() { # check_clean WHEN: nothing left on either worker
	local w s p extra
	for w in "${workers[@]}"; do
		s=$(sessions "$w")
		check "$1: $w's nook session list is empty${s:+: $s}" "$([ -z "$s" ] && echo 1)"
		p=$(daemon_pid "$w")
		extra=$(worker_procs "$w" | grep -vx "${p:-none}" || true)
		check "$1: no process of $w (or its subordinate ids) but the daemon${extra:+: $extra}" "$([ -z "$extra" ] && echo 1)"
		# shellcheck disable=SC2086 # a list of pids
		[ -z "$extra" ] || ps -o pid=,user=,args= -p $extra || true
	done
	extra=$(comm -13 "$run/mounts.before" <(mounts))
	check "$1: no mount point added${extra:+: $extra}" "$([ -z "$extra" ] && echo 1)"
}
wait_idle() { # until both workers have nothing but the daemon (the end of a job's clean-up)
	local w p n
	# nook's user-namespace holder outlives a session's last command by a
	# minute (docs/sessions.md), so allow for that.
	for n in $(seq 90); do
		p=0
		for w in "${workers[@]}"; do
			[ -z "$(worker_procs "$w" | grep -vx "$(daemon_pid "$w")")" ] || p=1
		done
		[ "$p" = 1 ] || return 0
		sleep 1
	done
	[ "$n" ]
}

# --- batch: several packages at once ----------------------------------------------------
pkgs=(hello gzip sed "$failpkg")
say "enqueue ${pkgs[*]}"
t0=$(date +%s.%N)
mapfile -t ids < <(enqueue "${pkgs[@]}")
check "debci enqueue made ${#pkgs[@]} jobs (${ids[*]})" "$([ ${#ids[@]} = ${#pkgs[@]} ] && echo 1)"
done_ok=1
wait_jobs 1200 "${ids[@]}" || done_ok=
secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b - a}')
check "every job's result reached the collector (${secs}s)" "$done_ok"
check_results "${ids[@]}"
nw=$(awk '{print $4}' "$run/jobs" | sort -u | grep -c '^nook-ci-dw[12]$' || true)
check "the jobs ran on both workers ($(awk '{print $4}' "$run/jobs" | sort | uniq -c | tr -s ' ' | paste -sd,))" "$([ "$nw" = 2 ] && echo 1)"
printf 'JOBS %d in %s s: %s jobs/min through %s, debci backend %s (2 workers)\n' "${#ids[@]}" "$secs" \
	"$(awk -v n=${#ids[@]} -v s="$secs" 'BEGIN{printf "%.2f", n * 60 / s}')" "$([ -n "$real" ] && echo "the real schroot" || echo nook)" "$backend"
wait_idle || true
check_clean "after the batch"

# --- kill -9 one worker mid-test --------------------------------------------------------
say "kill: enqueue hello and $failpkg, SIGKILL nook-ci-dw1 once its test runs in a nook session"
: >"$run/jobs"
mapfile -t kids < <(enqueue hello "$failpkg")
victim=
for _ in $(seq 300); do
	if [ -n "$(sessions nook-ci-dw1)" ] && [ -n "$(sessions nook-ci-dw2)" ]; then victim=nook-ci-dw1; break; fi
	sleep 1
done
if [ -z "$victim" ]; then
	check "both workers had a job in a nook session within 300 s" ""
else
	sleep 5 # into the test proper: autopkgtest is installing and running by now
	vsess=$(sessions nook-ci-dw1 | awk '{print $1}' | paste -sd' ')
	say "SIGKILL to every process of nook-ci-dw1 (session $vsess)"
	# In rounds: a process may fork between the listing and its kill.
	for _ in $(seq 20); do
		procs=$(worker_procs nook-ci-dw1)
		[ -n "$procs" ] || break
		for p in $procs; do kill -9 "$p" 2>/dev/null || true; done
		sleep 0.2
	done
	sleep 2
	check "nook-ci-dw1 has no process after the kill" "$([ -z "$(worker_procs nook-ci-dw1)" ] && echo 1)"
	left=$(sessions nook-ci-dw1)
	echo "     nook-ci-dw1's nook sessions right after the kill: ${left:-none}"
	# What the worker's service runs as it starts (docs/scale-out.md):
	# with nook's backend, nook session end --orphans (the sessions of
	# autopkgtest-virt-nook servers that are gone; a live worker's of the
	# same user are kept); with debci's schroot backend, what schroot's
	# own boot script does, schroot --end-session --all-sessions.
	case $backend in
	nook) prestart=(nook session end --orphans) ;;
	schroot) prestart=(schroot --end-session --all-sessions) ;;
	esac
	say "restart nook-ci-dw1, first: ${prestart[*]}"
	if [ -n "$real" ]; then
		# The real schroot's sessions are the machine's (its boot
		# script ends them all, as root): here only nook-ci-dw1's.
		for s in $(sessions nook-ci-dw1); do schroot --end-session --chroot "$s" || true; done
		ended=
	else
		ended=$(as_worker nook-ci-dw1 "${prestart[@]}" 2>>"$run/prestart.log") || true
		[ ! -s "$run/prestart.log" ] || sed 's/^/     /' "$run/prestart.log"
	fi
	[ -z "$ended" ] || echo "     $ended"
	check "${prestart[*]} left nook-ci-dw1 no session" "$([ -z "$(sessions nook-ci-dw1)" ] && echo 1)"
	if [ "$backend" = nook ]; then
		check "nook session end --orphans ended the killed run's session ($vsess)" \
			"$([ -n "$vsess" ] && [ "$(echo "$ended" | paste -sd' ')" = "$vsess" ] && echo 1)"
	fi
	start_worker nook-ci-dw1
	done_ok=1
	wait_jobs 900 "${kids[@]}" || done_ok=
	check "both jobs' results reached the collector, the killed one redelivered by RabbitMQ" "$done_ok"
	check "nook-ci-dw2 (not killed) ran its job to its end" \
		"$(db 'puts Debci::Job.where(run_id: ARGV.map(&:to_i)).map { |j| j.worker&.name }' "${kids[@]}" | grep -qx nook-ci-dw2 && echo 1)"
	# The redelivered job runs again, on either worker (with the schroot
	# backend under the same --session-id: a session the kill left would
	# make its begin fail, autopkgtest's exit 16, debci's tmpfail; the
	# restart's clean-up ended it).
	check_results "${kids[@]}"
	wait_idle || true
	check_clean "after the kill and restart"
fi

# --- the end --------------------------------------------------------------------------
if [ "$bad" -ne 0 ]; then
	for f in collector nook-ci-dw1 nook-ci-dw2; do
		echo "--- $f log (last 25 lines):"
		tail -25 "$run/$f.log" 2>/dev/null || true
	done
fi
status=PASS
[ "$bad" -eq 0 ] || status=FAIL
echo "RESULT debci-$backend $status $(($(date +%s) - t_start))s"
echo "$status"
exit "$bad"
