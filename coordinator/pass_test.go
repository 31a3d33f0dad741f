package coordinator_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/coordinator"
	"github.com/modelgate/modelgate/internal/config"
	"github.com/modelgate/modelgate/internal/store"
)

// Every stage of one pass gets its Task from the same run context: the
// same parsed config, candidate and production, and the reports of the
// stages that finished before it.
func TestEveryStageSeesOnePass(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	tasks := map[string]agents.Task{}
	keep := func(ctx context.Context, tk agents.Task, _ int64) (agents.Report, error) {
		mu.Lock()
		tasks[tk.Stage] = tk
		mu.Unlock()
		return agents.Report{Verdict: agents.Pass, Metrics: map[string]float64{tk.Stage + ".ok": 1}}, nil
	}
	b := setup(t, setupOpts{fns: map[string]func(context.Context, agents.Task, int64) (agents.Report, error){
		"validate": keep, "test": keep, "scan": keep, "evaluate": keep}})
	run := b.submit(t, b.pipelineYAML(t, ""))
	require.Equal(t, store.RunSucceeded, b.wait(t, run.ID, false).State)
	require.Len(t, tasks, 4)
	v := tasks["validate"]
	require.Empty(t, v.Reports, "validation runs first: nothing before it")
	for _, s := range []string{"test", "scan", "evaluate"} {
		tk := tasks[s]
		require.Same(t, v.Config, tk.Config, "%s: one parsed config per pass", s)
		require.Equal(t, run.ID, tk.RunID)
		require.Equal(t, v.Production, tk.Production)
		require.Contains(t, tk.Reports, "validate", "%s sees the validation report", s)
		require.NotEmpty(t, tk.Candidate.Digest, "%s sees the candidate obtained before it", s)
	}
}

// A caller that parsed the config (the API, to authorise it) hands the
// parsed pipeline on; Submit does not parse it again.
func TestSubmitTakesTheParsedPipeline(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	data := b.pipelineYAML(t, "")
	parsed, err := config.Parse("modelgate.yaml", data)
	require.NoError(t, err)
	parsed.Environment = "parsed-once" // a mark only the parsed copy carries
	run, created, err := b.coord.Submit(context.Background(), coordinator.SubmitParams{Config: data, File: "modelgate.yaml",
		BaseDir: b.dir, Requester: "ci-bot", Parsed: parsed})
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, "parsed-once", run.Environment)
}
