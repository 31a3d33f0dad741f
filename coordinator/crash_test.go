package coordinator_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/internal/store/sqlite"
)

var (
	childOnce sync.Once
	childBin  string
	childErr  error
)

// buildChild compiles the crash child once per test binary.
func buildChild(t *testing.T) string {
	t.Helper()
	childOnce.Do(func() {
		dir, err := os.MkdirTemp("", "crashchild")
		if err != nil {
			childErr = err
			return
		}
		childBin = filepath.Join(dir, "crashchild")
		out, err := exec.Command("go", "build", "-o", childBin, "./internal/crashchild").CombinedOutput()
		if err != nil {
			childErr = fmt.Errorf("build crash child: %w\n%s", err, out)
		}
	})
	require.NoError(t, childErr)
	return childBin
}

type child struct {
	cmd *exec.Cmd
}

func startChild(t *testing.T, bin, dir string, submit int) *child {
	t.Helper()
	cmd := exec.Command(bin, "-db", filepath.Join(dir, "modelgate.db"), "-journal", filepath.Join(dir, "journal"),
		"-submit", itoa(submit), "-delay", "120ms")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err, "child did not start")
	require.Equal(t, "ready\n", line)
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	return &child{cmd: cmd}
}

func (c *child) kill(t *testing.T) {
	t.Helper()
	require.NoError(t, c.cmd.Process.Signal(syscall.SIGKILL))
	_, _ = c.cmd.Process.Wait()
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// snapshot is what the store says was durably completed at a kill.
type snapshot struct {
	stagesDone map[string]bool // "run stage"
	stepsDone  map[string]int  // run -> deploy steps done
	runs       []store.Run
}

func readSnapshot(t *testing.T, dir string) snapshot {
	t.Helper()
	s, err := loadSnapshot(dir)
	require.NoError(t, err)
	return s
}

// waitFor polls the store until cond holds.
func waitFor(t *testing.T, dir string, what string, cond func(snapshot) bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if s, err := loadSnapshot(dir); err == nil && cond(s) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// loadSnapshot reads what the store holds; waitFor polls it while the
// child writes, so an error there is only "not yet".
func loadSnapshot(dir string) (snapshot, error) {
	s := snapshot{stagesDone: map[string]bool{}, stepsDone: map[string]int{}}
	st, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(dir, "modelgate.db")})
	if err != nil {
		return s, err
	}
	defer st.Close()
	return snapshotOf(st)
}

// snapshotOf reads what a store holds (failover_test.go reads Redis).
func snapshotOf(st store.Store) (snapshot, error) {
	s := snapshot{stagesDone: map[string]bool{}, stepsDone: map[string]int{}}
	var err error
	ctx := context.Background()
	if s.runs, err = st.RunList(ctx, store.RunListParams{Limit: 1000}); err != nil {
		return s, err
	}
	for _, r := range s.runs {
		stages, err := st.StageList(ctx, r.ID)
		if err != nil {
			return s, err
		}
		for _, x := range stages {
			if x.State == store.StageSucceeded {
				s.stagesDone[r.ID+" "+x.Name] = true
			}
		}
		ro, err := st.RolloutGet(ctx, r.ID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return s, err
		}
		var d struct{ Done int }
		if err := json.Unmarshal(ro.Data, &d); err != nil {
			return s, err
		}
		s.stepsDone[r.ID] = d.Done
	}
	return s, nil
}

// journalLines splits the journal into accepted runs and, per life of
// the child, the lines that life wrote.
func journalLines(t *testing.T, dir string) (accepted []string, lives [][]string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "journal"))
	require.NoError(t, err)
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		switch {
		case strings.HasPrefix(l, "life "):
			lives = append(lives, nil)
		case strings.HasPrefix(l, "accepted "):
			accepted = append(accepted, strings.TrimPrefix(l, "accepted "))
		default:
			lives[len(lives)-1] = append(lives[len(lives)-1], l)
		}
	}
	return accepted, lives
}

func TestCrashResume(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a child process")
	}
	t.Parallel()
	bin := buildChild(t)
	const runs = 3
	anyStage := func(stage string) func(snapshot) bool {
		return func(s snapshot) bool {
			for k := range s.stagesDone {
				if strings.HasSuffix(k, " "+stage) {
					return true
				}
			}
			return false
		}
	}
	points := []struct {
		name string
		cond func(snapshot) bool
	}{
		{"right after the runs were accepted", func(s snapshot) bool { return len(s.runs) == runs }},
		{"after validation, during the parallel stages", anyStage("validate")},
		{"after the parallel stages", anyStage("evaluate")},
		{"in the middle of a rollout", func(s snapshot) bool {
			for _, d := range s.stepsDone {
				if d >= 2 {
					return true
				}
			}
			return false
		}},
	}
	for _, p := range points {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			c := startChild(t, bin, dir, runs)
			waitFor(t, dir, p.name, p.cond)
			c.kill(t)
			before := readSnapshot(t, dir)

			c = startChild(t, bin, dir, 0)
			waitFor(t, dir, "every run terminal", func(s snapshot) bool {
				if len(s.runs) != runs {
					return false
				}
				for _, r := range s.runs {
					if !r.State.Terminal() {
						return false
					}
				}
				return true
			})
			c.kill(t)
			after := readSnapshot(t, dir)

			accepted, lives := journalLines(t, dir)
			require.Len(t, accepted, runs)
			require.Len(t, lives, 2)
			byID := map[string]store.Run{}
			for _, r := range after.runs {
				byID[r.ID] = r
			}
			for _, id := range accepted {
				r, ok := byID[id]
				require.True(t, ok, "accepted run %s was lost", id)
				require.Equal(t, store.RunSucceeded, r.State, "run %s: %s", id, r.Error)
				require.Equal(t, 4, after.stepsDone[id])
			}
			// nothing completed before the kill ran again after it
			for _, l := range lives[1] {
				f := strings.Fields(l)
				switch f[0] {
				case "start":
					require.False(t, before.stagesDone[f[1]+" "+f[2]], "stage %s of %s ran again after it had completed", f[2], f[1])
				case "step":
					require.Greater(t, atoi(f[2]), before.stepsDone[f[1]], "deploy step %s of %s repeated", f[2], f[1])
				}
			}
		})
	}
}

func atoi(s string) int {
	var n int
	_ = json.Unmarshal([]byte(s), &n)
	return n
}
