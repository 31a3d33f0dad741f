package deployment

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/tools/gateway"
)

const faultCanary = `deploy:
  strategy: canary
  min_requests: 5
  canary:
    steps: [10, 50, 100]
    interval: 30s
    max_failed_checks: 2
    checks: {error_rate: {max: 0.01}, latency_p99_ms: {max: 250}, score_psi: {max: 2.0}, score_ks: {max: 0.85}}
`

// requireRolledBack checks everything a rollback promises: the verdict
// and reason, production untouched, all traffic back on stable, audited.
func requireRolledBack(t *testing.T, e *env, st State, reason string) agents.Report {
	t.Helper()
	require.Equal(t, PhaseRolledBack, st.Phase)
	require.Contains(t, st.Reason, reason)
	rep := e.agent.report(st)
	require.Equal(t, agents.Fail, rep.Verdict)
	require.Equal(t, "deploy.rollback", rep.Findings[0].Code)
	require.Equal(t, st.Reason, rep.Findings[0].Message)
	require.Contains(t, rep.Summary, "all traffic is back on v1")
	prod, err := e.store.ProductionGet(context.Background(), "fraud", "production")
	require.NoError(t, err)
	require.Equal(t, "v1", prod.Version)
	rt, ok := e.gw.Routes("fraud")
	require.True(t, ok)
	require.Equal(t, "v1", rt.Stable.Version)
	require.Nil(t, rt.Candidate)
	require.Equal(t, gateway.ModeStable, rt.Mode)
	res := e.traffic(40)
	require.Equal(t, map[string]int{"v1": 40}, res.ByVersion)
	rb := e.audit.OfType("deploy.rollback")
	require.Len(t, rb, 1)
	require.Equal(t, st.Reason, rb[0].Data["reason"])
	require.Equal(t, "v1", rb[0].Data["restored"])
	return rep
}

func TestCanaryRollsBackOnFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		inject func(e *env)
		reason string
	}{
		{"5xx", func(e *env) { e.cand.status.Store(503) }, "error_rate"},
		{"malformed body", func(e *env) { e.cand.broken.Store(true) }, "error_rate"},
		{"down", func(e *env) { e.cand.Close() }, "error_rate"},
		{"slow", func(e *env) { e.cand.delay.Store(int64(400 * time.Millisecond)) }, "latency_p99_ms"},
		{"garbage scores", func(e *env) { e.cand.garbage.Store(true) }, "score_ks"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			e.production()
			task := e.task("run-"+strings.ReplaceAll(tc.name, " ", "-"), pipeline(t, faultCanary))
			injected := false
			st, seen := e.drive(e.agent, task, 300, 30*time.Second, 20, func(st State) {
				if st.Phase == PhaseCanary && !injected {
					tc.inject(e)
					injected = true
				}
			})
			require.True(t, injected, "%v", seen)
			rep := requireRolledBack(t, e, st, tc.reason)
			// two failed windows at the first step, then rollback
			require.Equal(t, []string{"canary:10", "rolled_back"}, compact(seen))
			require.Equal(t, 2.0, rep.Metrics["canary.failed_checks"])
			require.NotEmpty(t, rep.Findings[0].Evidence["analysis"])
		})
	}
}

func TestSmokeFailureNeverRoutesTraffic(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.production()
	task := e.task("run-smoke", pipeline(t, faultCanary))
	e.cand.broken.Store(true)
	st, seen := e.drive(e.agent, task, 10, time.Second, 5, nil)
	requireRolledBack(t, e, st, "smoke test failed: holdout row 1")
	require.Equal(t, []string{"rolled_back"}, compact(seen))
	calls := e.cand.calls.Load()
	e.traffic(100)
	require.Equal(t, calls, e.cand.calls.Load(), "no client request may reach a candidate that failed its smoke test")
}

func TestNoDataRollsBack(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.production()
	task := e.task("run-nodata", pipeline(t, faultCanary))
	ctx := context.Background()
	var st State
	for range 10 {
		var done bool
		var err error
		st, done, err = e.agent.Reconcile(ctx, task)
		require.NoError(t, err)
		if done {
			break
		}
		e.clock.Advance(30 * time.Second) // no traffic at all
	}
	requireRolledBack(t, e, st, "no data: 3 analysis windows in a row were inconclusive")
}

func TestCandidateCrashMidCanary(t *testing.T) {
	t.Parallel()
	e := setup(t)
	// Both versions are local processes (real subprocesses running the
	// V2 model server) that the agent starts and supervises.
	ctx := context.Background()
	cfg := pipeline(t, faultCanary)
	task := agents.Task{RunID: "run-crash", Stage: Stage, Model: "fraud", Environment: "production", Config: cfg,
		Candidate:  agents.Candidate{Version: "v2", ArtifactPath: candModel, Digest: fileDigest(t, candModel)},
		Production: &agents.Production{Version: "v1", ArtifactPath: prodModel, Digest: fileDigest(t, prodModel)}, Logger: e.task("x", cfg).Logger}
	killed := false
	st, seen := e.drive(e.agent, task, 200, 30*time.Second, 20, func(st State) {
		if st.Phase == PhaseCanary && st.Weight == 50 && !killed {
			e.agent.mu.Lock()
			srv := e.agent.servers[serverKey("fraud", "v2")]
			stable := e.agent.servers[serverKey("fraud", "v1")]
			e.agent.mu.Unlock()
			require.NotNil(t, srv)
			// The stable server dying is survivable: it is restarted.
			require.NoError(t, stable.cmd.Process.Kill())
			<-stable.done
			require.NoError(t, srv.cmd.Process.Kill())
			<-srv.done
			killed = true
			// The next tick restarts stable and sees the candidate's crash.
			st, done, err := e.agent.Reconcile(ctx, task)
			require.NoError(t, err)
			require.True(t, done)
			require.Equal(t, PhaseRolledBack, st.Phase)
		}
	})
	require.True(t, killed, "%v", seen)
	require.Equal(t, PhaseRolledBack, st.Phase)
	require.Contains(t, st.Reason, "the candidate's model server (version v2) exited during the rollout")
	require.Equal(t, []string{"canary:10", "canary:50", "rolled_back"}, compact(seen))
	require.Len(t, e.audit.OfType("deploy.rollback"), 1)
	rt, ok := e.gw.Routes("fraud")
	require.True(t, ok)
	require.Equal(t, "v1", rt.Stable.Version)
	require.Nil(t, rt.Candidate)
	res := e.traffic(30) // the restarted stable server answers
	require.Equal(t, map[string]int{"v1": 30}, res.ByVersion)
	_, err := e.store.ProductionGet(ctx, "fraud", "production")
	require.Error(t, err, "production was never set: the rollout did not promote")
}

// TestBrokenModelRolledBack is the demo's broken candidate: a real XGBoost
// model whose scores are garbage (testdata/deploy/model-broken.json) passes
// the smoke test and is rolled back by the default score checks.
func TestBrokenModelRolledBack(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.production()
	e.cand = serveModel(t, "fraud", "../../testdata/deploy/model-broken.json")
	task := e.task("run-broken", pipeline(t, "deploy: {min_requests: 10, canary: {steps: [10, 50, 100]}}\n"))
	task.Candidate.Digest = fileDigest(t, "../../testdata/deploy/model-broken.json") // what was approved
	st, seen := e.drive(e.agent, task, 300, 30*time.Second, 20, nil)
	rep := requireRolledBack(t, e, st, "score_psi")
	require.Equal(t, []string{"canary:10", "rolled_back"}, compact(seen))
	require.Greater(t, rep.Metrics["canary.score_psi"], 0.2)
	t.Log(rep.Summary)
}
