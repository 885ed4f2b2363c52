# debci's nook backend: where the testbed is. Sourced by create-testbed and
# test-package after debci's own environment (debci_suite, debci_arch).
#
# The testbed is a nook chroot of the worker's user, made from a tarball
# kept in that user's cache (override with debci_nook_tarball in
# debci.conf or the environment). Its name is not the schroot backend's
# (debci-SUITE-ARCH): nook's own definitions come before schroot's, and a
# machine that has both backends must keep the schroot backend's testbed
# for it.
debci_nook_chroot="debci-nook-${debci_suite}-${debci_arch}"
debci_nook_tarball="${debci_nook_tarball:-${XDG_CACHE_HOME:-$HOME/.cache}/debci/nook/${debci_nook_chroot}.tar}"
