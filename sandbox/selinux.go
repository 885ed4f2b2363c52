package sandbox

import (
	"fmt"
	"os"
	"runtime"
)

// SELinux labels (Spec.ExecLabel, Spec.FileLabel), applied by the Go init
// the way bwrap applies its --exec-label and --file-label: through the
// calling thread's /proc attr files, and as the context= of new tmpfs
// mounts. The init is one process setting up one sandbox, so the file
// label is kept in a package variable for newTmpfs.

// tmpfsContext is the file label every tmpfs the init makes gets.
var tmpfsContext string

// applyFileLabel makes label the context of files and tmpfs mounts the
// init creates from here on.
func applyFileLabel(label string) error {
	if label == "" {
		return nil
	}
	tmpfsContext = label
	return writeAttr("fscreate", label)
}

// writeAttr writes label to this thread's /proc/thread-self/attr/NAME (the
// attribute is per thread: the thread stays locked, and the init execs
// from it).
func writeAttr(name, label string) error {
	if label == "" {
		return nil
	}
	if _, err := os.Stat("/sys/fs/selinux/enforce"); err != nil {
		// Another LSM (AppArmor) would read the attr files its own way.
		return fmt.Errorf("set the SELinux %s label %q: SELinux is not active on this host", name, label)
	}
	runtime.LockOSThread()
	p := "/proc/thread-self/attr/" + name
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("set the SELinux %s label %q: %w", name, label, err)
	}
	defer f.Close()
	if _, err := f.Write([]byte(label)); err != nil {
		return fmt.Errorf("set the SELinux %s label %q: %w", name, label, err)
	}
	return nil
}
