package session

import (
	"archive/tar"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nook-project/nook/internal/tartest"
	"github.com/nook-project/nook/sandbox"
)

// ent is one entry of a test tarball.
type ent = tartest.Entry

func makeTar(t *testing.T, ents []ent) []byte { return tartest.Make(t, ents) }

// Fixtures are made by the tests themselves: the test users may not be
// able to read the checkout.

// busyboxApplets are linked in the test chroots.
var busyboxApplets = []string{"sh", "cat", "echo", "id", "ls", "stat", "touch", "mkdir", "rm", "chown", "hostname", "pwd", "grep", "wc", "sleep", "test", "env", "whoami", "mount", "readlink", "sync"}

// busyboxTar returns a small chroot as a tar archive: busybox-static, a
// passwd with root, two device nodes (which must be skipped), and extra.
func busyboxTar(t *testing.T, extra ...ent) []byte {
	t.Helper()
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatalf("the session tests need a static busybox at /bin/busybox (apt-get install busybox-static): %v", err)
	}
	ents := []ent{{Name: "./", Type: tar.TypeDir}}
	for _, d := range []string{"bin", "etc", "proc", "sys", "dev", "root", "home"} {
		ents = append(ents, ent{Name: "./" + d + "/", Type: tar.TypeDir})
	}
	ents = append(ents, ent{Name: "./tmp/", Type: tar.TypeDir, Mode: 0o1777},
		ent{Name: "./bin/busybox", Type: tar.TypeReg, Mode: 0o755, Body: string(bb)},
		ent{Name: "./etc/passwd", Type: tar.TypeReg, Body: "root:x:0:0:root:/root:/bin/sh\nbuilder:x:1500:1500::/home/builder:/bin/sh\n"},
		ent{Name: "./etc/group", Type: tar.TypeReg, Body: "root:x:0:\nbuilder:x:1500:\n"},
		ent{Name: "./home/builder/", Type: tar.TypeDir, UID: 1500, GID: 1500},
		ent{Name: "./dev/null", Type: tar.TypeChar, Mode: 0o666},
		ent{Name: "./dev/zero", Type: tar.TypeChar, Mode: 0o666},
	)
	for _, a := range busyboxApplets {
		ents = append(ents, ent{Name: "./bin/" + a, Type: tar.TypeSymlink, Link: "busybox"})
	}
	ents = append(ents, extra...)
	return makeTar(t, ents)
}

// compressWith pipes data through a compressor's command line tool.
func compressWith(t *testing.T, c Compression, data []byte) []byte {
	t.Helper()
	tool := map[Compression][]string{Gzip: {"gzip", "-c"}, Xz: {"xz", "-c", "-T1"}, Zstd: {"zstd", "-c", "-q"}, Bzip2: {"bzip2", "-c"}}[c]
	if tool == nil {
		return data
	}
	cmd := exec.Command(tool[0], tool[1:]...)
	cmd.Stdin = bytes.NewReader(data)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s (test/setup-host.sh installs it): %v %s", strings.Join(tool, " "), err, errb.String())
	}
	return out.Bytes()
}

// testStore returns a store in a fresh directory (not the user's own), and
// makes sure no session or cache file survives the test.
func testStore(t *testing.T) *Store {
	t.Helper()
	base := t.TempDir()
	d := Dirs{Config: filepath.Join(base, "config"), Cache: filepath.Join(base, "cache"), State: filepath.Join(base, "state"), SbuildCache: filepath.Join(base, "sbuild")}
	s := OpenDirs(d)
	s.Registry.SchrootConf = filepath.Join(base, "schroot", "schroot.conf")
	s.Registry.SchrootDir = filepath.Join(base, "schroot", "chroot.d")
	t.Cleanup(func() {
		// Files of subordinate ids cannot be removed by t.TempDir's
		// cleanup; end what the test left and empty the cache.
		list, _ := s.List()
		for _, st := range list {
			s.End(st.ID, nil)
		}
		s.Prune()
	})
	return s
}

// addTarball writes data as a tarball and defines chroot name for it.
func addTarball(t *testing.T, s *Store, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(filepath.Dir(s.Dirs.Config), name+".tarball")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Registry.Add(name, p, nil, ""); err != nil {
		t.Fatalf("chroot add: %v", err)
	}
	return p
}

func begin(t *testing.T, s *Store, chroot string) *BeginResult {
	t.Helper()
	res, err := s.Begin(chroot, BeginOptions{})
	if err != nil {
		t.Fatalf("begin %s: %v", chroot, err)
	}
	return res
}

// result is what a command in a session did.
type result struct {
	out, err string
	code     int
	startErr error
}

// runIn runs one command in a session, capturing its output.
func runIn(t *testing.T, s *Store, id string, o RunOptions, stdin string) result {
	t.Helper()
	cmd, err := s.Prepare(id, o)
	if err != nil {
		return result{startErr: err, code: -1}
	}
	defer cmd.Close()
	dir := t.TempDir()
	files := make([]*os.File, 3)
	for i, n := range []string{"in", "out", "err"} {
		f, err := os.OpenFile(filepath.Join(dir, n), os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		files[i] = f
	}
	files[0].WriteString(stdin)
	files[0].Seek(0, 0)
	cmd.Spec.Stdin, cmd.Spec.Stdout, cmd.Spec.Stderr = files[0], files[1], files[2]
	st, err := sandbox.Run(cmd.Spec)
	out, _ := os.ReadFile(filepath.Join(dir, "out"))
	errb, _ := os.ReadFile(filepath.Join(dir, "err"))
	if err != nil {
		return result{out: string(out), err: string(errb), startErr: err, code: -1}
	}
	return result{out: string(out), err: string(errb), code: st.ExitCode()}
}

// sh runs a shell script as root in the session and fails the test when
// it does not exit 0.
func sh(t *testing.T, s *Store, id, script string) string {
	t.Helper()
	r := runIn(t, s, id, RunOptions{Args: []string{"sh", "-c", script}}, "")
	if r.code != 0 {
		t.Fatalf("%q in %s: exit %d, %v\nstdout: %s\nstderr: %s", script, id, r.code, r.startErr, r.out, r.err)
	}
	return r.out
}
