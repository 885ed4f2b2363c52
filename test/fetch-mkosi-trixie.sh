#!/bin/bash
# fetch-mkosi-trixie.sh: Debian 13's mkosi (25.3), whose mkosi-sandbox is
# one Python file, for the mkosi-sandbox differential (cmd/nook
# TestMkosiDifferential). Idempotent; nothing is installed: apt reads a
# private sources list and lists under the cache directory, dpkg-deb -x
# unpacks there, and a wrapper runs mkosi.sandbox with the system python3
# (no other part of mkosi is needed). The host's apt configuration is
# left alone.
set -euo pipefail
d=/var/cache/nook-ci/mkosi-trixie
[ -x "$d/mkosi-sandbox" ] && "$d/mkosi-sandbox" --version >/dev/null 2>&1 && exit 0
mkdir -p "$d/apt/lists/partial" "$d/apt/cache/archives/partial" "$d/apt/etc"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" >"$d/apt/etc/sources.list"
apt=(-o "Dir::Etc::SourceList=$d/apt/etc/sources.list" -o Dir::Etc::SourceParts=/nonexistent
	-o "Dir::State::Lists=$d/apt/lists" -o "Dir::Cache=$d/apt/cache" -o Dir::State::status=/var/lib/dpkg/status
	-o APT::Sandbox::User=root)
apt-get "${apt[@]}" -q update >/dev/null
rm -f "$d"/*.deb
(cd "$d" && apt-get "${apt[@]}" -q download mkosi >/dev/null)
rm -rf "$d/x"
for deb in "$d"/*.deb; do dpkg-deb -x "$deb" "$d/x"; done
cat >"$d/mkosi-sandbox" <<'EOS'
#!/bin/sh
# Debian 13's mkosi-sandbox, run from the unpacked package (fetch-mkosi-trixie.sh).
exec env PYTHONPATH=/var/cache/nook-ci/mkosi-trixie/x/usr/lib/python3/dist-packages python3 -c 'import sys; from mkosi.sandbox import main; sys.argv[0] = "mkosi-sandbox"; sys.exit(main())' "$@"
EOS
chmod 755 "$d/mkosi-sandbox"
chmod -R a+rX "$d"
"$d/mkosi-sandbox" --version
