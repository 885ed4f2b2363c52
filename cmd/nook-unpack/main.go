// Command nook-unpack is nook's unpack helper: nook starts it, inside a
// sandbox with a session's id mapping, to unpack a chroot tarball into its
// cache. Install it beside nook (see package unpack and session.UnpackHelper).
package main

import (
	"os"

	"github.com/nook-project/nook/unpack"
)

func main() {
	os.Exit(unpack.Main(os.Args[1:]))
}
