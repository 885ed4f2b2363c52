#!/usr/bin/env bash
# run.sh RELEASE...: the VM stage. Boots Debian's own kernels -- bookworm
# (Debian 12, Linux 6.1) and trixie (Debian 13, Linux 6.12) -- under QEMU
# and runs nook's tests inside, as root, as nook-ci-sub (with an
# /etc/subuid range) and as nook-ci-nosub (without), then checks that
# nothing is left. Run as root. Exit status 0 only when every VM passed.
#
# How: test/vm/image.sh makes (once, cached under /var/cache/nook-ci/vm/)
# a disk image per release with debvm-create. Each run builds nook and its
# test binaries here (CGO_ENABLED=0, so they run on any glibc), puts them
# with the test scripts and a config on a small ext4 "run disk", and boots
# the image with the root disk in snapshot mode (the image is never
# written) and the run disk as the second disk. nook-vm.service in the
# image runs guest.sh from the run disk, which writes its results there and
# powers off; this script then reads them back with debugfs (no mount).
#
# Software emulation (TCG): nested KVM on the CI machines fails with "KVM
# internal error ... emulation failure", so KVM is never used. The guest
# kernel runs with mitigations=off: a throwaway test machine, and page
# table isolation and its kind cost an emulated CPU most (every syscall
# and interrupt). Each boot is
# time-boxed (NOOK_VM_TIMEOUT seconds, default 3600); a VM that does not
# finish in time fails the stage. The stage skips -- loudly, with exit 0 --
# only when QEMU cannot run here at all.
#
# Knobs (environment):
#   NOOK_VM_TESTS       test binaries to run three ways (names as in
#                       test/all.sh's bin dir, without .test); default
#                       "sandbox session" (cmd_nook takes ~12 min a user
#                       under emulation)
#   NOOK_VM_PART_TESTS  NAME:PATTERN items: the tests of binary NAME that
#                       match PATTERN, three ways; default the schroot face
#                       and session CLI tests of cmd_nook (their tarballs
#                       are small) and the attack suite's locked-mount
#                       and keyring cases (they lean on the kernel's
#                       rules for mounts copied into a user namespace)
#   NOOK_VM_INIT_TESTS  test binaries to run again with NOOK_ENGINE=init;
#                       default "sandbox"
#   NOOK_VM_TEST_RUN    a -test.run pattern for them (default: all)
#   NOOK_VM_INIT_TEST_RUN  the same for the NOOK_ENGINE=init runs (default:
#                       the overlay and engine-choice tests)
#   NOOK_VM_TEST_SKIP   a -test.skip pattern for every run in the VM,
#                       said loudly there; default: the booted-session
#                       supervisor's tests beyond one boot and a run
#                       (TestBootSystemd and TestBootRun stay: ~40 s of
#                       emulation for each systemd boot), the many-runs
#                       leak loop and the unpack of every compression
#                       format -- ~330 s a VM, none of it kernel-bound;
#                       "" runs everything
#   NOOK_VM_SBUILD      1 (default): a real sbuild build through nook as
#                       schroot; 0: none
#   NOOK_VM_SBUILD_USERS  who builds (default nook-ci-sub: the kernel's
#                       rules for user namespaces with a full id range are
#                       what differs between kernels; root and nook-ci-nosub
#                       build on the host, and their sessions are tested in
#                       the VM by the session suites); e.g. "nook-ci-sub
#                       nook-ci-nosub root" for all three
#   NOOK_VM_CUSTOM      a script to run inside too (as root, after the
#                       tests; NOOK, BIN and RESULTS set), e.g. bench/vm.sh
#   NOOK_VM_OUT         where results are kept (default
#                       /var/tmp/nook-vm-results/RELEASE)
#   NOOK_VM_BIN         a directory of already built binaries to use
#   NOOK_VM_MEM, NOOK_VM_CPUS  the VM's memory (MiB, default 3072) and
#                       cpus (default: this machine's, at most 4)
set -euo pipefail
shopt -s extglob
[ $# -ge 1 ] || { echo "usage: $0 bookworm|trixie..." >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "run.sh: run as root" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
export PATH="/usr/local/go/bin:$HOME/go/bin:$PATH"
export GOFLAGS="${GOFLAGS:-} -buildvcs=false"
say() { printf '\n=== vm: %s\n' "$*"; }

tests=${NOOK_VM_TESTS-sandbox session}
init_tests=${NOOK_VM_INIT_TESTS-sandbox}
part_tests=${NOOK_VM_PART_TESTS-cmd_nook:TestSchroot|TestSessionCLI|TestChrootCLI test_attack:TestCommandCannotUndoSandbox|TestNestedSandboxStillWorks|TestHelpersLocked|TestSchrootFaceLocked|TestKeyringIsolated}
timeout=${NOOK_VM_TIMEOUT:-3600}
mem=${NOOK_VM_MEM:-3072}
cpu_model=${NOOK_VM_CPU_MODEL:-max}
cpus=${NOOK_VM_CPUS:-$(nproc)}
[ "$cpus" -le 4 ] || cpus=4

# --- can QEMU run here at all? ------------------------------------------------
for p in debvm qemu-system-x86 e2fsprogs; do
	dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' && continue
	echo "installing $p"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq || true
	apt-get install -y -qq --no-install-recommends "$p" >/dev/null || true
done
probe_rc=0
command -v qemu-system-x86_64 >/dev/null || probe_rc=127
if [ "$probe_rc" -eq 0 ]; then
	# A machine that starts and sits stopped (-S) until the timeout ends it:
	# 124 means QEMU runs.
	timeout 3 qemu-system-x86_64 -machine q35 -accel tcg -display none -nodefaults -no-user-config -S \
		>/dev/null 2>&1 </dev/null || probe_rc=$?
	[ "$probe_rc" -ne 124 ] || probe_rc=0
fi
if [ "$probe_rc" -ne 0 ]; then
	printf '\n%s\n' '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!'
	echo "!!! SKIPPED: the VM stage (Debian 12 / 13 kernels): QEMU cannot run on this"
	echo "!!! machine (qemu-system-x86_64 status $probe_rc). Nothing was tested on those kernels."
	printf '%s\n\n' '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!'
	exit 0
fi

# QEMU and the run disks go when this script does, however it ends.
live=$(mktemp -d /var/tmp/nook-vm-live.XXXXXX)
cleanup() {
	local p
	for p in $(cat "$live/pids" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
	rm -f $(cat "$live/disks" 2>/dev/null)
	rm -rf "$live"
	[ -n "${NOOK_VM_BIN:-}" ] || [ -z "${bin:-}" ] || rm -rf "$bin"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the binaries -------------------------------------------------------------
if [ -n "${NOOK_VM_BIN:-}" ]; then
	bin=$(cd "$NOOK_VM_BIN" && pwd)
else
	bin=$(mktemp -d /var/tmp/nook-vm-bin.XXXXXX)
	say "build: nook and the test binaries ($tests $init_tests) into $bin"
	(
		cd "$top"
		# The test knobs, as test/all.sh builds (once: -tags twice is an error).
		case " ${GOFLAGS:-} " in
		*" -tags=nooktest "*) ;;
		*) export GOFLAGS="${GOFLAGS:-} -tags=nooktest" ;;
		esac
		CGO_ENABLED=0 go build -o "$bin" ./cmd/nook ./cmd/nook-unpack
		for n in $(echo $tests $init_tests ${part_tests//:*([^ ])/} | tr ' ' '\n' | sort -u); do
			CGO_ENABLED=0 go test -c -o "$bin/$n.test" "./$(echo "$n" | tr _ /)"
		done
	)
fi

# --- the tarballs the image bakes in ---------------------------------------------
# (test/all.sh made them in its set-up and says so: it runs this script
# beside other stages, which must not race its apt runs.)
if [ -z "${NOOK_VM_SETUP_DONE:-}" ]; then
	"$top/test/setup-host.sh" >/dev/null
	"$top/test/sbuild/setup.sh" >/dev/null
fi

# NOOK_VM_IMAGES_ONLY=1: make the images (debvm-create; mmdebstrap mounts
# in its scratch tree while it runs, which other stages' leftover checks
# would see) and stop; test/all.sh does that before it boots them beside
# its end-to-end stages.
if [ -n "${NOOK_VM_IMAGES_ONLY:-}" ]; then
	for r in "$@"; do
		img=$("$here/image.sh" "$r")
		say "image $r: $img"
	done
	exit 0
fi

# boot RELEASE: one VM run; returns its status.
boot() {
	local release=$1 img kernel initrd out rundir disk t0 rc=0
	img=$("$here/image.sh" "$release")
	kernel=$img.vmlinuz initrd=$img.initrd
	if [ ! -s "$kernel" ] || [ ! -s "$initrd" ]; then
		# The image's /vmlinuz and /initrd.img links name the files.
		local k i
		k=$(debugfs -R "stat /vmlinuz" "$img" 2>/dev/null | sed -n 's/Fast link dest: "\(.*\)"/\1/p')
		i=$(debugfs -R "stat /initrd.img" "$img" 2>/dev/null | sed -n 's/Fast link dest: "\(.*\)"/\1/p')
		[ -n "$k" ] && [ -n "$i" ] || { echo "run.sh: no /vmlinuz or /initrd.img link in $img" >&2; return 1; }
		debugfs -R "dump /${k#/} $kernel.tmp" "$img" 2>/dev/null
		debugfs -R "dump /${i#/} $initrd.tmp" "$img" 2>/dev/null
		mv "$kernel.tmp" "$kernel"
		mv "$initrd.tmp" "$initrd"
	fi
	out=${NOOK_VM_OUT:-/var/tmp/nook-vm-results}/$release
	rm -rf "$out"
	mkdir -p "$out"
	rundir=$(mktemp -d /var/tmp/nook-vm-run.XXXXXX)
	disk=$rundir.ext4
	echo "$disk" >>"$live/disks"
	cp -a "$bin" "$rundir/bin"
	cp -a "$top/test" "$rundir/test"
	cp -a "$top/bench" "$rundir/bench"
	cp "$here/guest.sh" "$rundir/guest.sh"
	if [ -n "${NOOK_VM_CUSTOM:-}" ]; then
		cp "$NOOK_VM_CUSTOM" "$rundir/custom.sh"
		chmod 0755 "$rundir/custom.sh"
	fi
	{
		printf 'TESTS=%q\n' "$tests"
		printf 'INIT_TESTS=%q\n' "$init_tests"
		printf 'SBUILD=%q\n' "${NOOK_VM_SBUILD:-1}"
		printf 'SBUILD_USERS=%q\n' "${NOOK_VM_SBUILD_USERS:-nook-ci-sub}"
		printf 'TEST_RUN=%q\n' "${NOOK_VM_TEST_RUN:-}"
		printf 'TEST_SKIP=%q\n' "${NOOK_VM_TEST_SKIP-^(TestBootNoNetwork|TestBootSupervisorHoldsNoCallerFile|TestBootEndKilledSupervisor|TestBootTimeout|TestBootReboot|TestAutopkgtestVirtNookReboot|TestNoLeaksOverManyRuns|TestUnpackEachCompression)\$}"
		printf 'INIT_TEST_RUN=%q\n' "${NOOK_VM_INIT_TEST_RUN-Overlay|Throwaway|EngineChoice}"
		printf 'PART_TESTS=%q\n' "$part_tests"
	} >"$rundir/config"
	mkdir "$rundir/results"
	chmod -R a+rX "$rundir"
	# Room for the results next to what is there.
	local size
	size=$(($(du -sm "$rundir" | cut -f1) + 512))
	mke2fs -q -t ext4 -L nookrun -d "$rundir" "$disk" "${size}M"
	rm -rf "$rundir"

	say "boot $release ($(basename "$img"), kernel $(basename "$(debugfs -R 'stat /vmlinuz' "$img" 2>/dev/null | sed -n 's/Fast link dest: "\(.*\)"/\1/p')")), at most $timeout s; console in $out/console.log"
	t0=$(date +%s)
	timeout --kill-after=20 "$timeout" qemu-system-x86_64 \
		-no-user-config -nodefaults -display none -no-reboot \
		-machine q35 -accel tcg,thread=multi -cpu "$cpu_model" -smp "$cpus" -m "$mem" \
		-kernel "$kernel" -initrd "$initrd" \
		-append "root=LABEL=debvm rw console=ttyS0 quiet systemd.show_status=0 mitigations=off" \
		-drive "file=$img,format=raw,if=virtio,snapshot=on,cache=unsafe,discard=unmap" \
		-drive "file=$disk,format=raw,if=virtio,cache=unsafe" \
		-netdev user,id=net0 -device virtio-net-pci,netdev=net0 \
		-object rng-random,filename=/dev/urandom,id=rng0 -device virtio-rng-pci,rng=rng0 \
		-serial stdio </dev/null >"$out/console.log" 2>&1 &
	local qpid=$!
	echo "$qpid" >>"$live/pids"
	# Progress: the guest's headings, failures and summary lines.
	tail --pid="$qpid" -n +1 -f "$out/console.log" |
		sed -u 's/^\[ *[0-9.]*\] nook-vm-start\[[0-9]*\]: //' |
		grep --line-buffered -E '^=== |^!!! |^(root|sub|nosub)[a-z-]* +[a-z_]+\.test|^sbuild |^leftovers ' |
		sed -u "s/^/[$release] /" &
	local qrc=0
	wait "$qpid" || qrc=$?
	local secs=$(($(date +%s) - t0))
	# What the guest wrote, even after a timeout (its logs are copied to
	# the run disk as they are written).
	debugfs -R "rdump /results $out" "$disk" >/dev/null 2>&1 || true
	rm -f "$disk"
	if [ "$qrc" -eq 124 ] || [ "$qrc" -eq 137 ]; then
		echo "!!! vm $release: did not finish within $timeout s (killed); console: $out/console.log"
		tail -30 "$out/console.log"
		return 1
	fi
	if [ ! -f "$out/results/status" ]; then
		echo "!!! vm $release: no results (qemu status $qrc); console tail:"
		tail -40 "$out/console.log"
		return 1
	fi
	rc=$(cat "$out/results/status")
	echo "vm $release: $secs s from boot to power-off, guest status $rc; results in $out/results"
	echo "TIME vm-$release $secs" >>"$out/times"
	return "$rc"
}


# Both releases at once by default: under emulation a VM keeps a little
# over one core busy, so two share the machine's cores better than one
# after the other (NOOK_VM_PARALLEL=0 boots them in turn).
failed=0
if [ "${NOOK_VM_PARALLEL:-1}" = 1 ] && [ $# -gt 1 ]; then
	for r in "$@"; do "$here/image.sh" "$r" >/dev/null; done
	declare -A jobs
	for r in "$@"; do
		boot "$r" &
		jobs[$r]=$!
	done
	for r in "$@"; do
		wait "${jobs[$r]}" || failed=1
	done
else
	for r in "$@"; do
		boot "$r" || failed=1
	done
fi
exit "$failed"
