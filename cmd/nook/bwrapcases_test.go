package main

import (
	"encoding/binary"
	"os"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// B is the most common base: the host root, read-only.
var B = w("--ro-bind", "/", "/")

// statProbe prints mode and type of each path.
func statProbe(paths ...string) []string {
	return sh("stat -c '%a %F %n' " + strings.Join(paths, " "))
}

// fails asserts bwrap failed (an option it does not know, or a defect
// nook fixes) and nook did what bwrap(1) documents.
func fails(code int, stdout string) func(t *testing.T, bw, nk *outcome) {
	return func(t *testing.T, bw, nk *outcome) {
		if bw.code != 1 || !strings.HasPrefix(bw.stderr, "bwrap: ") {
			t.Errorf("bwrap 0.8 was expected to fail here: %s", bw)
		}
		if nk.code != code || nk.stdout != stdout {
			t.Errorf("nook: exit %d stdout %q, want %d and %q (stderr %q)", nk.code, nk.stdout, code, stdout, nk.stderr)
		}
	}
}

// uname is refused with EPERM by this classic BPF program on x86-64;
// everything else is allowed.
func unameFilter() string {
	const (
		ldW   = 0x20 // BPF_LD|BPF_W|BPF_ABS
		jeqK  = 0x15 // BPF_JMP|BPF_JEQ|BPF_K
		retK  = 0x06 // BPF_RET|BPF_K
		allow = 0x7fff0000
		eperm = 0x00050001 // SECCOMP_RET_ERRNO|EPERM
	)
	prog := [][4]uint32{
		{ldW, 0, 0, 4}, {jeqK, 0, 3, 0xc000003e}, // arch == AUDIT_ARCH_X86_64, else allow
		{ldW, 0, 0, 0}, {jeqK, 0, 1, 63}, // nr == uname
		{retK, 0, 0, eperm}, {retK, 0, 0, allow},
	}
	var b []byte
	for _, in := range prog {
		var r [8]byte
		binary.NativeEndian.PutUint16(r[0:], uint16(in[0]))
		r[2], r[3] = byte(in[1]), byte(in[2])
		binary.NativeEndian.PutUint32(r[4:], in[3])
		b = append(b, r[:]...)
	}
	return string(b)
}

// capField is the value of a capability line of /proc/self/status in s.
func capField(s, name string) string {
	m := regexp.MustCompile(`(?m)^` + name + `:\t(\w+)$`).FindStringSubmatch(s)
	if m == nil {
		return ""
	}
	return m[1]
}

// usageLine is the first line of s with the program path (argv[0], which
// differs between the two binaries) replaced by "ARGV0".
func usageLine(s string) string {
	l := strings.SplitN(s, "\n", 2)[0]
	f := strings.SplitN(l, " ", 3)
	if len(f) == 3 && f[0] == "usage:" && strings.HasSuffix(f[1], "bwrap") {
		return "usage: ARGV0 " + f[2]
	}
	return l
}

// sameExceptPid: everything equal, the command's pid included (2, as
// under bwrap) when the raw engine set the sandbox up; when the Go init
// did (root's /proc covers, --info-fd, block fds, ...) the pid may be larger,
// as that pid 1's runtime threads take the first pids.
func sameExceptPid(t *testing.T, bw, nk *outcome) {
	pidLine := regexp.MustCompile(`(?m)\bpid=(\d+)$`)
	m := pidLine.FindStringSubmatch(nk.stdout)
	if m == nil || m[1] == "1" || !strings.Contains(bw.stdout, "pid=2\n") {
		t.Errorf("pid lines: bwrap %q nook %q", bw.stdout, nk.stdout)
	}
	if m != nil && m[1] != "2" && os.Getenv("NOOK_ENGINE") != "init" && os.Geteuid() != 0 {
		t.Errorf("the command is pid %s, not 2: the raw engine's pid 1 should have started it first", m[1])
	}
	nk2 := *nk
	nk2.stdout = pidLine.ReplaceAllString(nk.stdout, "pid=2")
	compare(t, bw, &nk2, false)
}

var allowAll = func() string {
	var r [8]byte
	binary.NativeEndian.PutUint16(r[0:], 0x06)
	binary.NativeEndian.PutUint32(r[4:], 0x7fff0000)
	return string(r[:])
}()

var diffCases = []diffCase{
	// Identity and namespaces.
	{name: "ids by default", args: cat(B, sh(probeIDs))},
	{name: "capabilities by default", args: cat(B, sh(probeCaps))},
	{name: "nothing unshared by default", args: cat(B, sh(probeNS))},
	{name: "unshare-user", args: cat(w("--unshare-user"), B, sh(probeIDs+"; "+probeCaps))},
	{name: "unshare-user-try", args: cat(w("--unshare-user-try"), B, sh(probeIDs+"; "+probeNS))},
	{name: "unshare-ipc", args: cat(w("--unshare-ipc"), B, sh(probeNS))},
	{name: "unshare-pid", args: cat(w("--unshare-pid"), B, sh("echo pid=$$; "+probeNS)),
		differs: "on the Go init only, the command's pid is not 2: that pid 1's threads take pids first", check: sameExceptPid},
	{name: "unshare-net with lo up", args: cat(w("--unshare-net"), B, sh(probeNS+"; ip -o link | cut -d' ' -f2,3"))},
	{name: "unshare-uts", args: cat(w("--unshare-uts"), B, sh(probeNS+"; hostname"))},
	{name: "unshare-cgroup", args: cat(w("--unshare-cgroup"), B, sh(probeNS))},
	{name: "unshare-cgroup-try", args: cat(w("--unshare-cgroup-try"), B, sh(probeNS))},
	{name: "unshare-all", args: cat(w("--unshare-all"), B, sh(probeNS+"; "+probeIDs))},
	{name: "unshare-all then share-net", args: cat(w("--unshare-all", "--share-net"), B, sh(probeNS))},
	{name: "share-net before unshare-all", args: cat(w("--share-net", "--unshare-all"), B, sh(probeNS))},
	{name: "uid 0 inside", who: "user", args: cat(w("--uid", "0", "--gid", "0"), B, sh(probeIDs+"; "+probeCaps))},
	{name: "uid and gid inside", args: cat(w("--unshare-user", "--uid", "1234", "--gid", "5678"), B, sh(probeIDs))},
	{name: "uid 0 with a user namespace as root", who: "root", args: cat(w("--unshare-user", "--uid", "0"), B, sh(probeIDs+"; "+probeCaps))},
	{name: "uid without a user namespace as root", who: "root", args: cat(w("--uid", "5"), B, w("true")), sameStderr: true},
	{name: "gid without a user namespace as root", who: "root", args: cat(w("--gid", "5"), B, w("true")), sameStderr: true},
	{name: "hostname", args: cat(w("--unshare-uts", "--hostname", "nook-diff"), B, w("hostname"))},
	{name: "hostname needs uts", args: cat(w("--hostname", "x"), B, w("true")), sameStderr: true},

	// Capabilities.
	{name: "cap-add one", args: cat(w("--cap-add", "CAP_NET_RAW"), B, sh(probeCaps))},
	{name: "cap-add lower case", args: cat(w("--cap-add", "cap_chown"), B, sh(probeCaps))},
	{name: "cap-add ALL", who: "user", args: cat(w("--cap-add", "ALL"), B, sh(probeCaps))},
	{name: "cap-add ALL as root", who: "root", args: cat(w("--cap-add", "ALL"), B, sh(probeCaps)),
		differs: "bwrap 0.8's capset fails when ALL names a capability root lacks, and it goes on with the sets untouched; nook leaves what was asked",
		check: func(t *testing.T, bw, nk *outcome) {
			want := strings.NewReplacer("CapInh:\t0000000000000000", "CapInh:\t"+capField(bw.stdout, "CapPrm"),
				"CapAmb:\t0000000000000000", "CapAmb:\t"+capField(bw.stdout, "CapPrm")).Replace(bw.stdout)
			if nk.code != 0 || nk.stdout != want {
				t.Errorf("nook:\n%s\nwant:\n%s", nk.stdout, want)
			}
		}},
	{name: "cap-add ALL then drop one", who: "user", args: cat(w("--cap-add", "ALL", "--cap-drop", "CAP_SYS_ADMIN"), B, sh(probeCaps))},
	{name: "cap-add ALL then drop one as root", who: "root", args: cat(w("--cap-add", "ALL", "--cap-drop", "CAP_SYS_ADMIN"), B, sh(probeCaps)),
		differs: "bwrap 0.8 keeps every capability when ALL names one root lacks (its capset fails and is ignored); nook drops what was asked",
		check: func(t *testing.T, bw, nk *outcome) {
			if !strings.Contains(nk.stdout, "CapEff:\t000001fffedfffff") && !strings.Contains(nk.stdout, "CapEff:\t000001ffffdfffff") {
				t.Errorf("nook kept CAP_SYS_ADMIN or lost others: %s", nk)
			}
		}},
	{name: "cap-drop ALL", args: cat(w("--cap-drop", "ALL"), B, sh(probeCaps))},
	{name: "cap-drop then add", args: cat(w("--cap-drop", "ALL", "--cap-add", "CAP_KILL"), B, sh(probeCaps))},
	{name: "cap-add unknown", args: cat(w("--cap-add", "CAP_NOPE"), B, w("true")), sameStderr: true},
	{name: "uid 0 keeps added caps", who: "user", args: cat(w("--uid", "0", "--cap-add", "CAP_SYS_ADMIN"), B, sh(probeCaps))},

	// Environment and working directory.
	{name: "environment passed", args: cat(B, sh(probeEnv))},
	{name: "clearenv", args: cat(w("--clearenv"), B, w("/usr/bin/env"))},
	{name: "clearenv then setenv", args: cat(w("--clearenv", "--setenv", "A", "1"), B, w("/usr/bin/env"))},
	{name: "setenv unsetenv in order", args: cat(w("--setenv", "A", "1", "--unsetenv", "A", "--setenv", "B", "2", "--setenv", "LANG", "C.UTF-8"), B, sh(probeEnv))},
	{name: "unsetenv PWD is set again", args: cat(w("--unsetenv", "PWD"), B, sh(probeEnv))},
	{name: "cwd kept when it exists", args: cat(B, sh("pwd; echo $PWD"))},
	{name: "cwd falls back to HOME", args: cat(minimal, w("--setenv", "HOME", "/usr"), sh("pwd; echo $PWD"))},
	{name: "cwd falls back to /", args: cat(minimal, sh("pwd; echo $PWD"))},
	{name: "chdir", args: cat(B, w("--chdir", "/usr"), sh("pwd; echo $PWD"))},
	{name: "chdir missing", args: cat(B, w("--chdir", "/nonexistent-nook-diff", "true"))},

	// Filesystem: layout, modes, mountinfo.
	{name: "minimal root mountinfo", args: cat(minimal, sh(probeMI+" | grep -v ' /proc/'"))},
	{name: "tmpfs default mode", args: cat(minimal, w("--tmpfs", "/x", "--tmpfs", "/tmp"), statProbe("/", "/x", "/tmp"))},
	{name: "tmpfs with perms", args: cat(minimal, w("--perms", "0700", "--tmpfs", "/x", "--tmpfs", "/y"), statProbe("/x", "/y"))},
	{name: "tmpfs with size", args: cat(minimal, w("--size", "1048576", "--tmpfs", "/x"), sh("stat -f -c '%b %S' /x"))},
	{name: "perms and size together", args: cat(minimal, w("--size", "2097152", "--perms", "1777", "--tmpfs", "/x"), sh("stat -f -c '%b %S' /x; stat -c %a /x"))},
	{name: "dir and parents", args: cat(minimal, w("--dir", "/a/b/c", "--dir", "/tmp/t"), statProbe("/a", "/a/b", "/a/b/c", "/tmp", "/tmp/t"))},
	{name: "dir with perms 0700", args: cat(minimal, w("--perms", "0700", "--dir", "/a/b/c"), statProbe("/a", "/a/b", "/a/b/c"))},
	{name: "dir with perms 0750", args: cat(minimal, w("--perms", "0750", "--dir", "/a/b"), statProbe("/a", "/a/b"))},
	{name: "dir existing keeps its mode", args: cat(minimal, w("--perms", "0700", "--dir", "/usr"), statProbe("/usr"))},
	{name: "file default mode", stdin: "hello\n", args: cat(minimal, w("--file", "0", "/a/f"), sh("stat -c '%a %F' /a /a/f; cat /a/f"))},
	{name: "file with perms", in: map[int]string{3: "data"}, args: cat(minimal, w("--perms", "0640", "--file", "3", "/f"), sh("stat -c '%a' /f; cat /f"))},
	{name: "bind-data", in: map[int]string{3: "data"}, args: cat(minimal, w("--bind-data", "3", "/a/bd"), sh("stat -c '%a %F' /a /a/bd; cat /a/bd; grep -c ' /a/bd ' /proc/self/mountinfo"))},
	{name: "ro-bind-data", in: map[int]string{3: "data"}, args: cat(minimal, w("--perms", "0644", "--ro-bind-data", "3", "/bd"), sh("stat -c '%a' /bd; cat /bd; echo x >> /bd || echo refused"))},
	{name: "symlink", args: cat(minimal, w("--symlink", "/target", "/l/link"), sh("readlink /l/link; stat -c '%a %F' /l"))},
	{name: "symlink twice same target", args: cat(minimal, w("--symlink", "usr/bin", "/bin"), sh("readlink /bin")),
		differs: "bwrap 0.8 refuses an existing symlink; later bwrap accepts one with the same target", check: fails(0, "usr/bin\n")},
	{name: "symlink over another target", args: cat(minimal, w("--symlink", "elsewhere", "/bin", "true"))},
	{name: "chmod", args: cat(minimal, w("--dir", "/d", "--chmod", "0705", "/d"), statProbe("/d"))},
	{name: "chmod missing", args: cat(minimal, w("--chmod", "0705", "/nope", "true"))},
	{name: "bind read-write", args: cat(B, w("--bind", "@T@", "/mnt"), sh("touch /mnt/made && echo made"))},
	{name: "ro-bind refuses writes", args: cat(B, w("--ro-bind", "@T@", "/mnt"), sh("touch /mnt/made || echo refused"))},
	{name: "bind parents and file mount point", args: cat(minimal, w("--bind", "/etc/hostname", "/a/b/h"), statProbe("/a", "/a/b", "/a/b/h"))},
	{name: "bind missing source", args: cat(minimal, w("--bind", "/nonexistent-nook-diff", "/x", "true"))},
	{name: "bind-try missing source", args: cat(minimal, w("--bind-try", "/nonexistent-nook-diff", "/x"), sh("test -e /x || echo absent"))},
	{name: "ro-bind-try missing source", args: cat(minimal, w("--ro-bind-try", "/nonexistent-nook-diff", "/x"), sh("test -e /x || echo absent"))},
	{name: "dev-bind", args: cat(minimal, w("--dev-bind", "/dev/null", "/null"), sh("echo x > /null && echo wrote"))},
	{name: "dev-bind-try missing", args: cat(minimal, w("--dev-bind-try", "/nonexistent-nook-diff", "/x"), sh("test -e /x || echo absent"))},
	{name: "remount-ro", args: cat(B, w("--bind", "@T@", "/mnt", "--remount-ro", "/mnt"), sh("touch /mnt/made || echo refused"))},
	{name: "dev", args: cat(minimal, w("--dev", "/dev"), sh("stat -c '%a %F %N' /dev /dev/* | sort; grep -E ' /dev(/| )' /proc/self/mountinfo | wc -l"))},
	{name: "proc with a pid namespace", args: cat(minimal, w("--unshare-pid", "--proc", "/proc"), sh("echo pid=$$; ls /proc/self/ns | sort; "+probeMI+" | grep ' /proc '")),
		differs: "on the Go init only, the command's pid is not 2: that pid 1's threads take pids first", check: sameExceptPid},
	{name: "mqueue", args: cat(minimal, w("--unshare-ipc", "--mqueue", "/mq"), sh(probeMI+" | grep ' /mq '"))},
	{name: "operations in order", args: cat(minimal, w("--tmpfs", "/a", "--dir", "/a/b", "--tmpfs", "/a"), sh("ls /a | wc -l"))},

	{name: "remount-ro of the root", args: cat(minimal, w("--dir", "/d", "--remount-ro", "/"), sh("touch /new 2>&1 | sed 's/.*: //'; stat -c %a /d; "+probeMI+" | grep ' / '"))},
	{name: "bind over a read-only bind", args: cat(B, w("--bind", "@T@", "/mnt", "--ro-bind", "/etc", "/mnt"), sh("ls /mnt/hostname; touch /mnt/x || echo refused"))},
	{name: "tmpfs over an existing directory", args: cat(B, w("--tmpfs", "/usr/share"), sh("ls /usr/share | wc -l; stat -c %a /usr/share"))},
	{name: "proc without a pid namespace", args: cat(minimal, w("--proc", "/newproc"), sh("test -d /newproc/self/ns && echo proc; "+probeMI+" | grep ' /newproc '"))},
	{name: "mqueue without an IPC namespace", who: "user", args: cat(minimal, w("--mqueue", "/mq", "true"))},
	{name: "dev with a pid namespace", args: cat(minimal, w("--unshare-pid", "--dev", "/dev"), sh("ls /dev | sort | tr '\n' ' '"))},
	{name: "clearenv without HOME", args: cat(minimal, w("--clearenv"), sh("pwd; /usr/bin/env"))},
	{name: "chdir relative", args: cat(B, w("--chdir", "usr"), sh("pwd"))},
	{name: "argv0 under pid 1", args: cat(w("--unshare-pid"), B, w("--proc", "/proc", "--argv0", "renamed"), sh(`tr '\0' ' ' < /proc/$$/cmdline; echo`)),
		differs: "bwrap 0.8 does not know --argv0 (0.9)", check: fails(0, "renamed -c tr '\\0' ' ' < /proc/$$/cmdline; echo \n")},
	{name: "new-session under pid 1", args: cat(w("--unshare-pid", "--new-session"), B, w("--proc", "/proc"), sh(`[ "$(ps -o sid= -p $$ | tr -d ' ')" = "$$" ] && echo leader || echo not-leader`))},
	{name: "hostname with unshare-all", args: cat(w("--unshare-all", "--hostname", "all"), B, sh("hostname; "+probeNS))},
	{name: "info-fd with as-pid-1", out: []int{3}, args: cat(w("--unshare-pid", "--as-pid-1", "--info-fd", "3"), B, sh("echo $$"))},
	{name: "setenv with an empty value", args: cat(w("--setenv", "EMPTY", ""), B, sh(`echo "[${EMPTY-unset}]"`))},
	{name: "file into an existing directory", in: map[int]string{3: "x"}, args: cat(minimal, w("--tmpfs", "/t", "--dir", "/t/d", "--file", "3", "/t/d/f"), sh("stat -c '%a %F' /t/d /t/d/f"))},
	{name: "symlink relative target used", args: cat(minimal, w("--symlink", "usr/share", "/share"), sh("test -d /share/doc && echo resolves"))},

	{name: "file over a host file", in: map[int]string{3: "replaced\n"}, args: cat(B, w("--file", "3", "/etc/hostname"), sh("cat /etc/hostname")),
		differs: "nook puts the file on a tmpfs bound over the read-only host file instead of failing", check: fails(0, "replaced\n")},
	{name: "bind-data over a host file", in: map[int]string{3: "replaced\n"}, args: cat(B, w("--bind-data", "3", "/etc/hostname"), sh("cat /etc/hostname; stat -c %a /etc/hostname"))},
	{name: "flatpak-like layout", in: map[int]string{3: "user:x:1000:1000::/home/user:/bin/sh\n"},
		args: cat(w("--unshare-all", "--share-net", "--die-with-parent", "--new-session"), w("--ro-bind", "/usr", "/usr", "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
			"--symlink", "usr/bin", "/bin", "--symlink", "usr/sbin", "/sbin", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--dir", "/run/user/1000",
			"--perms", "0700", "--dir", "/run/user/1001", "--ro-bind-data", "3", "/etc/passwd", "--setenv", "XDG_RUNTIME_DIR", "/run/user/1000",
			"--lock-file", "/usr/bin/sh", "--chdir", "/tmp"),
			sh("stat -c '%a %n' /run /run/user /run/user/1000 /run/user/1001 /etc /etc/passwd; cat /etc/passwd; pwd; echo $XDG_RUNTIME_DIR; "+probeNS+"; "+probeMI))},
	{name: "mkosi-like layout", args: cat(w("--die-with-parent", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin",
		"--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--tmpfs", "/var/tmp", "--ro-bind", "/etc", "/etc",
		"--bind", "@T@", "/work", "--chdir", "/work", "--remount-ro", "/etc"), sh("touch made && echo made; touch /etc/x 2>/dev/null || echo etc-ro; stat -c '%a %n' /tmp /var /var/tmp; "+probeMI))},

	// Grammar and errors.
	{name: "perms with nothing to apply to", args: cat(minimal, w("--perms", "0700", "--bind", "/usr", "/x", "true")), sameStderr: true},
	{name: "perms twice", args: cat(minimal, w("--perms", "0700", "--perms", "0755", "--dir", "/x", "true")), sameStderr: true},
	{name: "size before dir", args: cat(minimal, w("--size", "100", "--dir", "/x", "true")), sameStderr: true},
	{name: "perms not octal", args: cat(minimal, w("--perms", "999", "--dir", "/x", "true")), sameStderr: true},
	{name: "size zero", args: cat(minimal, w("--size", "0", "--tmpfs", "/x", "true")), sameStderr: true},
	{name: "unknown option", args: w("--frobnicate", "true"), sameStderr: true},
	{name: "missing argument", args: w("--bind", "/tmp"), sameStderr: true},
	// bwrap's own words for these, the same in 0.8 and 0.11 (issue 18).
	{name: "chdir twice warns", args: cat(B, w("--chdir", "/", "--chdir", "/etc", "pwd")), sameStderr: true},
	{name: "uid twice warns", args: cat(B, w("--unshare-user", "--uid", "5", "--uid", "6", "true")), sameStderr: true},
	{name: "hostname twice warns", args: cat(B, w("--unshare-uts", "--hostname", "a", "--hostname", "b", "hostname")), sameStderr: true},
	{name: "bind source missing", args: cat(B, w("--bind", "/nonexistent-nook-diff", "/mnt", "true")), sameStderr: true},
	{name: "ro-bind source missing after a good one", args: cat(B, w("--ro-bind", "/etc", "/mnt", "--ro-bind", "/nonexistent-nook-diff/x", "/mnt", "true")), sameStderr: true},
	{name: "as-pid-1 with lock-file", args: cat(w("--unshare-pid", "--as-pid-1", "--lock-file", "/etc/passwd"), B, w("true")), sameStderr: true},
	{name: "double dash ends options", args: cat(B, w("--", "echo", "--bind", "a", "b"))},
	{name: "first non-option ends options", args: cat(B, w("echo", "--bind", "a", "b"))},
	{name: "args from a file", in: map[int]string{3: "--setenv\x00X\x00from-args\x00"}, args: cat(w("--args", "3"), B, sh("echo $X"))},
	{name: "args twice", in: map[int]string{3: "--setenv\x00X\x00x\x00", 4: "--setenv\x00Y\x00y"}, args: cat(w("--args", "3", "--args", "4"), B, sh("echo $X $Y"))},
	{name: "args holding the command", in: map[int]string{3: "--ro-bind\x00/\x00/\x00echo\x00from\x00"}, args: w("--args", "3", "args")},
	{name: "usage without a command", args: B, differs: "the option list is worded by nook",
		check: func(t *testing.T, bw, nk *outcome) {
			first := usageLine
			if nk.code != bw.code || first(nk.stderr) != first(bw.stderr) || nk.stdout != "" {
				t.Errorf("usage differs: bwrap %d %q, nook %d %q", bw.code, first(bw.stderr), nk.code, first(nk.stderr))
			}
		}},
	{name: "help", args: w("--help"), differs: "the option list is worded by nook",
		check: func(t *testing.T, bw, nk *outcome) {
			first := usageLine
			if nk.code != 0 || bw.code != 0 || first(nk.stdout) != first(bw.stdout) || !strings.Contains(nk.stdout, "--overlay-src") {
				t.Errorf("help differs: bwrap %d %q, nook %d %q", bw.code, first(bw.stdout), nk.code, first(nk.stdout))
			}
		}},
	{name: "version", args: w("--version"), differs: "nook names the release whose options it follows, and itself",
		check: func(t *testing.T, bw, nk *outcome) {
			if nk.code != 0 || !strings.HasPrefix(nk.stdout, "bubblewrap 0.11.0 (nook ") || !strings.HasPrefix(bw.stdout, "bubblewrap ") {
				t.Errorf("version: bwrap %q, nook %q", bw.stdout, nk.stdout)
			}
		}},

	// Exit status.
	{name: "exit status", args: cat(B, sh("exit 7"))},
	{name: "killed by a signal", args: cat(B, sh("kill -TERM $$"))},
	{name: "killed by a signal under pid 1", args: cat(w("--unshare-pid"), B, sh("kill -KILL $$"))},
	{name: "command not found", args: cat(B, w("nonexistent-nook-diff")), sameStderr: true},
	{name: "command not executable", args: cat(B, w("/etc/passwd")), sameStderr: true},
	{name: "script without #!", in: map[int]string{3: "echo from-script \"$@\"\n"}, args: cat(B, w("--tmpfs", "/tmp", "--perms", "0755", "--file", "3", "/tmp/s", "/tmp/s", "a", "b"))},
	{name: "script without #! under pid 1", in: map[int]string{3: "echo from-script \"$@\"\n"}, args: cat(w("--unshare-pid", "--setenv", "PATH", "/tmp:/usr/bin:/bin"), B, w("--tmpfs", "/tmp", "--perms", "0755", "--file", "3", "/tmp/s", "s", "a"))},
	{name: "chmod through a symlink", args: cat(minimal, w("--symlink", "/usr", "/l", "--chmod", "0700", "/l", "true"))},
	{name: "command not found under pid 1", args: cat(w("--unshare-pid"), B, w("nonexistent-nook-diff")), sameStderr: true},

	// Monitoring fds.
	{name: "info-fd", out: []int{3}, args: cat(w("--info-fd", "3"), B, w("true"))},
	{name: "info-fd with every namespace", out: []int{3}, args: cat(w("--unshare-all", "--info-fd", "3"), B, w("true"))},
	{name: "json-status-fd", out: []int{4}, args: cat(w("--unshare-pid", "--unshare-net", "--json-status-fd", "4"), B, sh("exit 3"))},
	{name: "json-status-fd when exec fails", out: []int{4}, args: cat(w("--json-status-fd", "4"), B, w("nonexistent-nook-diff"))},
	{name: "info and json together", out: []int{3, 4}, args: cat(w("--unshare-ipc", "--info-fd", "3", "--json-status-fd", "4"), B, w("true"))},
	{name: "sync-fd kept from the command", in: map[int]string{3: ""}, args: cat(w("--sync-fd", "3"), B, sh(probeFds))},
	{name: "block-fd with data", in: map[int]string{3: "go"}, args: cat(w("--block-fd", "3"), B, sh("echo started; "+probeFds))},
	{name: "block-fd at end of file", in: map[int]string{3: ""}, args: cat(w("--unshare-pid", "--block-fd", "3"), B, sh("echo started"))},
	{name: "lock-file", args: cat(B, w("--lock-file", "/etc/hostname"), sh("echo locked; "+probeFds))},
	{name: "lock-file missing", args: cat(B, w("--lock-file", "/nonexistent-nook-diff", "true"))},
	{name: "file fds kept from the command", in: map[int]string{3: "a", 4: "b"}, args: cat(B, w("--tmpfs", "/tmp", "--file", "3", "/tmp/a", "--bind-data", "4", "/tmp/b"), sh(probeFds))},
	{name: "other fds reach the command", in: map[int]string{5: "inherited\n"}, args: cat(B, sh("cat <&5; "+probeFds))},

	// Lockdown.
	{name: "seccomp allow-all", in: map[int]string{3: allowAll}, args: cat(w("--seccomp", "3"), B, sh("echo ran; grep Seccomp: /proc/self/status"))},
	{name: "add-seccomp-fd twice", in: map[int]string{3: allowAll, 4: allowAll}, args: cat(w("--add-seccomp-fd", "3", "--add-seccomp-fd", "4"), B, sh("echo ran"))},
	{name: "seccomp and add-seccomp-fd mixed", in: map[int]string{3: allowAll, 4: allowAll}, args: cat(w("--seccomp", "3", "--add-seccomp-fd", "4"), B, w("true"))},
	{name: "seccomp not whole instructions", in: map[int]string{3: "12345"}, args: cat(w("--seccomp", "3"), B, w("true"))},
	{name: "new-session", args: cat(w("--new-session"), B, sh(`[ "$(ps -o sid= -p $$ | tr -d ' ')" = "$$" ] && echo leader || echo not-leader`))},
	{name: "without new-session", args: cat(B, sh(`[ "$(ps -o sid= -p $$ | tr -d ' ')" = "$$" ] && echo leader || echo not-leader`))},
	{name: "die-with-parent", args: cat(w("--die-with-parent"), B, sh("echo alive"))},
	{name: "as-pid-1", args: cat(w("--unshare-pid", "--as-pid-1"), B, sh("echo $$"))},
	{name: "as-pid-1 needs a pid namespace", args: cat(w("--as-pid-1"), B, w("true")), sameStderr: true},
	{name: "labels without SELinux", args: cat(w("--exec-label", "x", "--file-label", "y"), B, w("true")), sameStderr: true},

	// What bwrap refuses while it parses.
	{name: "single-dash option", args: cat(B, w("-x", "true"))},
	{name: "args inside an arguments file", in: map[int]string{3: "--args\x003\x00"}, args: cat(w("--args", "3"), B, w("true"))},
	{name: "setenv name with =", args: cat(B, w("--setenv", "A=B", "C", "true"))},
	{name: "setenv empty name", args: cat(B, w("--setenv", "", "C", "true"))},
	{name: "file fd read twice", in: map[int]string{3: "x"}, args: cat(B, w("--tmpfs", "/tmp", "--file", "3", "/tmp/f", "--file", "3", "/tmp/g"), sh("cat /tmp/f /tmp/g"))},
	{name: "userns-block-fd without info-fd", in: map[int]string{3: ""}, args: cat(w("--unshare-user", "--userns-block-fd", "3"), B, w("true"))},
	{name: "userns-block-fd without unshare-user", in: map[int]string{3: ""}, out: []int{4}, args: cat(w("--userns-block-fd", "3", "--info-fd", "4"), B, w("true"))},
	{name: "dir perms with setuid bits", args: cat(B, w("--tmpfs", "/tmp", "--perms", "7777", "--dir", "/tmp/x"), statProbe("/tmp/x"))},
	// Every bind nosuid (and nodev but for --dev-bind); --dev's tmpfs
	// nosuid,nodev.
	{name: "bind and dev mount flags", mkdirs: []string{"d"}, args: cat(B, w("--dev", "/dev", "--bind", "@T@/d", "/mnt", "--dev-bind", "/dev/null", "/mnt/null"), sh("awk '$5 ~ /^\\/(dev|dev\\/null|mnt|mnt\\/null)?$/ {print $5, $6}' /proc/self/mountinfo"))},
	// A new proc nosuid,nodev,noexec; mqueue without flags; devpts without
	// a gid; the host's /proc bound when the pid namespace is shared.
	{name: "proc, mqueue and devpts mount flags", args: cat(minimal, w("--unshare-pid", "--unshare-ipc", "--proc", "/proc", "--dev", "/dev", "--mqueue", "/dev/mqueue"), sh("awk '$5 ~ /^\\/(proc|dev\\/pts|dev\\/mqueue)$/ {print $5, $6, $NF}' /proc/self/mountinfo"))},
	{name: "proc without a pid namespace: flags", args: cat(minimal, w("--proc", "/newproc"), sh("awk '$5 == \"/newproc\" {print $4, $5, $6}' /proc/self/mountinfo"))},
	// Relative sources are the caller's working directory's; relative
	// destinations the new root's.
	{name: "relative bind sources", mkdirs: []string{"d/inner"}, args: cat(minimal, w("--bind", "d", "/m", "--ro-bind", ".", "/w"), sh("ls /m /w; touch /m/made && echo made"))},
	{name: "relative destinations", args: cat(B, w("--tmpfs", "tmp", "--dir", "tmp/x", "--symlink", "x", "tmp/l", "--remount-ro", "tmp"), statProbe("/tmp/x", "/tmp/l"))},
	{name: "bind-fd", dirs: map[int]string{3: "@T@/d"}, mkdirs: []string{"d/inner"}, args: cat(minimal, w("--bind-fd", "3", "/m"), sh("ls /m; touch /m/made && echo made; "+probeFds))},
	{name: "ro-bind-fd", dirs: map[int]string{3: "@T@/d"}, mkdirs: []string{"d/inner"}, args: cat(minimal, w("--ro-bind-fd", "3", "/m"), sh("ls /m; touch /m/made || echo refused"))},
	{name: "bind-fd onto a missing place", dirs: map[int]string{3: "/usr"}, args: cat(minimal, w("--ro-bind-fd", "3", "/a/b/m"), sh("stat -c '%a' /a /a/b; test -d /m/bin || echo bound"))},

	// Nesting: bwrap in bwrap, and nook-as-bwrap in nook-as-bwrap (the
	// inner nook re-executes itself through /proc/self/exe).
	{name: "self inside", args: cat(B, w("--dev", "/dev", "--unshare-pid", "--proc", "/proc"), w("@SELF@", "--ro-bind", "/", "/", "--unshare-pid", "sh", "-c", "echo nested pid=$$; ls /proc/self/ns | wc -l")),
		differs: "on the Go init only, the command's pid is not 2: that pid 1's threads take pids first", check: sameExceptPid},
	{name: "bwrap inside", args: cat(B, w("--dev", "/dev", "--unshare-pid", "--proc", "/proc"), w(realBwrap, "--ro-bind", "/", "/", "sh", "-c", "echo nested; ls /proc/self/ns | wc -l"))},

	// Deliberate differences: nook fixes what bwrap gets wrong.
	{name: "mount point under a read-only bind", args: cat(B, w("--tmpfs", "/nook-diff-new"), statProbe("/nook-diff-new")),
		differs: "nook creates the mount point on a tmpfs copy of the read-only directory", check: fails(0, "755 directory /nook-diff-new\n")},
	{name: "dir under a read-only bind", args: cat(B, w("--dir", "/usr/nook-diff-new"), sh("test -d /usr/nook-diff-new && echo made")),
		differs: "nook creates the directory on a tmpfs copy of the read-only directory", check: fails(0, "made\n")},

	// Options newer than Debian's bwrap 0.8, against bwrap(1)'s text.
	{name: "argv0", args: cat(B, w("--argv0", "renamed"), sh(`tr '\0' ' ' < /proc/$$/cmdline; echo`)),
		differs: "bwrap 0.8 does not know --argv0 (0.9)", check: fails(0, "renamed -c tr '\\0' ' ' < /proc/$$/cmdline; echo \n")},
	{name: "level-prefix", args: w("--level-prefix", "--frobnicate"), differs: "bwrap 0.8 does not know --level-prefix (0.11)",
		check: func(t *testing.T, bw, nk *outcome) {
			if nk.code != 1 || nk.stderr != "<3>bwrap: Unknown option --frobnicate\n" {
				t.Errorf("nook: exit %d stderr %q", nk.code, nk.stderr)
			}
		}},
	{name: "tmp-overlay", args: cat(B, w("--overlay-src", "/etc", "--tmp-overlay", "/etc"), sh("echo x > /etc/nook-diff && cat /etc/nook-diff; test -e /etc/hostname && echo lower")),
		differs: "bwrap 0.8 has no overlays (0.11)", check: fails(0, "x\nlower\n")},
	{name: "ro-overlay", args: cat(B, w("--overlay-src", "/etc", "--overlay-src", "/usr/share/doc", "--ro-overlay", "/o"), sh("test -e /o/hostname && test -d /o/bash && echo both; touch /o/x 2>/dev/null || echo refused")),
		differs: "bwrap 0.8 has no overlays (0.11)", check: fails(0, "both\nrefused\n")},
	{name: "overlay with a host upper", args: cat(B, w("--overlay-src", "/etc", "--overlay", "@T@/up", "@T@/wk", "/etc"), sh("echo x > /etc/nook-diff && echo wrote")),
		differs: "bwrap 0.8 has no overlays (0.11)", check: func(t *testing.T, bw, nk *outcome) {
			if bw.code != 1 {
				t.Errorf("bwrap 0.8 accepted --overlay")
			}
			// The upper and work directories must exist beforehand, as
			// for overlayfs itself: nook reports the failure as bwrap would.
			if nk.code != 1 || !strings.HasPrefix(nk.stderr, "bwrap: ") {
				t.Errorf("nook without upper/work dirs: %s", nk)
			}
		}},
	{name: "overlay-src without an overlay", args: cat(B, w("--overlay-src", "/etc", "true")), differs: "bwrap 0.8 has no overlays (0.11)",
		check: func(t *testing.T, bw, nk *outcome) {
			if nk.code != 1 || !strings.HasPrefix(nk.stderr, "bwrap: ") {
				t.Errorf("nook: %s", nk)
			}
		}},

	// User namespaces inside.
	{name: "disable-userns", who: "user", args: cat(w("--unshare-user", "--disable-userns"), B,
		sh(probeIDs+"; "+probeCaps+"; unshare -U true 2>&1; echo $?; cat /proc/sys/user/max_user_namespaces"))},
	{name: "disable-userns under pid 1 with the assertion", who: "user", args: cat(w("--unshare-user", "--unshare-pid", "--disable-userns", "--assert-userns-disabled"), B,
		sh("unshare -U true 2>&1; echo $?"))},
	{name: "assert-userns-disabled when it is not", args: cat(w("--assert-userns-disabled"), B, w("true"))},
	{name: "disable-userns needs a user namespace", args: cat(w("--disable-userns"), B, w("true"))},
	{name: "disable-userns as root", who: "root", args: cat(w("--unshare-user", "--disable-userns"), B, sh(probeIDs+"; "+probeCaps+"; unshare -U true 2>&1; echo $?"))},
	{name: "disable-userns with a capability", who: "user", args: cat(w("--unshare-user", "--disable-userns", "--cap-add", "CAP_NET_ADMIN"), B, sh(probeCaps+"; unshare -U true 2>&1; echo $?; "+probeFds))},
	{name: "disable-userns with a seccomp program", who: "user", in: map[int]string{3: allowAll}, args: cat(w("--unshare-user", "--disable-userns", "--seccomp", "3"), B, sh("unshare -U true 2>&1; echo $?"))},
}

func init() {
	if runtime.GOARCH == "amd64" {
		diffCases = append(diffCases, diffCase{name: "seccomp refuses uname", in: map[int]string{3: unameFilter()},
			args: cat(w("--seccomp", "3"), B, sh("uname -s 2>/dev/null || echo refused; echo ran"))})
	}
}
