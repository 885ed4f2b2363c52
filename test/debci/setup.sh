#!/usr/bin/env bash
# Prepares this Debian 12 machine for the debci end-to-end test (issue 21,
# part 1), idempotently. Run as root; every step checks first.
#
# What it sets up:
#   - the Debian packages debci, debci-worker, debci-collector (3.6 in
#     bookworm), rabbitmq-server, autopkgtest, amqp-tools, mmdebstrap. A
#     policy-rc.d refusing every start is in place while they install: this
#     machine has no init to hand daemons to, and test/debci/ci.sh starts
#     what it needs itself;
#   - two unprivileged worker users, nook-ci-dw1 and nook-ci-dw2 (as on two
#     machines), each with a home and a subordinate id range of its own,
#     placed after every range already given out (as test/setup-host.sh
#     gives nook-ci-sub one); other lines of /etc/subuid and /etc/subgid
#     are left as they are;
#   - RabbitMQ listening on loopback only (127.0.0.1:5672, no epmd or
#     distribution port outside loopback), started here when it is not
#     running (no init here, so this script is its starter).
set -euo pipefail
[ "$(id -u)" -eq 0 ] || { echo "setup.sh: run as root" >&2; exit 1; }
say() { printf '=== debci setup: %s\n' "$*"; }

# --- packages ------------------------------------------------------------
packages=(debci debci-worker debci-collector rabbitmq-server autopkgtest autodep8
	amqp-tools mmdebstrap uidmap procps util-linux passwd)
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	say "installing ${missing[*]}"
	# No daemon may start from a maintainer script (no init here; the
	# test starts its own). An existing policy-rc.d is kept and restored.
	prc=/usr/sbin/policy-rc.d
	saved=
	if [ -e "$prc" ]; then saved=$(mktemp); cp -a "$prc" "$saved"; fi
	printf '#!/bin/sh\nexit 101\n' >"$prc"
	chmod 755 "$prc"
	restore() { if [ -n "$saved" ]; then mv "$saved" "$prc"; else rm -f "$prc"; fi; }
	trap restore EXIT
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	restore
	trap - EXIT
fi
say "debci $(dpkg-query -W -f '${Version}' debci), rabbitmq-server $(dpkg-query -W -f '${Version}' rabbitmq-server), autopkgtest $(dpkg-query -W -f '${Version}' autopkgtest)"

# --- the worker users ---------------------------------------------------------
for user in nook-ci-dw1 nook-ci-dw2; do
	if ! id "$user" >/dev/null 2>&1; then
		say "creating user $user"
		useradd --create-home --shell /bin/bash "$user"
	fi
	home=$(getent passwd "$user" | cut -d: -f6)
	[ -d "$home" ] || install -d -o "$user" -g "$user" -m 0755 "$home"
	for f in /etc/subuid /etc/subgid; do
		touch "$f"
		if ! grep -q "^$user:" "$f"; then
			start=$(awk -F: 'BEGIN{m=100000} {e=$2+$3; if (e>m) m=e} END{print m}' "$f")
			if [ "$f" = /etc/subuid ]; then
				usermod --add-subuids "$start-$((start + 65535))" "$user"
			else
				usermod --add-subgids "$start-$((start + 65535))" "$user"
			fi
		fi
	done
	grep "^$user:" /etc/subuid /etc/subgid
done

# --- the testbed tarball -----------------------------------------------------------
# What debci's schroot create-testbed makes with debootstrap into
# /var/lib/debci/chroots (as root: debootstrap, chroot, a definition in
# /etc/schroot/chroot.d), made once here as a tarball instead, which each
# worker's nook unpacks as that worker (type=file). The same contents:
# dpkg-dev and ca-certificates, debci's apt sources (with deb-src, which
# autopkgtest needs to fetch a package's source inside), no translations,
# debconf noninteractive, dpkg force-unsafe-io, a user debci (the tests'
# user: test-package passes --user debci). Differs: no apt lists in the
# tarball (mmdebstrap's clean-up; test-package's --apt-upgrade updates
# them first thing anyway),
# mmdebstrap's minbase variant, not debootstrap's default
# (important priority), and no auto-apt-proxy (no proxy here).
testbed=/var/cache/nook-ci/debci-bookworm-amd64.tar
if [ ! -s "$testbed" ]; then
	say "making $testbed with mmdebstrap (once, a minute or two)"
	mkdir -p "$(dirname "$testbed")"
	rm -f "$testbed.tmp"
	sources=$(debci generate-apt-sources --mirror=http://deb.debian.org/debian --source -- bookworm)
	printf '%s\n' "$sources" | mmdebstrap --quiet --variant=minbase --mode=root \
		--include=dpkg-dev,ca-certificates --format=tar \
		--essential-hook='echo "Acquire::Languages \"none\";" >"$1/etc/apt/apt.conf.d/99translations"' \
		--customize-hook='echo "debconf debconf/frontend select noninteractive" | chroot "$1" debconf-set-selections' \
		--customize-hook='echo force-unsafe-io >"$1/etc/dpkg/dpkg.cfg.d/debci"' \
		--customize-hook="chroot \"\$1\" useradd --home-dir /home/debci --create-home --uid $(id -u debci) debci" \
		bookworm "$testbed.tmp" -
	mv "$testbed.tmp" "$testbed"
fi
chown root:root "$testbed"
chmod 0644 "$testbed"
ls -l "$testbed"

# --- RabbitMQ on loopback -------------------------------------------------------
# The node name and its epmd on loopback too, so nothing listens outside.
conf=/etc/rabbitmq/rabbitmq.conf
want='listeners.tcp.default = 127.0.0.1:5672
loopback_users.guest = true'
if [ ! -f "$conf" ] || [ "$(cat "$conf")" != "$want" ]; then
	say "writing $conf"
	printf '%s\n' "$want" >"$conf"
fi
envf=/etc/rabbitmq/rabbitmq-env.conf
wantenv='NODENAME=rabbit@localhost
NODE_IP_ADDRESS=127.0.0.1
ERL_EPMD_ADDRESS=127.0.0.1
SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"'
if [ ! -f "$envf" ] || [ "$(cat "$envf")" != "$wantenv" ]; then
	say "writing $envf"
	printf '%s\n' "$wantenv" >"$envf"
fi
export ERL_EPMD_ADDRESS=127.0.0.1
if ! timeout 20 rabbitmqctl -q status >/dev/null 2>&1; then
	say "starting rabbitmq-server (detached, as user rabbitmq)"
	install -d -o rabbitmq -g rabbitmq /var/log/rabbitmq /var/lib/rabbitmq /run/rabbitmq
	runuser -u rabbitmq -- env HOME=/var/lib/rabbitmq ERL_EPMD_ADDRESS=127.0.0.1 \
		setsid /usr/sbin/rabbitmq-server >/var/log/rabbitmq/nook-ci-start.log 2>&1 </dev/null &
	# await_startup gives up at once while the node is not yet registered
	# with epmd; ask for its status until it answers.
	for _ in $(seq 60); do
		timeout 20 rabbitmqctl -q status >/dev/null 2>&1 && break
		sleep 2
	done
	timeout 20 rabbitmqctl -q status >/dev/null
fi
say "rabbitmq up: $(ss -ltnH 'sport = :5672' | awk '{print $4}' | tr '\n' ' ')"
say "done"
