package coordinator_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/coordinator"
	"github.com/modelgate/modelgate/internal/oversight"
	"github.com/modelgate/modelgate/internal/store"
)

// TestRepromoteReusesEvidence: an earlier, trained version is promoted
// again. Its measuring stages and its training are not run again (their
// stored reports are the evidence the policy reads), the policy decides
// anew and sees the registry trigger, the commit author is kept (so they
// still cannot approve it), and production serves the version's own
// digest. A policy that refuses such promotions refuses it.
func TestRepromoteReusesEvidence(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen []oversight.Input
	decide := func(_ context.Context, in oversight.Input) (oversight.Decision, error) {
		mu.Lock()
		seen = append(seen, in)
		mu.Unlock()
		if in.Run.Labels["registry.reason"] == "refuse me" {
			return oversight.Decision{ID: "d-deny", Deny: []oversight.Reason{{Code: "registry.refused", Message: "not again"}}, Risk: "high"}, nil
		}
		return oversight.Decision{ID: "d-allow", Allow: true, Risk: "low"}, nil
	}
	b := setup(t, setupOpts{decider: deciderFunc(decide)})
	ctx := context.Background()
	counter := filepath.Join(b.dir, "trained")
	trained := func(version, body string) []byte {
		src := filepath.Join(b.dir, version+".json")
		require.NoError(t, os.WriteFile(src, []byte(body), 0o644))
		return []byte(`model: fraud
task: binary
candidate: {artifact: model.json, version: ` + version + `}
train:
  command: [/bin/sh, -c, "echo x >> ` + counter + `; cp ` + src + ` {{.ArtifactDir}}/model.json"]
  timeout: 20s
`)
	}
	submit := func(cfg []byte) store.Run {
		run, _, err := b.coord.Submit(ctx, coordinator.SubmitParams{Config: cfg, File: "modelgate.yaml", BaseDir: b.dir,
			Requester: "ci-bot", CommitAuthor: "ana", Labels: map[string]string{"commit": "c1"}})
		require.NoError(t, err)
		run = b.wait(t, run.ID, false)
		require.Equal(t, store.RunSucceeded, run.State, run.Error)
		return run
	}
	v1 := submit(trained("v1", `{"learner":{"v":1}}`))
	v2 := submit(trained("v2", `{"learner":{"v":2}}`))
	require.NotEqual(t, v1.Candidate.Digest, v2.Candidate.Digest)
	prod, err := b.store.ProductionGet(ctx, "fraud", "production")
	require.NoError(t, err)
	require.Equal(t, "v2", prod.Version)
	calls := map[string]int64{}
	for s, a := range b.agents {
		calls[s] = a.calls.Load()
	}

	again, err := b.coord.Repromote(ctx, coordinator.RepromoteParams{Model: "fraud", Version: "v1", Requester: "olga", Reason: "v2 regressed on FR"})
	require.NoError(t, err)
	require.Equal(t, "registry", again.Trigger)
	again = b.wait(t, again.ID, false)
	require.Equal(t, store.RunSucceeded, again.State, again.Error)
	require.Equal(t, v1.Candidate.Digest, again.Candidate.Digest, "the version's own artifact")
	prod, err = b.store.ProductionGet(ctx, "fraud", "production")
	require.NoError(t, err)
	require.Equal(t, "v1", prod.Version)

	for s, a := range b.agents {
		require.Equal(t, calls[s], a.calls.Load(), "stage %s ran again", s)
	}
	out, err := os.ReadFile(counter)
	require.NoError(t, err)
	require.Equal(t, 2, strings.Count(string(out), "x"), "training ran for v1 and v2 only")

	mu.Lock()
	last := seen[len(seen)-1]
	mu.Unlock()
	require.Equal(t, "registry", last.Run.Trigger, "the policy knows what it judges")
	require.Equal(t, "ana", last.Run.CommitAuthor, "the version's author, who may not approve it")
	require.Equal(t, v1.ID, last.Run.Labels["registry.evidence_run"])
	require.Contains(t, last.Reports, "evaluate", "the stored evidence reaches the policy")
	accepted := b.rec.OfType("run.accepted")
	require.Equal(t, v1.ID, accepted[len(accepted)-1].Data["evidence_run"])

	// A policy that refuses it: denied, production unchanged.
	denied, err := b.coord.Repromote(ctx, coordinator.RepromoteParams{Model: "fraud", Version: "v2", Requester: "olga", Reason: "refuse me"})
	require.NoError(t, err)
	denied = b.wait(t, denied.ID, false)
	require.Equal(t, store.RunFailed, denied.State)
	require.Contains(t, denied.Error, "registry.refused")
	prod, err = b.store.ProductionGet(ctx, "fraud", "production")
	require.NoError(t, err)
	require.Equal(t, "v1", prod.Version)

	// Unknown versions and versions without a run are refused.
	_, err = b.coord.Repromote(ctx, coordinator.RepromoteParams{Model: "fraud", Version: "v9"})
	require.ErrorIs(t, err, store.ErrNotFound)
	require.NoError(t, b.store.ModelVersionPut(ctx, store.ModelVersion{Model: "fraud", Version: "imported", Digest: "sha256:" + strings.Repeat("a", 64)}))
	_, err = b.coord.Repromote(ctx, coordinator.RepromoteParams{Model: "fraud", Version: "imported"})
	require.True(t, errors.Is(err, coordinator.ErrNotRepromotable), "%v", err)
	_ = agents.Pass
}
