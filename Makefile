# Build and install nook: make, make install, make uninstall, make check.
# PREFIX (default /usr/local) and DESTDIR as usual; see README, "Install".
# nook finds its unpack helper in ../libexec/nook from its own directory,
# so the two stay together under any PREFIX.

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBEXECDIR ?= $(PREFIX)/libexec
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
# zsh reads packages' completions from /usr/share/zsh/vendor-completions
# and local ones from /usr/local/share/zsh/site-functions, not from a
# vendor-completions there.
ifeq ($(PREFIX),/usr)
ZSHCOMPDIR ?= $(PREFIX)/share/zsh/vendor-completions
else
ZSHCOMPDIR ?= $(PREFIX)/share/zsh/site-functions
endif
# debci's nook backend (debci/nook): debci runs the backends it finds in
# /usr/share/debci/backends/ only, so with another PREFIX link that
# directory's nook to this one.
DEBCIDIR ?= $(PREFIX)/share/debci/backends/nook
DEBCIPARENT = $(patsubst %/,%,$(dir $(DEBCIDIR)))
BUILDDIR ?= build
GO ?= go
INSTALL ?= install
# VERSION, when set, is what `nook version` says (else "dev"); GOBUILDFLAGS
# go to go build and GOLDFLAGS to its linker (debian/rules passes
# -trimpath and -B gobuildid).
VERSION ?=
GOBUILDFLAGS ?=
GOLDFLAGS ?=
LDFLAGS_ALL = $(GOLDFLAGS) $(if $(VERSION),-X github.com/nook-project/nook/internal/face/native.Version=$(VERSION))

MANPAGES = docs/nook.1 docs/nook-run.1 docs/nook-session.1 docs/nook-bwrap.1 \
	docs/nook-schroot.1 docs/nook-mkosi-sandbox.1 docs/autopkgtest-virt-nook.1

BUILT = $(BUILDDIR)/nook $(BUILDDIR)/nook-unpack $(BUILDDIR)/nook.bash $(BUILDDIR)/_nook

all: $(BUILT)

# One go build makes both (&: needs GNU make 4.3); go decides what is
# stale, so make always asks it. No cgo: built with it, the Go init's pid 1
# cannot drop capabilities on every thread and refuses to run (test/all.sh).
$(BUILDDIR)/nook $(BUILDDIR)/nook-unpack &: FORCE
	@mkdir -p $(BUILDDIR)
	CGO_ENABLED=0 $(GO) build $(GOBUILDFLAGS) -ldflags '$(LDFLAGS_ALL)' -o $(BUILDDIR)/ ./cmd/nook ./cmd/nook-unpack

$(BUILDDIR)/nook.bash: $(BUILDDIR)/nook
	$(BUILDDIR)/nook completion bash > $@.tmp && mv $@.tmp $@

$(BUILDDIR)/_nook: $(BUILDDIR)/nook
	$(BUILDDIR)/nook completion zsh > $@.tmp && mv $@.tmp $@

# install builds nothing: `make && sudo make install` must not run go as
# root (not on sudo's secure_path, and it would leave root's files in
# build/ and a module cache in /root). It installs what make built.
install:
	@for f in $(BUILT); do \
		[ -f "$$f" ] || { echo "make install: $$f is missing: run make first (as yourself; make install does not build)" >&2; exit 1; }; \
	done
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBEXECDIR)/nook $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(DEBCIDIR)
	$(INSTALL) -m 0755 $(BUILDDIR)/nook $(DESTDIR)$(BINDIR)/nook
	ln -sf nook $(DESTDIR)$(BINDIR)/autopkgtest-virt-nook
	$(INSTALL) -m 0755 $(BUILDDIR)/nook-unpack $(DESTDIR)$(LIBEXECDIR)/nook/nook-unpack
	$(INSTALL) -m 0644 $(MANPAGES) $(DESTDIR)$(MANDIR)/man1/
	# nook-session(1) documents nook chroot and nook cache too.
	ln -sf nook-session.1 $(DESTDIR)$(MANDIR)/man1/nook-chroot.1
	$(INSTALL) -m 0644 $(BUILDDIR)/nook.bash $(DESTDIR)$(BASHCOMPDIR)/nook
	$(INSTALL) -m 0644 $(BUILDDIR)/_nook $(DESTDIR)$(ZSHCOMPDIR)/_nook
	$(INSTALL) -m 0755 debci/nook/create-testbed debci/nook/test-package $(DESTDIR)$(DEBCIDIR)/
	$(INSTALL) -m 0644 debci/nook/environment.sh $(DESTDIR)$(DEBCIDIR)/

# Removes what install put there, and the directory of nook's own; the
# shared directories stay.
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/nook $(DESTDIR)$(BINDIR)/autopkgtest-virt-nook $(DESTDIR)$(LIBEXECDIR)/nook/nook-unpack \
		$(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(MANPAGES)) nook-chroot.1) \
		$(DESTDIR)$(BASHCOMPDIR)/nook $(DESTDIR)$(ZSHCOMPDIR)/_nook
	rm -f $(addprefix $(DESTDIR)$(DEBCIDIR)/,create-testbed test-package environment.sh)
	if [ -d $(DESTDIR)$(LIBEXECDIR)/nook ]; then rmdir $(DESTDIR)$(LIBEXECDIR)/nook; fi
	# debci's own directories go too when nothing else is in them.
	for d in $(DESTDIR)$(DEBCIDIR) $(DESTDIR)$(DEBCIPARENT) $(DESTDIR)$(patsubst %/,%,$(dir $(DEBCIPARENT))); do \
		if [ -d "$$d" ]; then rmdir --ignore-fail-on-non-empty "$$d"; fi; \
	done

# make release: a static, reproducible build of the checked-out commit,
# as build/release/nook-VERSION-linux-ARCH.tar.gz (the make install tree
# with PREFIX empty: bin/, libexec/nook/, share/). Static: no cgo. Bit for
# bit the same from any checkout path, user or build cache: -trimpath; the
# version and revision come from git (the Go VCS stamp: vcs.revision,
# vcs.time, vcs.modified); file times in the archive are SOURCE_DATE_EPOCH
# (default: the commit's time), owners 0, names sorted, gzip without a
# name or time. test/release.sh builds it twice and compares.
RELEASE_VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
RELEASE_ARCH = $(shell $(GO) env GOARCH)
RELEASE_NAME = nook-$(RELEASE_VERSION)-linux-$(RELEASE_ARCH)
release:
	rm -rf $(BUILDDIR)/release
	$(MAKE) --no-print-directory BUILDDIR=$(BUILDDIR)/release/build VERSION=$(RELEASE_VERSION) \
		GOBUILDFLAGS='-trimpath -buildvcs=true' all
	$(MAKE) --no-print-directory BUILDDIR=$(BUILDDIR)/release/build PREFIX= \
		DESTDIR=$(BUILDDIR)/release/$(RELEASE_NAME) install
	tar -C $(BUILDDIR)/release --sort=name --mtime=@$(SOURCE_DATE_EPOCH) --owner=0 --group=0 \
		--numeric-owner --mode=go-w --format=gnu -cf - $(RELEASE_NAME) | gzip -9n \
		> $(BUILDDIR)/release/$(RELEASE_NAME).tar.gz
	@echo $(BUILDDIR)/release/$(RELEASE_NAME).tar.gz

# The whole suite (as root: three ways, the Debian clients, the VM stage).
check:
	./test/all.sh

clean:
	rm -rf $(BUILDDIR)

.PHONY: all install uninstall release check clean FORCE
