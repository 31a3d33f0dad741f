package ui_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/agents/assistant"
	"github.com/modelgate/modelgate/internal/llm"
	"github.com/modelgate/modelgate/internal/store"
)

// TestAssistShown renders what the assistant stored for a failed run: an
// LLM brief, a triage with its transcript, a rejection note and the usage,
// escaped; and the pending approval in the queue with its brief.
func TestAssistShown(t *testing.T) {
	t.Parallel()
	f := setup(t)
	c := client(t)
	login(t, f, c, "reviewer-token")
	ctx := context.Background()

	status, body := get(t, c, f.srv.URL+"/ui/approvals")
	require.Equal(t, 200, status)
	require.Contains(t, body, `<div id="brief-`+f.approval.ID+`">`)
	require.Contains(t, body, `<div class="card brief template">`)

	rec := assistant.Record{State: store.RunFailed, GeneratedAt: time.Now(),
		Brief: &assistant.Brief{Source: assistant.SourceLLM, Text: "roc_auc rose <b>0.011</b> [metric:roc_auc]", Citations: []string{"metric:roc_auc"},
			Prompt: "brief@v1", Model: "llama3.1:8b", Evidence: []assistant.Cited{{ID: "metric:roc_auc", Text: "roc_auc delta 0.011"}}},
		Triage: &assistant.Triage{Source: assistant.SourceTemplate, Prompt: assistant.RuleTriageVersion, ToolCalls: 2,
			RejectedReason: "the triage was rejected: unknown_citation", Model: "llama3.1:8b",
			Causes:     []assistant.Cause{{Rank: 1, Cause: "stage test could not run", Citations: []string{"stage:test"}, Check: "read the log"}},
			Transcript: []assistant.Turn{{Role: "tool", Tool: "column_drift", Arguments: `{"column":"amount"}`, Result: `{"evidence":[]}`}, {Role: "tool", Tool: "drop_table", Error: `unknown tool "drop_table"`}}},
		Usage: llm.Usage{Calls: 3, PromptTokens: 900, CompletionTokens: 120, Budget: 20000, CostUSD: 0.0012},
	}
	raw, err := json.Marshal(rec)
	require.NoError(t, err)
	require.NoError(t, f.st.StagePut(ctx, store.Stage{RunID: f.run.ID, Name: assistant.StageName, State: store.StageSucceeded, Attempt: 1, Report: raw}))
	_, err = f.st.RunTransition(ctx, store.RunTransitionParams{ID: f.run.ID, From: []store.RunState{store.RunAwaitingApproval}, To: store.RunFailed, Error: "stage test failed"})
	require.NoError(t, err)

	status, body = get(t, c, f.srv.URL+"/ui/runs/"+f.run.ID)
	require.Equal(t, 200, status)
	for _, want := range []string{
		"llm · brief@v1 · llama3.1:8b",
		"roc_auc rose &lt;b&gt;0.011&lt;/b&gt; [metric:roc_auc]",
		`id="triage-causes"><li>stage test could not run <code>stage:test</code>`,
		"The LLM's triage was rejected and the rule-based one shown instead",
		`<code>column_drift</code>`,
		`unknown tool &#34;drop_table&#34;`,
		"LLM: 3 call(s), 900 prompt + 120 completion tokens of a 20000 budget, $0.0012",
	} {
		require.Contains(t, body, want)
	}
	require.NotContains(t, body, `id="stage-assist"`, "the assistant's record is not a pipeline stage")
}
