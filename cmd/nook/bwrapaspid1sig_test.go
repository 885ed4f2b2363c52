package main

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestBwrapAsPID1ChildPidSignal: with --as-pid-1, a signal sent to the
// child-pid that --info-fd reports reaches the command, as with bwrap
// (where that pid is the command). nook's child-pid is its pid 1, the guard
// above the command's pid namespace: before it passed SIGTERM on, the
// signal was dropped and nook ran on until killed (both engines).
func TestBwrapAsPID1ChildPidSignal(t *testing.T) {
	nk := nookAsBwrap(t)
	for _, engine := range []string{"", "init"} {
		name := engine
		if name == "" {
			name = "raw"
		}
		t.Run(name, func(t *testing.T) {
			infoR, infoW, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer infoR.Close()
			cmd := bwrapCmd(nk, "--unshare-user", "--unshare-pid", "--as-pid-1", "--ro-bind", "/", "/", "--dev", "/dev",
				"--info-fd", "3", "--", "sh", "-c", `trap "exit 55" TERM; echo ready; sleep 100 & wait`)
			cmd.Env = append(cmd.Env, "NOOK_ENGINE="+engine)
			cmd.ExtraFiles = []*os.File{infoW}
			cmd.Stderr = os.Stderr
			stdout, _ := cmd.StdoutPipe()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			infoW.Close()
			// Not deadlockGuard: its report can come after the subtest.
			var hung atomic.Bool
			timer := time.AfterFunc(30*time.Second, func() { hung.Store(true); cmd.Process.Kill() })
			defer timer.Stop()
			var info struct {
				ChildPid int `json:"child-pid"`
			}
			if err := json.NewDecoder(infoR).Decode(&info); err != nil || info.ChildPid <= 0 {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("info: %+v, %v", info, err)
			}
			if l, _ := bufio.NewReader(stdout).ReadString('\n'); l != "ready\n" {
				t.Errorf("the command said %q, want ready", l)
			}
			if err := syscall.Kill(info.ChildPid, syscall.SIGTERM); err != nil {
				t.Errorf("kill child-pid %d: %v", info.ChildPid, err)
			}
			go io.Copy(io.Discard, stdout)
			err = cmd.Wait()
			if hung.Load() {
				t.Error("still running 30 s after the SIGTERM (killed)")
			}
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 55 {
				t.Errorf("nook ended with %v, want 55: the command did not get the SIGTERM sent to child-pid", err)
			}
		})
	}
}
