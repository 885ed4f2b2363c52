#!/usr/bin/env bash
# Start-up cost of nook called as mkosi-sandbox beside Debian 13's
# mkosi-sandbox (test/fetch-mkosi-trixie.sh) and bubblewrap, in one
# hyperfine run, as an unprivileged user: `--ro-bind / / true`, and a
# command line of the shape mkosi builds for a package manager. The
# reference runs both as fetch-mkosi-trixie.sh's wrapper (python3 -c,
# site imports included) and as mkosi itself runs it (run.py:
# `python3 -SI .../mkosi/sandbox.py`).
# Results go to docs/benchmarks.md by hand.
#
#   bench/mkosi.sh [NOOK_BINARY]      # as an unprivileged user
#   sudo bench/mkosi.sh               # builds nook, runs as nook-ci-nosub
#   RUNS=20 bench/mkosi.sh            # a short run on a shared machine
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
export PATH="/usr/local/go/bin:$PATH"
ms=/var/cache/nook-ci/mkosi-trixie/mkosi-sandbox
py="python3 -SI /var/cache/nook-ci/mkosi-trixie/x/usr/lib/python3/dist-packages/mkosi/sandbox.py"
[ -x "$ms" ] || "$top/test/fetch-mkosi-trixie.sh" >/dev/null
. "$top/bench/lib.sh"
nook=$(bench_nook "${1:-}")
runs=${RUNS:-200}
as=()
[ "$(id -u)" -eq 0 ] && as=(runuser -u nook-ci-nosub --)
# nook called as mkosi-sandbox: a symlink of that name. The scratch
# directory holds the package manager line's /etc and image root.
face=$(mktemp -d /var/tmp/nook-bench-mkosi.XXXXXX)
trap 'rm -rf "$face"' EXIT
ln -s "$nook" "$face/mkosi-sandbox"
mkdir -p "$face/etc" "$face/root/etc" "$face/vartmp"
for f in passwd group shadow gshadow; do : >"$face/etc/$f"; : >"$face/root/etc/$f"; done
chmod -R a+rwX "$face"
chmod 755 "$face"
: >"$face/results.md"
chmod 666 "$face/results.md"
pm="--proc /proc --unsetenv TMPDIR --setenv SYSTEMD_OFFLINE 1 --unshare-net --ro-bind /usr /usr
 --symlink usr/bin /bin --symlink usr/sbin /sbin --symlink usr/lib /lib --symlink usr/lib64 /lib64
 --dir /var/tmp --dir /var/log --unshare-ipc --dev /dev --bind $face/vartmp /var/tmp --dir /tmp --dir /run
 --ro-bind $face/etc /etc --bind $face/root /buildroot --tmpfs /buildroot/run --tmpfs /buildroot/tmp
 --proc /buildroot/proc --dev /buildroot/dev --become-root --suppress-chown
 --symlink /buildroot/etc/passwd /etc/passwd --symlink /buildroot/etc/group /etc/group true"
pm=$(echo $pm)
cd /
echo "kernel $(uname -r); $(nproc) cpus; $(bwrap --version); mkosi-sandbox $("$ms" --version 2>&1); $("$nook" version); runs=$runs"
"${as[@]}" hyperfine -N --warmup 10 --runs "$runs" --export-markdown "$face/results.md" \
	-n 'mkosi-sandbox --ro-bind / / true' "$ms --ro-bind / / true" \
	-n 'python3 -SI sandbox.py --ro-bind / / true' "$py --ro-bind / / true" \
	-n 'nook as mkosi-sandbox: --ro-bind / / true' "$face/mkosi-sandbox --ro-bind / / true" \
	-n 'bwrap --ro-bind / / true' 'bwrap --ro-bind / / true' \
	-n 'mkosi-sandbox, package manager line' "$ms $pm" \
	-n 'python3 -SI sandbox.py, package manager line' "$py $pm" \
	-n 'nook as mkosi-sandbox, package manager line' "$face/mkosi-sandbox $pm"
cat "$face/results.md"
