package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/modelgate/modelgate/internal/api"
	"github.com/modelgate/modelgate/internal/auth"
	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/internal/store/redis"
)

const (
	faultAdmin  = "admin-token-0123456789abcdef"
	faultWorker = "worker-token-0123456789abcdef"
	faultCI     = "ci-token-0123456789abcdefgh"
)

// faultConfig is the demo's model checked in staging, promoted in the
// registry with no rollout: the run ends by itself once its checks pass.
const faultConfig = `model: tumor-classifier
task: binary
label: target
environment: staging
data: {reference: train.csv, holdout: holdout.csv}
candidate: {artifact: model-candidate.json, version: v2}
evaluation:
  thresholds: {roc_auc: {min: 0.9}}
`

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// modelgateBinary builds this command once per test binary.
func modelgateBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "modelgate-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "modelgate")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	require.NoError(t, binErr)
	return binPath
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

// proc is a child process whose stderr lines are kept for the test.
type proc struct {
	cmd   *exec.Cmd
	mu    sync.Mutex
	lines []string
	wait  chan struct{}
}

func start(t *testing.T, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, args...), wait: make(chan struct{})}
	stderr, err := p.cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, p.cmd.Start())
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.mu.Unlock()
		}
		_ = p.cmd.Wait()
		close(p.wait)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.wait
		if t.Failed() {
			t.Logf("%s %s:\n%s", filepath.Base(bin), args[0], strings.Join(p.log(), "\n"))
		}
	})
	return p
}

func (p *proc) log() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

// waitLine waits for a stderr line containing every one of parts.
func (p *proc) waitLine(t *testing.T, d time.Duration, parts ...string) string {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		for _, l := range p.log() {
			ok := true
			for _, s := range parts {
				ok = ok && strings.Contains(l, s)
			}
			if ok {
				return l
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no line with %q within %s", parts, d)
	return ""
}

type faultRig struct {
	bin, url, prefix, api, dir string
	st                         store.Store
}

// rig starts a server on Redis with test, scan and evaluate remote.
func rig(t *testing.T, maxDeliveries int) *faultRig {
	t.Helper()
	url := os.Getenv("MODELGATE_TEST_REDIS")
	if url == "" {
		if os.Getenv("MODELGATE_CI") == "1" {
			t.Fatal("MODELGATE_TEST_REDIS is not set but MODELGATE_CI=1")
		}
		t.Skip("MODELGATE_TEST_REDIS is not set")
	}
	r := &faultRig{bin: modelgateBinary(t), url: url, prefix: "mgfault:" + uuid.NewString() + ":", dir: t.TempDir()}
	st, err := redis.Open(context.Background(), redis.Options{URL: url, Prefix: r.prefix})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.DeleteAll(context.Background()); st.Close() })
	r.st = st

	ws := filepath.Join(r.dir, "ws")
	require.NoError(t, os.MkdirAll(ws, 0o755))
	for _, f := range []string{"train.csv", "holdout.csv", "model-candidate.json"} {
		b, err := os.ReadFile(filepath.Join("../../internal/app/demo/example", f))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(ws, f), b, 0o644))
	}
	b, err := yaml.Marshal(auth.File{Tokens: []auth.Token{
		{Token: faultAdmin, Name: "ada", Roles: []string{"admin"}},
		{Token: faultWorker, Name: "w", Roles: []string{"worker"}},
		{Token: faultCI, Name: "ci-bot", Roles: []string{"ci"}},
	}})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(r.dir, "tokens.yaml"), b, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(r.dir, "worker.token"), []byte(faultWorker+"\n"), 0o600))

	addr := freeAddr(t)
	r.api = "http://" + addr
	start(t, r.bin, "server", "--store", url, "--store-prefix", r.prefix, "--data-dir", filepath.Join(r.dir, "srv"),
		"--tokens", filepath.Join(r.dir, "tokens.yaml"), "--addr", addr, "--gateway-addr", freeAddr(t), "--workspace", ws,
		"--remote-stages", "test,scan,evaluate", "--task-claim-idle", "1500ms", "--task-max-deliveries", fmt.Sprint(maxDeliveries))
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(r.api + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		require.True(t, time.Now().Before(deadline), "server not ready")
		time.Sleep(100 * time.Millisecond)
	}
	return r
}

func (r *faultRig) worker(t *testing.T, name string, delay time.Duration) *proc {
	return start(t, r.bin, "worker", "--server", r.api, "--token-file", filepath.Join(r.dir, "worker.token"), "--name", name,
		"--agents", "testing,security,evaluation", "--data-dir", filepath.Join(r.dir, name), "--test-stage-delay", delay.String(),
		"--concurrency", "3")
}

func (r *faultRig) submit(t *testing.T) string {
	t.Helper()
	body, err := json.Marshal(api.RunRequest{Config: faultConfig, BaseDir: filepath.Join(r.dir, "ws")})
	require.NoError(t, err)
	req, err := http.NewRequest("POST", r.api+"/v1/runs", strings.NewReader(string(body)))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+faultAdmin)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	require.Equal(t, 201, resp.StatusCode, "%s", data)
	var run store.Run
	require.NoError(t, json.Unmarshal(data, &run))
	return run.ID
}

func (r *faultRig) terminal(t *testing.T, id string, d time.Duration) store.Run {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		run, err := r.st.RunGet(context.Background(), id)
		require.NoError(t, err)
		if run.State.Terminal() {
			return run
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("run %s not terminal within %s", id, d)
	return store.Run{}
}

func (r *faultRig) audit(t *testing.T, typ string) []map[string]any {
	t.Helper()
	es, err := r.st.AuditList(context.Background(), store.AuditListParams{Type: typ})
	require.NoError(t, err)
	var out []map[string]any
	for _, e := range es {
		var m map[string]any
		require.NoError(t, json.Unmarshal(e.Data, &m))
		out = append(out, m)
	}
	return out
}

// TestKillWorkerMidTask: a worker killed with SIGKILL while it holds a
// task; the other worker takes that task once it has gone unreported for
// ClaimIdle, every stage's report is stored exactly once (one attempt,
// one task.reported), and the run completes.
func TestKillWorkerMidTask(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and kills its processes")
	}
	t.Parallel()
	r := rig(t, 5)
	a := r.worker(t, "a", 30*time.Second) // never finishes on its own in this test
	id := r.submit(t)
	claimed := a.waitLine(t, 60*time.Second, "task claimed", id)
	b := r.worker(t, "b", 0)
	require.NoError(t, a.cmd.Process.Kill()) // SIGKILL, mid-task
	<-a.wait

	run := r.terminal(t, id, 90*time.Second)
	require.Equal(t, store.RunSucceeded, run.State, run.Error)
	// b finished a's task as its second delivery
	stage := strings.Fields(claimed[strings.Index(claimed, "stage="):])[0]
	b.waitLine(t, time.Second, "task claimed", id, stage, "deliveries=2")

	stages, err := r.st.StageList(context.Background(), id)
	require.NoError(t, err)
	for _, s := range stages {
		if s.Name == "test" || s.Name == "scan" || s.Name == "evaluate" {
			require.Equal(t, store.StageSucceeded, s.State, s.Name)
			require.Equal(t, 1, s.Attempt, "%s: the stage ran once as far as the run knows", s.Name)
		}
	}
	reported := map[string]int{}
	for _, e := range r.audit(t, "task.reported") {
		require.Equal(t, true, e["stored"])
		require.Equal(t, "w/b", e["worker"], "the dead worker reported nothing")
		reported[e["stage"].(string)]++
	}
	require.Equal(t, map[string]int{"test": 1, "scan": 1, "evaluate": 1}, reported)
}

// TestTaskDeliveredTooOftenIsDeadLettered: with --task-max-deliveries 1,
// the task of a killed worker is not run again: it goes to the dead-letter
// stream, is audited, and its stage fails the run with the reason.
func TestTaskDeliveredTooOftenIsDeadLettered(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and kills its processes")
	}
	t.Parallel()
	r := rig(t, 1)
	a := r.worker(t, "a", 30*time.Second)
	id := r.submit(t)
	claimed := a.waitLine(t, 60*time.Second, "task claimed", id)
	stage := strings.TrimPrefix(strings.Fields(claimed[strings.Index(claimed, "stage="):])[0], "stage=")
	r.worker(t, "b", 0)
	require.NoError(t, a.cmd.Process.Kill())
	<-a.wait

	run := r.terminal(t, id, 90*time.Second)
	require.Equal(t, store.RunFailed, run.State)
	require.Regexp(t, `^(test|scan|evaluate) stage: task given up on \(dead-lettered\): delivered 2 times \(more than 1\)`, run.Error)
	// a held the tasks it was handed (its concurrency is 3; one claim may
	// hand it several, and it may die before it logs them all). The first
	// one given up fails the run, and the run's end withdraws its
	// siblings' tasks, so a sibling may be withdrawn before it is given
	// up: at least one is dead-lettered, and none twice.
	dead := r.audit(t, "task.dead_lettered")
	require.NotEmpty(t, dead)
	seen := map[string]bool{}
	for _, d := range dead {
		st := d["stage"].(string)
		require.False(t, seen[st], "given up twice: %v", d)
		seen[st] = true
	}
	stages, err := r.st.StageList(context.Background(), id)
	require.NoError(t, err)
	byName := map[string]store.Stage{}
	for _, s := range stages {
		byName[s.Name] = s
	}
	for _, d := range dead {
		require.EqualValues(t, 2, d["deliveries"])
	}
	// the stage that failed the run (its siblings were cancelled with it)
	first := strings.Fields(run.Error)[0]
	require.True(t, seen[first], "%s failed the run but was not dead-lettered", first)
	require.Equal(t, store.StageFailed, byName[first].State)
	require.Contains(t, byName[first].Error, "dead-lettered")
	require.NotEmpty(t, byName[stage])
	for _, e := range r.audit(t, "task.reported") {
		for _, d := range dead {
			require.NotEqual(t, d["stage"], e["stage"], "a dead-lettered task ran again")
		}
	}
}
