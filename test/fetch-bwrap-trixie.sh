#!/bin/bash
# fetch-bwrap-trixie.sh: a newer bubblewrap than Debian 12's 0.8, for the
# message differential (cmd/nook TestBwrapMessagesNewer). Debian 13's
# bubblewrap needs glibc 2.38, so its libc6 comes along and bwrap runs
# through that libc's loader. Idempotent; nothing is installed: apt reads
# a private sources list and lists under the cache directory, dpkg-deb -x
# unpacks there, and the host's apt configuration is left alone.
set -euo pipefail
d=/var/cache/nook-ci/bwrap-trixie
[ -x "$d/bwrap" ] && "$d/bwrap" --version >/dev/null 2>&1 && exit 0
mkdir -p "$d/apt/lists/partial" "$d/apt/cache/archives/partial" "$d/apt/etc"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" >"$d/apt/etc/sources.list"
apt=(-o "Dir::Etc::SourceList=$d/apt/etc/sources.list" -o Dir::Etc::SourceParts=/nonexistent
	-o "Dir::State::Lists=$d/apt/lists" -o "Dir::Cache=$d/apt/cache" -o Dir::State::status=/var/lib/dpkg/status
	-o APT::Sandbox::User=root)
apt-get "${apt[@]}" -q update >/dev/null
rm -f "$d"/*.deb
(cd "$d" && apt-get "${apt[@]}" -q download bubblewrap libc6 >/dev/null)
rm -rf "$d/x"
for deb in "$d"/*.deb; do dpkg-deb -x "$deb" "$d/x"; done
cat >"$d/bwrap" <<'EOS'
#!/bin/sh
# Debian 13's bwrap, through Debian 13's loader and libc (fetch-bwrap-trixie.sh).
L=/var/cache/nook-ci/bwrap-trixie/x/usr/lib/x86_64-linux-gnu
exec $L/ld-linux-x86-64.so.2 --library-path $L:/lib/x86_64-linux-gnu --argv0 bwrap /var/cache/nook-ci/bwrap-trixie/x/usr/bin/bwrap "$@"
EOS
chmod 755 "$d/bwrap"
chmod -R a+rX "$d"
"$d/bwrap" --version
