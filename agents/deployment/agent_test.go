package deployment

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/tools/gateway"
)

const healthyCanary = `deploy:
  strategy: canary
  min_requests: 5
  shadow: {duration: 1m, share: 1.0, checks: {agreement: {min: 0.9}}}
  canary:
    steps: [5, 25, 50, 100]
    interval: 30s
    max_failed_checks: 2
    checks: {error_rate: {max: 0.01}, latency_p99_ms: {max: 2000}, score_psi: {max: 2.0}}
`

func TestShadowCanaryPromotes(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.production()
	task := e.task("run-canary", pipeline(t, healthyCanary))
	st, seen := e.drive(e.agent, task, 400, 30*time.Second, 40, nil)
	require.Equal(t, PhasePromoted, st.Phase, "reason: %s", st.Reason)
	require.Equal(t, []string{"shadow", "canary:5", "canary:25", "canary:50", "canary:100", "promoted"}, compact(seen))

	ctx := context.Background()
	prod, err := e.store.ProductionGet(ctx, "fraud", "production")
	require.NoError(t, err)
	require.Equal(t, "v2", prod.Version)
	require.Equal(t, "v1", prod.Previous)
	mv, err := e.store.ModelVersionGet(ctx, "fraud", "v2")
	require.NoError(t, err)
	require.Equal(t, e.cand.URL, mv.Endpoint)
	rt, ok := e.gw.Routes("fraud")
	require.True(t, ok)
	require.Equal(t, "v2", rt.Stable.Version)
	require.Nil(t, rt.Candidate)
	require.Equal(t, gateway.ModeStable, rt.Mode)
	res := e.traffic(50)
	require.Equal(t, map[string]int{"v2": 50}, res.ByVersion)

	rep := e.agent.report(st)
	require.Equal(t, agents.Pass, rep.Verdict)
	require.Equal(t, 4.0, rep.Metrics["canary.step"])
	require.Greater(t, rep.Metrics["shadow.agreement"], 0.9)
	require.Greater(t, rep.Metrics["shadow.requests"], 100.0)
	require.Contains(t, rep.Summary, "canary 5%→25%→50%→100%")
	t.Logf("metrics: %v", rep.Metrics)
	// shadow window, then each step opened and its window judged
	require.Equal(t, []string{"deploy.started", "deploy.upstream_checked", "deploy.analysed",
		"deploy.step", "deploy.analysed", "deploy.step", "deploy.analysed", "deploy.step", "deploy.analysed", "deploy.step", "deploy.analysed",
		"deploy.promoted"}, e.audit.Types())
	require.Equal(t, "v2", e.audit.OfType("deploy.promoted")[0].Data["version"])

	// Run on a finished rollout returns its report without doing anything.
	again, err := e.agent.Run(ctx, task)
	require.NoError(t, err)
	require.Equal(t, agents.Pass, again.Verdict)
	require.Len(t, e.audit.Types(), 12)
	var details State
	require.NoError(t, json.Unmarshal(again.Details, &details))
	require.Equal(t, PhasePromoted, details.Phase)
}
