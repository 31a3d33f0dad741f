package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/log"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/agents/deployment"
	"github.com/modelgate/modelgate/internal/config"
	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/internal/store/sqlite"
	"github.com/modelgate/modelgate/tools/gateway"
	"github.com/modelgate/modelgate/tools/model"
	"github.com/modelgate/modelgate/tools/sign"
)

// TestGatewayHelper is the subprocess of TestRolloutThroughGatewayProcess:
// a real `modelgate gateway` process.
func TestGatewayHelper(t *testing.T) {
	if os.Getenv("MODELGATE_GATEWAY_HELPER") == "" {
		t.Skip("subprocess of TestRolloutThroughGatewayProcess")
	}
	os.Exit(execute(strings.Fields(os.Getenv("MODELGATE_GATEWAY_HELPER")), os.Stdout, os.Stderr))
}

type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) After(time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	ch <- c.Now()
	return ch
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func serveFixture(t *testing.T, name, path string) (*httptest.Server, string) {
	t.Helper()
	p, err := model.Load(path)
	require.NoError(t, err)
	digest, _, err := sign.FileDigest(path)
	require.NoError(t, err)
	srv := httptest.NewServer(model.NewServer(model.ServerOptions{Models: map[string]model.Predictor{name: p},
		Logger: log.New(io.Discard), Versions: map[string]string{name: digest}}))
	t.Cleanup(srv.Close)
	return srv, digest
}

// A rollout whose clients all go through a separate `modelgate gateway`
// process, sharing only the SQLite file with the deployment agent, is
// judged on that process's traffic: the canary analyses count the
// requests the process routed to the candidate, and the candidate is
// promoted. An agent reading only its own in-process gateway would see
// nothing (TestRolloutJudgedOnStandaloneGateway in agents/deployment).
func TestRolloutThroughGatewayProcess(t *testing.T) {
	t.Parallel()
	const fixtures = "../../testdata/deploy/"
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(dir, sqlite.FileName)})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	stable, _ := serveFixture(t, "fraud", fixtures+"model-production.json")
	cand, candDigest := serveFixture(t, "fraud", fixtures+"model-candidate.json")
	clock := &testClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}

	local, err := gateway.New(gateway.Options{Routes: st, Logger: log.New(io.Discard)})
	require.NoError(t, err)
	t.Cleanup(func() { local.Close() })
	require.NoError(t, st.ModelVersionPut(ctx, store.ModelVersion{Model: "fraud", Version: "v1", Digest: "sha256:" + strings.Repeat("1", 64),
		Endpoint: stable.URL, CreatedAt: clock.Now()}))
	none := ""
	_, err = st.ProductionSet(ctx, store.ProductionSetParams{Model: "fraud", Environment: "production", Version: "v1", ExpectVersion: &none})
	require.NoError(t, err)
	require.NoError(t, local.SetRoutes(ctx, "fraud", gateway.RouteTable{Model: "fraud", Stable: gateway.Backend{Version: "v1", URL: stable.URL}, Mode: gateway.ModeStable}))

	// the gateway process
	cmd := exec.Command(os.Args[0], "-test.run=^TestGatewayHelper$")
	cmd.Env = append(os.Environ(), "MODELGATE_GATEWAY_HELPER=gateway --addr 127.0.0.1:0 --store sqlite://"+filepath.Join(dir, sqlite.FileName)+
		" --reload 20ms --publish 20ms")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err, stderr.String())
	base, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	require.True(t, ok, line)

	agent := deployment.New(deployment.Options{Store: st, Gateway: local, Measurements: deployment.Shared{Local: local, Windows: st},
		Clock: clock, Logger: log.New(io.Discard), Actor: "test"})
	t.Cleanup(func() { agent.Close() })
	cfg, err := config.Parse("modelgate.yaml", []byte(`model: fraud
task: binary
data: {holdout: `+fixtures+`holdout.csv}
candidate: {endpoint: http://127.0.0.1:1}
deploy:
  strategy: canary
  min_requests: 30
  canary:
    steps: [50, 100]
    interval: 30s
    max_failed_checks: 1
    checks: {error_rate: {max: 0.01}, score_psi: {max: 2.0}}
`))
	require.NoError(t, err)
	task := agents.Task{RunID: "run-process", Stage: deployment.Stage, Model: "fraud", Environment: "production", Config: cfg,
		Candidate:  agents.Candidate{Version: "v2", Endpoint: cand.URL, Digest: candDigest},
		Production: &agents.Production{Version: "v1", Endpoint: stable.URL}, Logger: log.New(io.Discard)}
	_, rows, err := deployment.ReadRows(fixtures+"holdout.csv", "target", 0)
	require.NoError(t, err)

	var state deployment.State
	for range 20 {
		var done bool
		state, done, err = agent.Reconcile(ctx, task)
		require.NoError(t, err)
		if done {
			break
		}
		// the process follows the stored routes on its own timer
		want, _ := local.Routes("fraud")
		require.Eventually(t, func() bool {
			raw, err := st.RouteGet(ctx, "fraud")
			if err != nil {
				return false
			}
			got, err := gateway.DecodeRouteTable("fraud", raw)
			return err == nil && got.CandidateWeight == want.CandidateWeight
		}, 5*time.Second, 5*time.Millisecond)
		time.Sleep(100 * time.Millisecond) // > --reload: the process has installed them
		res, err := gateway.Replay(ctx, gateway.ReplayOptions{URL: base, Model: "fraud", Rows: rows, Requests: 100, Concurrency: 4})
		require.NoError(t, err)
		require.Equal(t, 100, res.OK)
		time.Sleep(100 * time.Millisecond) // > --publish: the process has published the traffic
		clock.advance(30 * time.Second)
	}
	require.Equal(t, deployment.PhasePromoted, state.Phase, state.Reason)
	var judged uint64
	for _, h := range state.History {
		judged += h.Analysis.Candidate.Requests
	}
	require.GreaterOrEqual(t, judged, uint64(60), "the canary steps counted the process's candidate traffic")
	windows, err := st.WindowList(ctx, "fraud")
	require.NoError(t, err)
	require.Len(t, windows, 1, "the process published one window")
}

func TestGatewayPublishIntervalMustBePositive(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"0s", "-1s"} {
		var stdout, stderr strings.Builder
		require.Equal(t, 2, execute([]string{"gateway", "--publish", v, "--data-dir", t.TempDir()}, &stdout, &stderr), v)
		require.Contains(t, stderr.String(), "--publish must be positive")
	}
}

// Windows of gateways that stopped publishing a day ago are pruned; this
// gateway's own, a recent one and one that does not decode are kept.
func TestPruneWindowsOfDeadGateways(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(t.TempDir(), sqlite.FileName)})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	now := time.Now().UTC()
	put := func(g string, at time.Time) {
		raw, err := json.Marshal(gateway.Window{Gateway: g, Model: "m", At: at})
		require.NoError(t, err)
		require.NoError(t, st.WindowPut(ctx, "m", g, raw))
	}
	put("self", now.Add(-48*time.Hour))
	put("dead", now.Add(-48*time.Hour))
	put("alive", now.Add(-time.Minute))
	require.NoError(t, st.WindowPut(ctx, "m", "garbled", json.RawMessage(`{"gateway":"garbled","model":"other"}`)))
	require.NoError(t, pruneWindows(ctx, st, "self", []string{"m"}, now.Add(-windowTTL)))
	all, err := st.WindowList(ctx, "m")
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"self", "alive", "garbled"}, slices.Collect(maps.Keys(all)))
}
