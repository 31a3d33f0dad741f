package api_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/api"
	"github.com/modelgate/modelgate/internal/store"
)

// TestAskProposesNeverActs: POST /v1/ask needs a token, and whatever the
// sentence asks, the weakest token that may read gets a proposal only:
// the run it names to cancel is not cancelled, and the proposed command
// still needs its own endpoint and right to run.
func TestAskProposesNeverActs(t *testing.T) {
	t.Parallel()
	b := setup(t, true) // the run is held in validation, so it could still be cancelled
	status, m, _ := b.do(t, "POST", "/v1/runs", ciToken, b.runBody(""))
	require.Equal(t, 201, status, "%v", m)
	id := m["id"].(string)

	status, _, _ = b.do(t, "POST", "/v1/ask", "", `{"text":"cancel run `+id+`"}`)
	require.Equal(t, 401, status)

	for _, tok := range []string{reviewerToken, ciToken} {
		status, m, _ = b.do(t, "POST", "/v1/ask", tok, `{"text":"cancel run `+id+`"}`)
		require.Equal(t, 200, status, "%v", m)
		raw, _ := json.Marshal(m)
		require.Contains(t, string(raw), "cancel", "a proposal of the command")
	}
	time.Sleep(100 * time.Millisecond) // anything it might have set off would have started
	run, err := b.store.RunGet(context.Background(), id)
	require.NoError(t, err)
	require.NotEqual(t, store.RunCancelled, run.State, "ask proposes; it never acts")
	// Running the proposal is the ordinary endpoint, with its own right:
	// a reviewer may not cancel a run.
	status, _, _ = b.do(t, "POST", "/v1/runs/"+id+"/cancel", reviewerToken, `{"reason":"asked"}`)
	require.Equal(t, 403, status)
	close(b.release)
}

// TestLLMPathsStayInsideTheRun: the files a task: llm config names (the
// eval suite, the probes) are held to the same rule as every other path:
// relative, inside the run's inputs, whatever the token.
func TestLLMPathsStayInsideTheRun(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	for _, tc := range []struct{ name, llm, field string }{
		{"an absolute suite", "{suite: /etc/passwd}", "llm.suite"},
		{"a suite out of the inputs", "{suite: ../../tokens.yaml}", "llm.suite"},
		{"probes out of the inputs", "{suite: suite.yaml, probes: ../probes.yaml}", "llm.probes"},
	} {
		cfg := "model: chat\ntask: llm\ncandidate: {artifact: prompt.yaml}\nllm: " + tc.llm + "\n"
		for _, tok := range []string{ciToken, adminToken} {
			body, _ := json.Marshal(api.RunRequest{Config: cfg, BaseDir: b.dir})
			status, m, _ := b.do(t, "POST", "/v1/runs", tok, string(body))
			require.Equal(t, 400, status, "%s: %v", tc.name, m)
			require.Equal(t, "path_refused", errCode(m), tc.name)
			msg, _ := m["error"].(map[string]any)["message"].(string)
			require.Contains(t, msg, tc.field, tc.name)
		}
	}
	runs, err := b.store.RunList(context.Background(), store.RunListParams{Limit: 10})
	require.NoError(t, err)
	require.Empty(t, runs)
}
