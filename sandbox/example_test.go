package sandbox_test

import (
	"fmt"
	"os"

	"github.com/nook-project/nook/sandbox"
)

// A read-only view of the host with its own /dev, /proc and /tmp, its own
// pid namespace, and no network but loopback.
func Example() {
	st, err := sandbox.Run(&sandbox.Spec{
		Args:       []string{"sh", "-c", "echo hello, my parent is pid $PPID; touch /usr/x 2>/dev/null || echo /usr is read-only"},
		Env:        []string{"PATH=/usr/bin:/bin"},
		Namespaces: sandbox.Namespaces{PID: true, Net: true},
		SortMounts: true,
		Mounts: []sandbox.Mount{
			{Op: sandbox.OpBind, Source: "/", Dest: "/", ReadOnly: true},
			{Op: sandbox.OpDev, Dest: "/dev"},
			{Op: sandbox.OpProc, Dest: "/proc"},
			{Op: sandbox.OpTmpfs, Dest: "/tmp"},
		},
		Stdout: os.Stdout,
	})
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	fmt.Println("exit status", st.ExitCode())
	// Output:
	// hello, my parent is pid 1
	// /usr is read-only
	// exit status 0
}
