package api_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/api"
	"github.com/modelgate/modelgate/internal/store"
)

// TestVersionPromoteOverHTTP: promoting an earlier version again needs
// the right to start a run (a reviewer has none), names an existing
// version with a run behind it, and answers with the new run.
func TestVersionPromoteOverHTTP(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	ctx := context.Background()
	body, _ := json.Marshal(api.RunRequest{Config: "model: fraud\ntask: binary\nenvironment: staging\ncandidate: {artifact: model.json, version: v1}\n", BaseDir: b.dir})
	status, m, _ := b.do(t, "POST", "/v1/runs", ciToken, string(body))
	require.Equal(t, 201, status, "%v", m)
	id, _ := m["id"].(string)
	require.Eventually(t, func() bool {
		r, err := b.store.RunGet(ctx, id)
		return err == nil && r.State == store.RunSucceeded
	}, 30*time.Second, 20*time.Millisecond)
	_, err := b.store.ModelVersionGet(ctx, "fraud", "v1")
	require.NoError(t, err)

	for _, tc := range []struct {
		name, token, path string
		status            int
		code              string
	}{
		{"no token", "", "/v1/models/fraud/versions/v1/promote", 401, "unauthorized"},
		{"a reviewer starts no run", reviewerToken, "/v1/models/fraud/versions/v1/promote", 403, "forbidden"},
		{"an unknown version", ciToken, "/v1/models/fraud/versions/v9/promote", 404, "not_found"},
	} {
		status, m, _ := b.do(t, "POST", tc.path, tc.token, `{"reason":"x"}`)
		require.Equal(t, tc.status, status, "%s: %v", tc.name, m)
		require.Equal(t, tc.code, errCode(m), tc.name)
	}
	require.NoError(t, b.store.ModelVersionPut(ctx, store.ModelVersion{Model: "fraud", Version: "imported", Digest: "sha256:" + strings.Repeat("a", 64)}))
	status, m, _ = b.do(t, "POST", "/v1/models/fraud/versions/imported/promote", ciToken, "")
	require.Equal(t, 409, status, "%v", m)
	require.Equal(t, "not_repromotable", errCode(m))

	runs, err := b.store.RunList(ctx, store.RunListParams{Limit: 10})
	require.NoError(t, err)
	require.Len(t, runs, 1, "no refused request started a run")

	status, m, hdr := b.do(t, "POST", "/v1/models/fraud/versions/v1/promote", ciToken, `{"reason":"roll forward"}`)
	require.Equal(t, 201, status, "%v", m)
	require.Equal(t, "registry", m["trigger"])
	require.Equal(t, "/v1/runs/"+m["id"].(string), hdr.Get("Location"))
	labels, _ := m["labels"].(map[string]any)
	require.Equal(t, id, labels["registry.evidence_run"])
}
