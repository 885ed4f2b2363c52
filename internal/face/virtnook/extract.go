package virtnook

import (
	"io"
	"os/exec"
)

// extractUp unpacks the tar stream a testbed sent for copyup into the
// host's directory dir.
func extractUp(dir string, r io.Reader, errOut io.Writer) error {
	c := exec.Command("tar", "--directory", dir, "--warning=none", "--preserve-permissions", "--extract", "--no-same-owner", "-f", "-")
	c.Stdin, c.Stderr = r, errOut
	return c.Run()
}
