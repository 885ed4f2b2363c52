#!/usr/bin/env bash
# mkpkg.sh DIR: makes the tiny source package the sbuild test builds, and its
# .dsc, in DIR (created if missing; an existing nookhello-1.0 tree in it is
# replaced).
#
# nookhello 1.0 is a 3.0 (native) package built with debhelper (compat 13):
# one architecture-dependent binary package whose /usr/bin/nookhello is
# compiled from C, so a build really runs gcc inside the chroot. The program
# prints one known line, which build.sh checks after installing the .deb.
# Only dpkg-source runs on the host (package dpkg-dev); debhelper and gcc
# are needed in the chroot, where the buildd variant and the build-depends
# provide them.
#
# NOOK_SBUILD_LIGHT=1 (the VM stage, test/vm: under software emulation
# debhelper's perl and the packages it pulls in take ~10 minutes a build)
# makes the same package with a debian/rules of its own and no
# build-dependency beyond build-essential, which the buildd tarball has:
# still a real build by sbuild (dpkg-buildpackage, gcc, dpkg-deb in a
# session), without an apt install.
#
# Also writes DIR/nookhello.expected: the exact line the installed program
# prints. Prints the path of the .dsc on its last line.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
command -v dpkg-source >/dev/null || { echo "mkpkg.sh: dpkg-source missing (apt-get install dpkg-dev)" >&2; exit 1; }
mkdir -p "$1"
dir=$(cd "$1" && pwd)
src=$dir/nookhello-1.0
rm -rf "$src" "$dir"/nookhello_1.0.dsc "$dir"/nookhello_1.0.tar.*
mkdir -p "$src/debian/source"

# The line the installed program must print (build.sh compares it).
greeting='nookhello: built by sbuild through schroot'

cat >"$src/nookhello.c" <<C
#include <stdio.h>

int main(void)
{
	puts("$greeting");
	return 0;
}
C

# The upstream build: dh_auto_build runs make, dh_auto_install runs
# `make install DESTDIR=...`. CFLAGS etc. come from dpkg-buildflags via dh.
cat >"$src/Makefile" <<'MK'
CC ?= cc
CFLAGS ?= -O2
prefix ?= /usr

all: nookhello

nookhello: nookhello.c
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $<

# build-net: the network interfaces the build saw (build.sh checks that a
# face asked to isolate dpkg-buildpackage gave it only lo).
build-net:
	sed -n 's/^ *\([^ :]*\):.*/\1/p' /proc/net/dev | sort > $@

install: nookhello build-net
	install -D -m 0755 nookhello $(DESTDIR)$(prefix)/bin/nookhello
	install -D -m 0644 build-net $(DESTDIR)$(prefix)/share/nookhello/build-net

clean:
	rm -f nookhello build-net

.PHONY: all install clean
MK

cat >"$src/debian/control" <<'CTL'
Source: nookhello
Section: misc
Priority: optional
Maintainer: nook CI <nook-ci@localhost>
Build-Depends: @BUILD_DEPENDS@
Standards-Version: 4.6.2
Rules-Requires-Root: no

Package: nookhello
Architecture: any
Depends: ${shlibs:Depends}, ${misc:Depends}
Description: test package for nook's sbuild end-to-end test
 Prints one known line. Built by nook's CI through sbuild and schroot to
 check that nook's schroot face can stand in for the real one.
CTL

cat >"$src/debian/changelog" <<'CL'
nookhello (1.0) unstable; urgency=medium

  * Test package for nook's sbuild end-to-end test.

 -- nook CI <nook-ci@localhost>  Sun, 22 Nov 2026 12:00:00 +0000
CL

if [ "${NOOK_SBUILD_LIGHT:-0}" = 1 ]; then
	sed -i '/^Build-Depends: @BUILD_DEPENDS@$/d' "$src/debian/control"
	cat >"$src/debian/rules" <<'RULES'
#!/usr/bin/make -f
# No debhelper: the steps dh would take for this one binary, by hand.
pkg := debian/nookhello
export CFLAGS := $(shell dpkg-buildflags --get CFLAGS)
export CPPFLAGS := $(shell dpkg-buildflags --get CPPFLAGS)
export LDFLAGS := $(shell dpkg-buildflags --get LDFLAGS)

build build-arch:
	$(MAKE)
build-indep:

binary binary-arch: build
	rm -rf $(pkg)
	$(MAKE) install DESTDIR=$(CURDIR)/$(pkg)
	strip --remove-section=.comment --remove-section=.note $(pkg)/usr/bin/nookhello
	install -D -m 0644 debian/copyright $(pkg)/usr/share/doc/nookhello/copyright
	mkdir -p $(pkg)/DEBIAN
	dpkg-shlibdeps $(pkg)/usr/bin/nookhello
	dpkg-gencontrol -pnookhello -P$(pkg)
	dpkg-deb --root-owner-group --build $(pkg) ..
binary-indep:

clean:
	$(MAKE) clean
	rm -rf $(pkg) debian/files debian/substvars
.PHONY: build build-arch build-indep binary binary-arch binary-indep clean
RULES
else
	sed -i 's/^Build-Depends: @BUILD_DEPENDS@$/Build-Depends: debhelper-compat (= 13)/' "$src/debian/control"
	cat >"$src/debian/rules" <<'RULES'
#!/usr/bin/make -f
%:
	dh $@
RULES
fi
chmod 0755 "$src/debian/rules"

echo '3.0 (native)' >"$src/debian/source/format"

cat >"$src/debian/copyright" <<'CR'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: nookhello

Files: *
Copyright: nook project
License: permissive
 This test package, made by nook's CI, may be used for any purpose.
CR

# dpkg-source works in the parent directory and writes the .dsc and the
# .tar.xz next to the tree.
(cd "$dir" && dpkg-source --build nookhello-1.0 >/dev/null)
printf '%s\n' "$greeting" >"$dir/nookhello.expected"
chmod a+rX "$dir" "$dir"/nookhello.expected "$dir"/nookhello_1.0.dsc "$dir"/nookhello_1.0.tar.*
echo "$dir/nookhello_1.0.dsc"
