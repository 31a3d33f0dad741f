package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/api"
	"github.com/modelgate/modelgate/internal/store"
)

// allowedEndpoint is the one URL prefix the test server's operator allowed.
const allowedEndpoint = "http://models.internal:9001/v2"

// TestEndpointsTheCallerChooses: a ci token (the weakest that may start
// runs) names addresses for the server to call, as candidate.endpoint or
// deploy.target.upstream; only those under the operator's
// --allow-endpoint list are accepted, every other one is refused before
// anything is stored and without a single request reaching it.
func TestEndpointsTheCallerChooses(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	var hits atomic.Int64
	metadata := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte(`{"secret":"instance credentials"}`))
	}))
	defer metadata.Close()
	body := func(cfg string) string {
		raw, _ := json.Marshal(api.RunRequest{Config: "model: fraud\ntask: binary\n" + cfg, BaseDir: b.dir})
		return string(raw)
	}
	for _, tc := range []struct{ name, cfg, field string }{
		{"candidate endpoint on loopback", "candidate: {endpoint: " + metadata.URL + "}\n", "candidate.endpoint"},
		{"cloud metadata", "candidate: {endpoint: 'http://169.254.169.254/latest'}\n", "candidate.endpoint"},
		{"upstream elsewhere", "candidate: {artifact: model.json}\ndeploy: {target: {upstream: " + metadata.URL + "}}\n", "deploy.target.upstream"},
		{"allowed host, other port", "candidate: {endpoint: 'http://models.internal:9002/v2'}\n", "candidate.endpoint"},
		{"allowed prefix as characters only", "candidate: {endpoint: 'http://models.internal:9001/v2x'}\n", "candidate.endpoint"},
		{"climbing out of the prefix", "candidate: {endpoint: 'http://models.internal:9001/v2/../admin'}\n", "candidate.endpoint"},
		{"user information hiding the host", "candidate: {endpoint: 'http://models.internal:9001@169.254.169.254/v2'}\n", "candidate.endpoint"},
	} {
		status, m, _ := b.do(t, "POST", "/v1/runs", ciToken, body(tc.cfg))
		require.Equal(t, 403, status, "%s: %v", tc.name, m)
		require.Equal(t, "endpoint_not_allowed", errCode(m), tc.name)
		msg, _ := m["error"].(map[string]any)["message"].(string)
		require.Contains(t, msg, tc.field, tc.name)
		require.Contains(t, msg, "--allow-endpoint", tc.name)
	}
	require.Zero(t, hits.Load(), "no request reached an address the operator did not allow")
	runs, err := b.store.RunList(context.Background(), store.RunListParams{Limit: 10})
	require.NoError(t, err)
	require.Empty(t, runs, "a refused request stores no run")

	// An admin token is bound by the same list: the list is the
	// operator's, not a role's.
	status, m, _ := b.do(t, "POST", "/v1/runs", adminToken, body("candidate: {endpoint: "+metadata.URL+"}\n"))
	require.Equal(t, 403, status, "%v", m)

	// Under the allowed prefix, the run is accepted.
	status, m, _ = b.do(t, "POST", "/v1/runs", ciToken, body("candidate: {endpoint: 'http://models.internal:9001/v2/fraud'}\n"))
	require.Equal(t, 201, status, "%v", m)
}
