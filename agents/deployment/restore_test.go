package deployment

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/log"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/tools/gateway"
)

// TestProductionSurvivesRestart: after a local candidate is promoted, the
// process dies (its model servers with it). Before the fix every request
// answered 502 until the next rollout; the restarted process restores the
// route to a fresh server, from the verified artifact, before traffic.
func TestProductionSurvivesRestart(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	// v1 in production: same scores as v2 (a retrain), so the canary passes.
	e.stable = serveModel(t, "fraud", candModel)
	require.NoError(t, e.store.ModelVersionPut(ctx, store.ModelVersion{Model: "fraud", Version: "v1", Digest: "sha256:" + strings.Repeat("1", 64),
		Endpoint: e.stable.URL, CreatedAt: e.clock.Now()}))
	none := ""
	_, err := e.store.ProductionSet(ctx, store.ProductionSetParams{Model: "fraud", Environment: "production", Version: "v1", ExpectVersion: &none})
	require.NoError(t, err)
	require.NoError(t, e.gw.SetRoutes(ctx, "fraud", gateway.RouteTable{Model: "fraud", Stable: gateway.Backend{Version: "v1", URL: e.stable.URL}, Mode: gateway.ModeStable}))
	cfg := pipeline(t, "deploy: {min_requests: 10, canary: {steps: [50, 100]}}\n") // the default checks: identical scores must pass them
	task := agents.Task{RunID: "run-restart", Stage: Stage, Model: "fraud", Environment: "production", Config: cfg,
		Candidate:  agents.Candidate{Version: "v2", ArtifactPath: candModel, Digest: fileDigest(t, candModel)},
		Production: &agents.Production{Version: "v1", Endpoint: e.stable.URL}, Logger: log.New(io.Discard)}
	// 400 requests a window: enough scores per version that a PSI above
	// 0.2 between identical models is beyond chance (with 100, about one
	// run in ten drew three inconclusive windows and rolled back).
	st, seen := e.drive(e.agent, task, 400, 30*time.Second, 20, nil)
	require.Equal(t, PhasePromoted, st.Phase, "%v %s", seen, st.Reason)
	require.Equal(t, map[string]int{"v2": 20}, e.traffic(20).ByVersion)

	// The process dies: its children die with it (Pdeathsig).
	require.NoError(t, e.agent.Close())
	e.newGateway() // a new process loads the stored routes
	res, err := gateway.Replay(ctx, gateway.ReplayOptions{URL: e.gwSrv.URL, Model: "fraud", Rows: e.rows, Requests: 5, Concurrency: 1})
	require.NoError(t, err)
	require.Zero(t, res.OK, "without a restore the route points at a dead port")

	e.agent = e.newAgent()
	require.NoError(t, e.agent.RestoreLocal(context.Background()))
	require.Equal(t, map[string]int{"v2": 30}, e.traffic(30).ByVersion, "production answers again, from the promoted version")
	require.NoError(t, e.agent.RestoreLocal(context.Background()), "restoring twice is harmless")
	require.Len(t, e.agent.servers, 1, "and starts no second server")
}
