package oversight

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/agents"
)

// The hand-built policy input must equal what the JSON encoding of Input
// gives, so a policy sees the same document whichever way it is built.
func TestInputValueMatchesJSON(t *testing.T) {
	t.Parallel()
	tests := []Input{
		{},
		{Reports: map[string]agents.Report{}},
		{
			Run:   RunInfo{ID: "r", Trigger: "api", CommitAuthor: "a", Labels: map[string]string{"team": "fraud"}},
			Model: "m", Environment: "production", Task: "binary",
			Candidate:  agents.Candidate{Version: "v2", Digest: "sha256:ab", ArtifactPath: "/x", Endpoint: "http://e"},
			Production: &agents.Production{Version: "v1", Digest: "sha256:cd"},
			Reports: map[string]agents.Report{
				"scan":     {Agent: "security", Stage: "scan", Verdict: agents.Fail, Metrics: map[string]float64{"files": 2, "x.y": 0.125, "neg": -1e-9}, Findings: []agents.Finding{{ID: "1", Severity: agents.Critical, Code: "c", Message: "m", Subject: "s", Evidence: map[string]any{"k": []any{"v", 1.5}}}}, Summary: "bad"},
				"evaluate": {Verdict: agents.Pass},
			},
			Deploy:    DeployInfo{Strategy: "canary", MaxTrafficShare: 0.25, Shadow: true},
			Requester: Principal{Subject: "s", Roles: []string{"ci"}, Groups: []string{"g"}},
		},
	}
	for i, in := range tests {
		raw, err := json.Marshal(in)
		require.NoError(t, err)
		want, err := ast.ValueFromReader(bytes.NewReader(raw))
		require.NoError(t, err)
		require.Equal(t, 0, want.Compare(inputValue(in)), "case %d:\njson: %v\ngo:   %v", i, want, inputValue(in))
	}
}
