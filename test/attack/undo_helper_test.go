package attack

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// helperUndo tries to undo every mount the sandbox started with, by every
// route a command holding all the capabilities it was given has: remount
// read-only ones read-write (mount(2) MS_REMOUNT|MS_BIND, mount_setattr
// clearing MOUNT_ATTR_RDONLY, a fresh bind of the mount remounted), unmount
// them, move them away. Each that works is a HARM line. args are checks
// after the attempts: "write:DIR" (creating a file in DIR is harm),
// "hidden:PATH" (PATH must stay unreadable: it lies under a covering
// mount), "proc" (/proc must still be the sandbox's own). Last it makes a
// mount of its own and unmounts it, which must work wherever the command
// kept CAP_SYS_ADMIN ("own mount ok").
func helperUndo(args []string) {
	mounts := readMountinfo()
	// Children before parents, so an unmount that works reveals as much
	// as it can.
	sort.Slice(mounts, func(i, j int) bool { return len(mounts[i].point) > len(mounts[j].point) })
	scratch := "/tmp/nook-undo"
	os.MkdirAll(scratch, 0o755)
	for _, m := range mounts {
		if m.readOnly() {
			tryRemountRW(m)
		}
		if m.point == "/" {
			continue
		}
		if fd, err := unix.OpenTree(unix.AT_FDCWD, m.point, unix.OPEN_TREE_CLOEXEC); err == nil {
			err := unix.MoveMount(fd, "", unix.AT_FDCWD, scratch, unix.MOVE_MOUNT_F_EMPTY_PATH)
			unix.Close(fd)
			if err == nil {
				fmt.Printf("HARM moved %s away (%s)\n", m.point, m.fstype)
				unix.Unmount(scratch, unix.MNT_DETACH)
			}
		}
		if err := unix.Unmount(m.point, unix.MNT_DETACH); err == nil {
			fmt.Printf("HARM unmounted %s (%s)\n", m.point, m.fstype)
		}
	}
	for _, a := range args {
		kind, arg, _ := strings.Cut(a, ":")
		switch kind {
		case "write":
			p := filepath.Join(arg, "nook-undo-wrote")
			if err := os.WriteFile(p, []byte("x"), 0o644); err == nil {
				fmt.Printf("HARM wrote %s\n", p)
			}
		case "hidden":
			if b, err := os.ReadFile(arg); err == nil {
				fmt.Printf("HARM read %s under its covering mount: %q\n", arg, b)
			}
		case "proc":
			self, err := os.Readlink("/proc/self")
			if err != nil || self != strconv.Itoa(os.Getpid()) {
				fmt.Printf("HARM /proc is not this sandbox's: /proc/self is %q (%v), pid %d\n", self, err, os.Getpid())
			}
		}
	}
	own := filepath.Join(scratch, "own")
	os.MkdirAll(own, 0o755)
	if err := unix.Mount("own", own, "tmpfs", 0, ""); err != nil {
		fmt.Println("own mount failed:", err)
	} else if err := unix.Unmount(own, 0); err != nil {
		fmt.Println("own unmount failed:", err)
	} else {
		fmt.Println("own mount ok")
	}
	fmt.Println("done")
}

type mountEntry struct {
	point, fstype, opts string
}

func (m mountEntry) readOnly() bool {
	for _, o := range strings.Split(m.opts, ",") {
		if o == "ro" {
			return true
		}
	}
	return false
}

// readMountinfo lists this process's mounts (point, type, per-mount
// options).
func readMountinfo() []mountEntry {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		fmt.Println("read mountinfo:", err)
		return nil
	}
	defer f.Close()
	var out []mountEntry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 {
			continue
		}
		sep := 6
		for sep < len(fields) && fields[sep] != "-" {
			sep++
		}
		if sep+1 >= len(fields) {
			continue
		}
		point := unescapeMountinfo(fields[4])
		out = append(out, mountEntry{point: point, fstype: fields[sep+1], opts: fields[5]})
	}
	return out
}

func unescapeMountinfo(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// tryRemountRW tries each way of making the read-only mount m writable and
// says so when one worked (statfs no longer reports ST_RDONLY).
func tryRemountRW(m mountEntry) {
	rw := func() bool {
		var st unix.Statfs_t
		return unix.Statfs(m.point, &st) == nil && st.Flags&unix.ST_RDONLY == 0
	}
	// mountinfo also lists mounts hidden under others at the same path
	// (the host's /dev under nook's): only the one the path reaches, and
	// only while it is read-only, counts.
	var st unix.Statfs_t
	if unix.Statfs(m.point, &st) != nil || st.Flags&unix.ST_RDONLY == 0 {
		return
	}
	// Keep the flags a remount may not drop (nosuid, nodev, noexec,
	// atime), clear only read-only.
	keep := uintptr(0)
	{
		for _, f := range []struct{ st, ms uintptr }{{unix.ST_NOSUID, unix.MS_NOSUID}, {unix.ST_NODEV, unix.MS_NODEV},
			{unix.ST_NOEXEC, unix.MS_NOEXEC}, {unix.ST_NOATIME, unix.MS_NOATIME}, {unix.ST_NODIRATIME, unix.MS_NODIRATIME},
			{unix.ST_RELATIME, unix.MS_RELATIME}} {
			if uintptr(st.Flags)&f.st != 0 {
				keep |= f.ms
			}
		}
	}
	if err := unix.Mount("", m.point, "", unix.MS_REMOUNT|unix.MS_BIND|keep, ""); err == nil && rw() {
		fmt.Printf("HARM remounted %s read-write (mount MS_REMOUNT|MS_BIND)\n", m.point)
		return
	}
	if err := unix.Mount("", m.point, "", unix.MS_REMOUNT|unix.MS_BIND, ""); err == nil && rw() {
		fmt.Printf("HARM remounted %s read-write (mount MS_REMOUNT|MS_BIND, no flags)\n", m.point)
		return
	}
	attr := &unix.MountAttr{Attr_clr: unix.MOUNT_ATTR_RDONLY}
	if err := unix.MountSetattr(unix.AT_FDCWD, m.point, 0, attr); err == nil && rw() {
		fmt.Printf("HARM remounted %s read-write (mount_setattr)\n", m.point)
		return
	}
	// A new bind of the mount, made read-write: a bind copies the lock.
	if fd, err := unix.OpenTree(unix.AT_FDCWD, m.point, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC); err == nil {
		defer unix.Close(fd)
		if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, attr); err == nil {
			dir, derr := os.MkdirTemp("/tmp", "rebind")
			if derr == nil && unix.MoveMount(fd, "", unix.AT_FDCWD, dir, unix.MOVE_MOUNT_F_EMPTY_PATH) == nil {
				var st unix.Statfs_t
				if unix.Statfs(dir, &st) == nil && st.Flags&unix.ST_RDONLY == 0 {
					fmt.Printf("HARM a new bind of %s is read-write (open_tree + mount_setattr)\n", m.point)
				}
				unix.Unmount(dir, unix.MNT_DETACH)
			}
		}
	}
}
