package idmap

import (
	"strconv"
	"strings"
	"syscall"
)

// Format renders a map the way /proc/PID/uid_map and gid_map accept it:
// one "inside outside count\n" line per entry.
func Format(m []syscall.SysProcIDMap) string {
	var b strings.Builder
	for _, e := range m {
		b.WriteString(strconv.Itoa(e.ContainerID))
		b.WriteByte(' ')
		b.WriteString(strconv.Itoa(e.HostID))
		b.WriteByte(' ')
		b.WriteString(strconv.Itoa(e.Size))
		b.WriteByte('\n')
	}
	return b.String()
}

// helperArgs renders a map as the argument triples newuidmap/newgidmap
// take after the pid.
func helperArgs(pid int, m []syscall.SysProcIDMap) []string {
	args := make([]string, 0, 1+3*len(m))
	args = append(args, strconv.Itoa(pid))
	for _, e := range m {
		args = append(args, strconv.Itoa(e.ContainerID), strconv.Itoa(e.HostID), strconv.Itoa(e.Size))
	}
	return args
}
