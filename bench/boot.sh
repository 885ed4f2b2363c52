#!/usr/bin/env bash
# Booted sessions (docs/system-containers.md), as the unprivileged
# nook-ci-sub in its delegated cgroup (test/setup-host.sh makes both and
# the systemd chroot): begin --boot to the end of systemd's start-up,
# begin --long-lived, one
# command into the running container through its agent beside one in an
# ordinary session of the same chroot (fresh namespaces each time) and
# beside nook run, and end (power-off and clean-up). Results go to
# docs/benchmarks.md by hand.
#
#   sudo bench/boot.sh          RUNS=30 BOOT_RUNS=5 by default
#
# Needs hyperfine (test/setup-host.sh installs it).
set -euo pipefail
[ "$(id -u)" -eq 0 ] || { echo "bench/boot.sh: run as root (it measures as nook-ci-sub)" >&2; exit 1; }
top=$(cd "$(dirname "$0")/.." && pwd)
export PATH="/usr/local/go/bin:$PATH"
"$top/test/setup-host.sh" >/dev/null
user=nook-ci-sub
runs=${RUNS:-30}
tarball=/var/cache/nook-ci/bookworm-systemd.tar
cg=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)/nook-ci/$user
[ -d "$cg" ] || { echo "bench/boot.sh: no delegated cgroup $cg (test/setup-host.sh makes it)" >&2; exit 1; }

work=/var/tmp/nook-bench-boot
rm -rf "$work"
mkdir -p "$work/home"
chmod 755 "$work"
(cd "$top" && CGO_ENABLED=0 go build -o "$work" ./cmd/nook ./cmd/nook-unpack)
chown "$user:" "$work/home"
home=$work/home nook=$work/nook

# as USER, in its delegated cgroup, with a private HOME
as() { (echo "$BASHPID" >"$cg/cgroup.procs"; cd "$home" && runuser -u "$user" -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$home" LANG=C.UTF-8 "$@"); }

echo "kernel $(uname -r); $(nproc) cpus; chroot $tarball"
as "$nook" chroot add sd "$tarball" >/dev/null
as "$nook" session begin sd >/dev/null # the unpack, once, outside the measurements
as "$nook" session end --all

echo "== begin --boot to READY=1, then end (power-off, clean-up)"
as hyperfine -N --runs "${BOOT_RUNS:-5}" \
	-n "nook session begin --boot + end" "sh -c 'id=\$($nook session begin --boot sd) && $nook session end \$id'" \
	-n "nook session begin + end (not booted)" "sh -c 'id=\$($nook session begin sd) && $nook session end \$id'"

echo "== begin --long-lived (one sandbox for the session's life) and end"
as hyperfine -N --runs "${BOOT_RUNS:-5}" \
	-n "nook session begin --long-lived + end" "sh -c 'id=\$($nook session begin --long-lived sd) && $nook session end \$id'"

echo "== one command: into the booted container and the long-lived sandbox (agent, stdio relayed), an ordinary session, nook run"
booted=$(as "$nook" session begin --boot sd)
held=$(as "$nook" session begin --long-lived sd)
plain=$(as "$nook" session begin sd)
as hyperfine -N --warmup 3 --runs "$runs" \
	-n "session run (booted)" "$nook session run $booted -- true" \
	-n "session run (long-lived)" "$nook session run $held -- true" \
	-n "session run (ordinary)" "$nook session run $plain -- true" \
	-n "nook run --ro-bind / /" "$nook run --ro-bind / / true"
as "$nook" session end --all
