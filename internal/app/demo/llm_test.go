package demo_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/app/demo"
	"github.com/modelgate/modelgate/internal/store"
)

// TestLLMDemo runs modelgate demo --llm, the end-to-end test of a
// task: llm pipeline with every real component: three prompt versions go
// through validate, test, scan, evaluate, the policy's decision and
// approval, and the rollout, against the binary's own scripted
// OpenAI-compatible server over HTTP, with live chat traffic (some of it
// streamed) through the gateway. v2 is shadowed, canaried and promoted;
// v3 passes every offline stage and is rolled back by the canary because
// it is slow on live traffic.
func TestLLMDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end: three rollouts")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var buf bytes.Buffer
	res, err := demo.RunLLM(ctx, demo.Options{Out: &buf, DataDir: t.TempDir(), Fast: true})
	out := buf.String()
	t.Log(out)
	require.NoError(t, err)
	require.Equal(t, store.RunSucceeded, res.V1.State, res.V1.Error)
	require.Equal(t, store.RunSucceeded, res.V2.State, res.V2.Error)
	require.Equal(t, store.RunRolledBack, res.V3.State, res.V3.Error)
	require.Equal(t, []string{"v1", "v2", "v2"}, res.Production)
	require.True(t, res.AuditOK)

	// Every stage ran (validate, test, scan and evaluate in parallel where
	// they can), and v3 passed all of them but the rollout.
	for i, deploy := range []string{"pass", "pass", "fail"} {
		got := map[string]string{}
		for _, s := range res.Stages[i] {
			name, rest, _ := strings.Cut(s, ":")
			got[name] = rest
		}
		require.Equal(t, map[string]string{"validate": "succeeded:pass", "test": "succeeded:pass", "scan": "succeeded:pass",
			"evaluate": "succeeded:pass", "decide": "succeeded:", "assist": "succeeded:", "deploy": "succeeded:" + deploy}, got, "run %d", i+1)
	}

	// Clients were always answered; v2 and v3 both carried live traffic.
	for i := 1; i < 3; i++ {
		tr := res.Traffic[i]
		require.Positive(t, tr.Sent)
		require.Equal(t, tr.Sent, tr.OK, "run %d: every chat client gets an answer: %+v", i+1, tr)
		require.Positive(t, tr.Streamed)
	}
	require.Positive(t, res.Traffic[1].ByVersion["v2"])
	require.Positive(t, res.Traffic[2].ByVersion["v3"], "v3 was canaried before it was rolled back")

	// The trail: each analysed window, the rollback's reason, the digest.
	var digests = map[string]string{}
	var v2Shadow, v3Canary map[string]any
	var rollback map[string]any
	for _, e := range res.Audit {
		var d map[string]any
		require.NoError(t, json.Unmarshal(e.Data, &d))
		switch {
		case e.Type == "candidate.recorded":
			digests[e.RunID] = d["digest"].(string)
		case e.Type == "deploy.analysed" && e.RunID == res.V2.ID && d["phase"] == "shadow":
			v2Shadow = d
		case e.Type == "deploy.analysed" && e.RunID == res.V3.ID && d["phase"] == "canary":
			v3Canary = d
		case e.Type == "deploy.promoted" && e.RunID == res.V2.ID:
			require.Equal(t, digests[res.V2.ID], d["digest"], "the promoted prompt is the approved one")
		case e.Type == "deploy.rollback" && e.RunID == res.V3.ID:
			rollback = d
		}
	}
	require.NotNil(t, v2Shadow)
	require.Equal(t, "successful", v2Shadow["verdict"])
	// v1 and v2 answer the parcel question differently (one question in
	// three): "look under orders for the parcel" against "track it under
	// orders, then track parcel": 3 of 6 and 3 of 6 tokens shared, F1 0.5;
	// the other two are identical. Mean 2.5/3, up to the traffic's mix.
	require.InDelta(t, 2.5/3, v2Shadow["mean_f1"], 0.03)
	require.InDelta(t, 2.0/3, v2Shadow["exact_share"], 0.03)
	require.NotNil(t, v3Canary)
	require.Equal(t, "failed", v3Canary["verdict"])
	require.NotNil(t, rollback)
	require.Contains(t, rollback["reason"], "latency_p95_ms")
	require.Equal(t, "v2", rollback["restored"])

	for _, line := range []string{
		"scripted OpenAI-compatible server",
		"run 2: prompt v2",
		"shadow mean token F1",
		"canary 25%→100%",
		"Rolled back support-bot v3; all traffic is back on v2",
		"shadow.mean_f1",
		"canary.ttft_p95_ms",
		"registry: production is v2",
		"hash chain and signed checkpoints verified: true",
	} {
		require.Contains(t, out, line)
	}
	require.Equal(t, 1, strings.Count(out, "== audit trail"))
}
