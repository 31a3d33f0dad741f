package training_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/agents/training"
	"github.com/modelgate/modelgate/internal/config"
)

// helperEnv makes the test binary play a server that trains: the crash
// test kills it with SIGKILL, as an operator or the OOM killer would.
const helperEnv = "MODELGATE_TEST_TRAINING_SERVER"

func TestMain(m *testing.M) {
	if marker := os.Getenv(helperEnv); marker != "" {
		os.Exit(playServer(marker))
	}
	os.Exit(m.Run())
}

// playServer trains with a command whose own child (a grandchild of the
// server, as a data loader's worker would be) sleeps for a minute.
func playServer(marker string) int {
	dir := os.Getenv("MODELGATE_TEST_WORKDIR")
	cfg := &config.Pipeline{Train: &config.Train{
		Command: []string{"sh", "-c", "sleep " + marker + " & echo started > " + filepath.Join(dir, "started") + "; wait"},
	}}
	a := training.New(training.Options{})
	_, err := a.Run(context.Background(), agents.Task{RunID: "r1", Config: cfg, BaseDir: dir, WorkDir: dir, Attempt: 1})
	fmt.Fprintln(os.Stderr, err)
	return 1
}

// processesWith lists live (not zombie) processes whose command line
// is exactly argv.
func processesWith(t *testing.T, argv ...string) []string {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatalf("read /proc: %v", err)
	}
	var found []string
	for _, e := range ents {
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || string(cmdline) != strings.Join(argv, "\x00")+"\x00" {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// The state follows the parenthesised command name.
		if i := strings.LastIndexByte(string(stat), ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
			continue
		}
		found = append(found, e.Name()+": "+strings.ReplaceAll(string(cmdline), "\x00", " "))
	}
	return found
}

// A kill -9 of the server must take the whole training tree with it:
// Pdeathsig alone reaches only the direct child, and a grandchild left
// behind would keep writing into the artifact folder of a resumed run.
func TestTrainingTreeDiesWithServer(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("needs Linux /proc")
	}
	tests := []struct {
		name   string
		marker string
	}{
		{"grandchild of the server", fmt.Sprintf("61.%d", time.Now().UnixNano()%1_000_000)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			exe, err := os.Executable()
			if err != nil {
				t.Fatalf("executable: %v", err)
			}
			cmd := exec.Command(exe, "-test.run=^$")
			cmd.Env = append(os.Environ(), helperEnv+"="+tc.marker, "MODELGATE_TEST_WORKDIR="+dir)
			if err := cmd.Start(); err != nil {
				t.Fatalf("start server: %v", err)
			}
			t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
			deadline := time.Now().Add(20 * time.Second)
			for {
				if _, err := os.Stat(filepath.Join(dir, "started")); err == nil && len(processesWith(t, "sleep", tc.marker)) > 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("training never started")
				}
				time.Sleep(20 * time.Millisecond)
			}
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatalf("kill server: %v", err)
			}
			_ = cmd.Wait()
			deadline = time.Now().Add(5 * time.Second)
			for {
				left := processesWith(t, "sleep", tc.marker)
				if len(left) == 0 {
					return
				}
				if time.Now().After(deadline) {
					for _, p := range left {
						if pid, err := strconvAtoi(strings.SplitN(p, ":", 2)[0]); err == nil {
							_ = syscall.Kill(pid, syscall.SIGKILL)
						}
					}
					t.Fatalf("training processes outlived the server: %v", left)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

func strconvAtoi(s string) (int, error) {
	var n int
	_, err := fmt.Sscanf(s, "%d", &n)
	return n, err
}

// Each attempt writes into a folder of its own, and a rerun of the same
// attempt starts from an empty one.
func TestAttemptsWriteIntoTheirOwnFolder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := &config.Pipeline{Train: &config.Train{
		Command: []string{"sh", "-c", `test ! -e "$0/model.json" || { echo leftover; exit 7; }; echo m > "$0/model.json"`, "{{.ArtifactDir}}"},
	}}
	a := training.New(training.Options{})
	tests := []struct {
		attempt int
		wantDir string
	}{
		{1, "attempt-1"},
		{2, "attempt-2"},
		{2, "attempt-2"},
	}
	for _, tc := range tests {
		rep, err := a.Run(context.Background(), agents.Task{RunID: "r1", Config: cfg, BaseDir: dir, WorkDir: dir, Attempt: tc.attempt})
		if err != nil {
			t.Fatalf("attempt %d: %v", tc.attempt, err)
		}
		var d training.Details
		if err := json.Unmarshal(rep.Details, &d); err != nil {
			t.Fatalf("details: %v", err)
		}
		if got := filepath.Base(filepath.Dir(d.ArtifactPath)); got != tc.wantDir {
			t.Fatalf("attempt %d wrote into %s, want %s", tc.attempt, got, tc.wantDir)
		}
	}
}
