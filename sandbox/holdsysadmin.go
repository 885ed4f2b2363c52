package sandbox

import "golang.org/x/sys/unix"

// holdsSysAdmin reports whether this process holds CAP_SYS_ADMIN in its
// effective set: in its own user namespace (a sandbox that made one, as
// mkosi-sandbox makes for a caller that is not root), it can then build a
// sandbox there without a new one.
func holdsSysAdmin() bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false
	}
	return data[capSysAdmin/32].Effective&(1<<(capSysAdmin%32)) != 0
}
