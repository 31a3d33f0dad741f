package deployment

import (
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/charmbracelet/log"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/tools/gateway"
)

// remoteGateway is a second gateway that shares only the store with the
// agent: it follows the route tables by Load and publishes its windows by
// Publish, as `modelgate gateway --store ...` does on its timers.
type remoteGateway struct {
	gw  *gateway.Gateway
	srv *httptest.Server
}

func (e *env) remote() *remoteGateway {
	gw, err := gateway.New(gateway.Options{Routes: e.store, Logger: log.New(io.Discard), Timeout: 2 * time.Second})
	require.NoError(e.t, err)
	e.t.Cleanup(func() { gw.Close() })
	srv := httptest.NewServer(gw)
	e.t.Cleanup(srv.Close)
	return &remoteGateway{gw: gw, srv: srv}
}

func (e *env) sharedAgent() *Agent {
	a := New(Options{Store: e.store, Gateway: e.gw, Measurements: Shared{Local: e.gw, Windows: e.store},
		Recorder: e.audit, Clock: e.clock, Logger: log.New(io.Discard), ServeBinary: serveBinary()})
	e.t.Cleanup(func() { a.Close() })
	return a
}

// replay sends n holdout rows to url; every client must get an answer.
func (e *env) replay(url string, n int) gateway.ReplayResult {
	e.t.Helper()
	res, err := gateway.Replay(context.Background(), gateway.ReplayOptions{URL: url, Model: "fraud", Rows: e.rows, Requests: n, Concurrency: 8})
	require.NoError(e.t, err)
	require.Equal(e.t, n, res.OK, "clients must always get an answer: %+v", res)
	return res
}

// driveSplit reconciles tick by tick, sending local requests through the
// agent's own gateway and remote ones through r (which reloads the routes
// first and publishes its window after), until the rollout ends.
func (e *env) driveSplit(a *Agent, r *remoteGateway, task agents.Task, local, remote int, after func(st State, l, rr gateway.ReplayResult)) State {
	e.t.Helper()
	ctx := context.Background()
	for range 30 {
		st, done, err := a.Reconcile(ctx, task)
		require.NoError(e.t, err)
		if done {
			return st
		}
		require.NoError(e.t, r.gw.Load(ctx))
		var lr, rr gateway.ReplayResult
		if local > 0 {
			lr = e.replay(e.gwSrv.URL, local)
		}
		if remote > 0 {
			rr = e.replay(r.srv.URL, remote)
		}
		require.NoError(e.t, r.gw.Publish(ctx, e.store))
		if after != nil {
			after(st, lr, rr)
		}
		e.clock.Advance(30 * time.Second)
	}
	e.t.Fatal("rollout did not finish in 30 ticks")
	return State{}
}

const splitCanary = `deploy:
  strategy: canary
  min_requests: 75
  canary:
    steps: [50, 100]
    interval: 30s
    max_failed_checks: 1
    checks: {error_rate: {max: 0.01}, latency_p99_ms: {max: 2000}, score_psi: {max: 2.0}}
`

// A rollout whose whole traffic goes through a separate gateway, linked to
// the agent by nothing but the store, is judged on that gateway's traffic:
// a healthy candidate is promoted, a failing one rolled back for its
// errors, and an agent that reads only its own gateway sees no data.
func TestRolloutJudgedOnStandaloneGateway(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		shared bool
		inject func(e *env)
		phase  string
		reason string
	}{
		{"healthy candidate promoted on the remote gateway's traffic", true, func(*env) {}, PhasePromoted, ""},
		{"failing candidate rolled back on the remote gateway's errors", true, func(e *env) { e.cand.status.Store(503) }, PhaseRolledBack, "error_rate"},
		{"an agent reading only its own gateway has no data", false, func(*env) {}, PhaseRolledBack, "no data"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			e.production()
			a := e.agent
			if tc.shared {
				a = e.sharedAgent()
			}
			task := e.task("run-remote", pipeline(t, splitCanary))
			r := e.remote()
			// the fault starts once the smoke test has passed and the canary runs
			st := e.driveSplit(a, r, task, 0, 200, func(st State, _, _ gateway.ReplayResult) {
				if st.Phase == PhaseCanary {
					tc.inject(e)
				}
			})
			require.Equal(t, tc.phase, st.Phase, st.Reason)
			require.Contains(t, st.Reason, tc.reason)
			if tc.shared {
				var judged uint64
				for _, h := range st.History {
					judged += h.Analysis.Candidate.Requests
				}
				require.Positive(t, judged, "the analyses counted the remote gateway's candidate requests")
			}
		})
	}
}

// With two gateways each carrying half the traffic, neither alone reaches
// min_requests for the candidate at the 50% step, and the analysis decides
// on both together: its candidate count is exactly the sum of what the two
// gateways routed to it.
func TestCanaryCountsEveryGateway(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.production()
	a := e.sharedAgent()
	task := e.task("run-split", pipeline(t, splitCanary))
	r := e.remote()
	var windowV2 []int // candidate answers per gateway in the 50% window
	analysed := false
	st := e.driveSplit(a, r, task, 100, 100, func(st State, l, rr gateway.ReplayResult) {
		if st.Phase == PhaseCanary && st.Weight == 50 && windowV2 == nil {
			windowV2 = []int{l.ByVersion["v2"], rr.ByVersion["v2"]}
		}
		for _, h := range st.History {
			if h.Phase == PhaseCanary && h.Weight == 50 && !analysed {
				analysed = true
				require.Equal(t, Successful, h.Analysis.Phase, "%+v", h.Analysis)
				require.Equal(t, uint64(windowV2[0]+windowV2[1]), h.Analysis.Candidate.Requests,
					"the candidate's requests are the sum over both gateways")
				require.Less(t, windowV2[0], 75, "one gateway alone would be below min_requests")
				require.Less(t, windowV2[1], 75, "one gateway alone would be below min_requests")
			}
		}
	})
	require.True(t, analysed)
	require.Equal(t, PhasePromoted, st.Phase, st.Reason)
}

// A published window that does not decode is an error naming its
// gateway, not silently a smaller sample.
func TestSharedRefusesABadWindow(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	require.NoError(t, e.store.WindowPut(ctx, "fraud", "gw-bad", json.RawMessage(`{"gateway":"gw-bad","model":"other"}`)))
	_, err := Shared{Local: e.gw, Windows: e.store}.Mark(ctx, "fraud")
	require.ErrorContains(t, err, "gw-bad")
	require.ErrorContains(t, err, `names model "other"`)
}
