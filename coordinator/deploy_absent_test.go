package coordinator_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/internal/oversight"
	"github.com/modelgate/modelgate/internal/store"
)

// TestNoDeploySectionPromotesInRegistryOnly is the README's sentence: a
// config without a deploy section is promoted in the registry only. It
// used to start a default canary that, with no live traffic, could only
// roll back. With the section, the deploy agent runs.
func TestNoDeploySectionPromotesInRegistryOnly(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		extra      string
		wantDeploy bool
		wantShare  float64
	}{
		{"no deploy section", "", false, 1},
		{"deploy section", "deploy: {target: {upstream: 'http://127.0.0.1:9'}, canary: {steps: [10, 50]}}\n", true, 0.5},
		{"deploy section, skipped", "deploy: {target: {upstream: 'http://127.0.0.1:9'}}\nstages: {skip: [deploy]}\n", false, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var share float64
			decider := deciderFunc(func(_ context.Context, in oversight.Input) (oversight.Decision, error) {
				share = in.Deploy.MaxTrafficShare
				return oversight.Decision{ID: "d", Allow: true, Risk: "low"}, nil
			})
			deployed := func(context.Context, agents.Task, int64) (agents.Report, error) {
				return agents.Report{Verdict: agents.Pass, Metrics: map[string]float64{}}, nil
			}
			b := setup(t, setupOpts{decider: decider, fns: map[string]func(context.Context, agents.Task, int64) (agents.Report, error){"deploy": deployed}})
			cfg := b.pipelineYAML(t, "")
			if tc.extra != "" {
				// stages: may appear once: the extra's replaces the helper's.
				cfg = []byte("model: fraud\ntask: binary\ncandidate: {artifact: model.json}\n" + tc.extra)
			}
			run := b.wait(t, b.submit(t, cfg).ID, false)
			require.Equal(t, store.RunSucceeded, run.State, run.Error)
			require.Equal(t, tc.wantDeploy, b.agents["deploy"].calls.Load() > 0)
			require.InDelta(t, tc.wantShare, share, 1e-9)
			stages, err := b.store.StageList(context.Background(), run.ID)
			require.NoError(t, err)
			for _, st := range stages {
				if st.Name == "deploy" && !tc.wantDeploy {
					require.Equal(t, store.StageSkipped, st.State)
				}
			}
			if tc.wantDeploy {
				return // the deployment agent promotes at the end of its rollout
			}
			v, err := b.store.ProductionGet(context.Background(), "fraud", "production")
			require.NoError(t, err, "promoted in the registry")
			require.NotEmpty(t, v.Version)
		})
	}
}
