package deployment

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/log"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/tools/gateway"
)

func TestRestartMidRolloutResumes(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.production()
	task := e.task("run-restart", pipeline(t, healthyCanary))
	ctx := context.Background()
	// First coordinator: drive until the canary is at 25%, then "crash"
	// (stop calling it, drop its gateway and agent).
	var first []string
	for range 20 {
		st, done, err := e.agent.Reconcile(ctx, task)
		require.NoError(t, err)
		require.False(t, done)
		first = append(first, phaseLabel(st))
		if st.Phase == PhaseCanary && st.Weight == 25 {
			break
		}
		e.traffic(400)
		e.clock.Advance(30 * time.Second)
	}
	require.Equal(t, "canary:25", first[len(first)-1])
	require.NoError(t, e.agent.Close())

	// Second coordinator: a new gateway restored from the store keeps the
	// 25% split, and a new agent continues from the stored state.
	e.newGateway()
	rt, ok := e.gw.Routes("fraud")
	require.True(t, ok)
	require.Equal(t, 25, rt.CandidateWeight)
	e.agent = e.newAgent()
	st, seen := e.drive(e.agent, task, 400, 30*time.Second, 20, nil)
	require.Equal(t, PhasePromoted, st.Phase, st.Reason)
	for _, s := range seen {
		require.NotContains(t, []string{"shadow", "canary:5", "smoke", "pending"}, s, "a completed step ran again: %v", seen)
	}
	require.Equal(t, []string{"canary:25", "canary:50", "canary:100", "promoted"}, compact(seen))
	// every step was audited exactly once across both coordinators
	require.Len(t, e.audit.OfType("deploy.step"), 4)
	require.Len(t, e.audit.OfType("deploy.started"), 1)
	require.Len(t, e.audit.OfType("deploy.promoted"), 1)
	// every analysis window was audited as it was judged, once, across
	// both coordinators: what --wait prints for each window
	var windows []string
	for _, ev := range e.audit.OfType("deploy.analysed") {
		windows = append(windows, fmt.Sprintf("%v:%v:%v", ev.Data["phase"], ev.Data["weight"], ev.Data["verdict"]))
		require.NotEmpty(t, ev.Data["checks"])
	}
	require.Equal(t, []string{"shadow:0:successful", "canary:5:successful", "canary:25:successful",
		"canary:50:successful", "canary:100:successful"}, windows)
}

const blueGreen = `deploy:
  strategy: bluegreen
  min_requests: 5
  bluegreen: {rollback_window: 2m, interval: 30s, checks: {error_rate: {max: 0.01}}}
`

func TestBlueGreen(t *testing.T) {
	t.Parallel()
	t.Run("promotes after the rollback window", func(t *testing.T) {
		t.Parallel()
		e := setup(t)
		e.production()
		task := e.task("run-bg", pipeline(t, blueGreen))
		var during []gateway.ReplayResult
		st, seen := e.drive(e.agent, task, 200, 30*time.Second, 20, func(st State) {
			if st.Phase == PhaseSwitch {
				// all traffic on green at once, blue still in the table
				rt, _ := e.gw.Routes("fraud")
				require.Equal(t, gateway.ModeBlueGreen, rt.Mode)
				require.Equal(t, 100, rt.CandidateWeight)
				require.Equal(t, "v1", rt.Stable.Version)
				during = append(during, e.traffic(50))
			}
		})
		require.Equal(t, PhasePromoted, st.Phase, st.Reason)
		require.Equal(t, []string{"bluegreen", "promoted"}, compact(seen))
		require.NotEmpty(t, during)
		for _, r := range during {
			require.Equal(t, map[string]int{"v2": 50}, r.ByVersion)
		}
		require.Equal(t, 2*time.Minute, st.FinishedAt.Sub(st.SwitchedAt))
		require.Contains(t, e.agent.report(st).Summary, "blue-green switch watched for 2m0s")
		require.Equal(t, []string{"deploy.started", "deploy.upstream_checked", "deploy.switch",
			"deploy.analysed", "deploy.analysed", "deploy.analysed", "deploy.analysed", "deploy.promoted"}, e.audit.Types())
	})
	t.Run("green fails in the window: instant rollback to blue", func(t *testing.T) {
		t.Parallel()
		e := setup(t)
		e.production()
		task := e.task("run-bg-fail", pipeline(t, blueGreen))
		st, seen := e.drive(e.agent, task, 200, 30*time.Second, 20, func(st State) {
			if st.Phase == PhaseSwitch {
				e.cand.status.Store(500)
			}
		})
		requireRolledBack(t, e, st, "blue-green rollback window: error_rate 1 is above the maximum 0.01")
		require.Equal(t, []string{"bluegreen", "rolled_back"}, compact(seen))
	})
}

func TestManualControls(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("pause holds, resume continues, promote skips ahead", func(t *testing.T) {
		t.Parallel()
		e := setup(t)
		e.production()
		task := e.task("run-manual", pipeline(t, healthyCanary))
		st, _, err := e.agent.Reconcile(ctx, task)
		require.NoError(t, err)
		require.Equal(t, PhaseShadow, st.Phase)
		_, err = e.agent.Pause(ctx, "run-manual", "alice")
		require.NoError(t, err)
		for range 5 {
			e.traffic(100)
			e.clock.Advance(time.Minute)
			st, _, err = e.agent.Reconcile(ctx, task)
			require.NoError(t, err)
			require.Equal(t, PhaseShadow, st.Phase, "a paused rollout must not advance")
		}
		_, err = e.agent.Resume(ctx, "run-manual", "alice")
		require.NoError(t, err)
		st, _, err = e.agent.Reconcile(ctx, task)
		require.NoError(t, err)
		require.Nil(t, st.Paused)
		require.Equal(t, e.clock.Now(), st.WindowStart, "the window restarts on resume")
		_, err = e.agent.Promote(ctx, "run-manual", "bob")
		require.NoError(t, err)
		st, done, err := e.agent.Reconcile(ctx, task)
		require.NoError(t, err)
		require.True(t, done)
		require.Equal(t, PhasePromoted, st.Phase)
		rep := e.agent.report(st)
		require.Equal(t, agents.Pass, rep.Verdict)
		require.Equal(t, "deploy.manual_promote", rep.Findings[0].Code)
		promoted := e.audit.OfType("deploy.promoted")
		require.Equal(t, "bob", promoted[0].Actor)
		require.Equal(t, []string{"deploy.started", "deploy.upstream_checked", "deploy.paused", "deploy.resumed", "deploy.promote_requested", "deploy.promoted"}, e.audit.Types())
		// controls on a finished rollout are refused
		_, err = e.agent.Abort(ctx, "run-manual", "carol", "too late")
		require.ErrorIs(t, err, ErrFinished)
		_, err = e.agent.Pause(ctx, "no-such-run", "carol")
		require.ErrorIs(t, err, ErrNoRollout)
	})
	t.Run("abort rolls back with the reason", func(t *testing.T) {
		t.Parallel()
		e := setup(t)
		e.production()
		task := e.task("run-abort", pipeline(t, healthyCanary))
		st, _ := e.drive(e.agent, task, 200, 30*time.Second, 20, func(st State) {
			if st.Phase == PhaseCanary {
				_, err := e.agent.Abort(ctx, "run-abort", "carol", "saw bad reviews")
				require.NoError(t, err)
			}
		})
		requireRolledBack(t, e, st, "aborted by carol: saw bad reviews")
		require.Equal(t, "carol", e.audit.OfType("deploy.rollback")[0].Actor)
	})
}

func TestManualRollbackRestoresPrevious(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.production()
	ctx := context.Background()
	task := e.task("run-rb", pipeline(t, faultCanary))
	st, _ := e.drive(e.agent, task, 300, 30*time.Second, 20, nil)
	require.Equal(t, PhasePromoted, st.Phase, st.Reason)

	prod, err := e.agent.Rollback(ctx, RollbackParams{Model: "fraud", Actor: "dave", Reason: "complaints"})
	require.NoError(t, err)
	require.Equal(t, "v1", prod.Version)
	require.Equal(t, "v2", prod.Previous)
	got, err := e.store.ProductionGet(ctx, "fraud", "production")
	require.NoError(t, err)
	require.Equal(t, "v1", got.Version)
	res := e.traffic(30)
	require.Equal(t, map[string]int{"v1": 30}, res.ByVersion)
	rb := e.audit.OfType("deploy.rollback")
	require.Len(t, rb, 1)
	require.Equal(t, "dave", rb[0].Actor)
	require.Equal(t, true, rb[0].Data["manual"])
	require.Equal(t, "v2", rb[0].Data["from"])

	// Rolling back again flips to v2, the previous one now.
	prod, err = e.agent.Rollback(ctx, RollbackParams{Model: "fraud", Actor: "dave"})
	require.NoError(t, err)
	require.Equal(t, "v2", prod.Version)
	_, err = e.agent.Rollback(ctx, RollbackParams{Model: "nope", Actor: "dave"})
	require.ErrorIs(t, err, store.ErrNotFound)
}

func TestManualRollbackWithoutPrevious(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.production()
	_, err := e.agent.Rollback(context.Background(), RollbackParams{Model: "fraud", Actor: "dave"})
	require.ErrorIs(t, err, ErrNoPrevious)
}

func TestFirstVersionDeploysAsStable(t *testing.T) {
	t.Parallel()
	e := setup(t)
	task := e.task("run-first", pipeline(t, healthyCanary))
	require.Nil(t, task.Production)
	st, seen := e.drive(e.agent, task, 0, time.Second, 5, nil)
	require.Equal(t, PhasePromoted, st.Phase, st.Reason)
	require.Equal(t, []string{"promoted"}, compact(seen))
	rep := e.agent.report(st)
	require.Equal(t, "deploy.first_version", rep.Findings[0].Code)
	rt, ok := e.gw.Routes("fraud")
	require.True(t, ok)
	require.Equal(t, "v2", rt.Stable.Version)
	prod, err := e.store.ProductionGet(context.Background(), "fraud", "production")
	require.NoError(t, err)
	require.Equal(t, "v2", prod.Version)
	require.Empty(t, prod.Previous)
	require.Equal(t, map[string]int{"v2": 20}, e.traffic(20).ByVersion)
}

// TestRunWithWallClock runs the whole loop as the coordinator does, with
// real time (short windows) and clients replaying the holdout meanwhile.
// PSI is off: over 250 ms windows its noise, not the model, would decide.
func TestRunWithWallClock(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.production()
	a := New(Options{Store: e.store, Gateway: e.gw, Recorder: e.audit, Logger: log.New(nil)})
	defer a.Close()
	cfg := pipeline(t, `deploy:
  strategy: canary
  tick: 20ms
  min_requests: 5
  shadow: {duration: 300ms, checks: {agreement: {min: 0.9}}}
  canary: {steps: [20, 60, 100], interval: 250ms, checks: {score_psi: {off: true}}}
`)
	task := e.task("run-wall", cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	trafficCtx, stop := context.WithCancel(ctx)
	wg.Add(1)
	var replay gateway.ReplayResult
	go func() {
		defer wg.Done()
		replay, _ = gateway.Replay(trafficCtx, gateway.ReplayOptions{URL: e.gwSrv.URL, Model: "fraud", Rows: e.rows, RPS: 400, Duration: time.Minute, Concurrency: 4})
	}()
	rep, err := a.Run(ctx, task)
	stop()
	wg.Wait()
	require.NoError(t, err)
	require.Equal(t, agents.Pass, rep.Verdict, rep.Summary)
	require.Equal(t, 3.0, rep.Metrics["canary.step"])
	require.Equal(t, replay.Sent, replay.OK, "%+v", replay)
	require.Greater(t, replay.ByVersion["v2"], 0)

	// Run on a cancelled context says it was interrupted, retriably.
	e2 := setup(t)
	e2.production()
	cctx, ccancel := context.WithCancel(context.Background())
	ccancel()
	_, err = e2.agent.Run(cctx, e2.task("run-cancel", cfg))
	require.Error(t, err)
	require.ErrorIs(t, err, context.Canceled)
}
