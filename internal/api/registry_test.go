package api_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/charmbracelet/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/coordinator"
	"github.com/modelgate/modelgate/internal/api"
	"github.com/modelgate/modelgate/internal/audit/audittest"
	"github.com/modelgate/modelgate/internal/auth"
	"github.com/modelgate/modelgate/internal/oversight"
	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/internal/store/sqlite"
)

const (
	operatorToken = "operator-token-0123456789"
	viewerToken   = "viewer-token-0123456789ab"
	workerToken   = "worker-token-0123456789ab"
)

// registrySetup is setup with an audit recorder (aliases move only when
// recorded) and operator and viewer tokens, over a registry holding two
// versions of fraud.
func registrySetup(t *testing.T) (*bundle, *audittest.Recorder) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(dir, "modelgate.db")})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	quiet := log.NewWithOptions(io.Discard, log.Options{})
	coord, err := coordinator.New(coordinator.Options{Store: st, Agents: map[string]agents.Agent{"validate": gateAgent{name: "validate"}},
		Decider: allowAll{}, DataDir: dir, Logger: quiet, Registerer: prometheus.NewRegistry()})
	require.NoError(t, err)
	engine, err := oversight.NewEngine(ctx, oversight.EngineOptions{Logger: quiet})
	require.NoError(t, err)
	a, err := auth.New([]auth.Token{
		{Token: ciToken, Name: "ci-bot", Roles: []string{"ci"}},
		{Token: reviewerToken, Name: "rita", Roles: []string{"reviewer"}},
		{Token: trainerToken, Name: "tess", Roles: []string{"trainer"}},
		{Token: viewerToken, Name: "vic", Roles: []string{"viewer"}},
		{Token: operatorToken, Name: "otto", Roles: []string{"operator"}},
		{Token: workerToken, Name: "w1", Roles: []string{"worker"}},
	})
	require.NoError(t, err)
	rec := &audittest.Recorder{}
	srv, err := api.New(api.Options{Coordinator: coord, Store: st, Auth: a, Logger: quiet, Gatherer: prometheus.NewRegistry(), Recorder: rec,
		Authorize: func(ctx context.Context, p auth.Principal, action, model, env string) (bool, error) {
			return engine.Authorize(ctx, oversight.AuthzInput{Principal: p, Action: action, Model: model, Environment: env})
		}})
	require.NoError(t, err)
	b := &bundle{srv: httptest.NewServer(srv), store: st, dir: dir}
	t.Cleanup(b.srv.Close)
	for _, v := range []store.ModelVersion{
		{Model: "fraud", Version: "v1", Digest: "sha256:1", Metrics: map[string]float64{"roc_auc": 0.90},
			Lineage: &store.Lineage{Commit: "aaa", Data: map[string]string{"reference": "sha256:r1"}}},
		{Model: "fraud", Version: "v2", Digest: "sha256:2", Metrics: map[string]float64{"roc_auc": 0.93, "recall": 0.8},
			Lineage: &store.Lineage{Commit: "bbb", Data: map[string]string{"reference": "sha256:r1"}}},
	} {
		require.NoError(t, st.ModelVersionPut(ctx, v))
	}
	return b, rec
}

// TestRegistryWeakTokens: what every token weaker than an operator can
// make the registry's write endpoints do is nothing, and nothing is
// recorded or stored.
func TestRegistryWeakTokens(t *testing.T) {
	t.Parallel()
	b, rec := registrySetup(t)
	for _, tok := range []string{"", "not-a-token-at-all-0000", viewerToken, ciToken, reviewerToken, trainerToken} {
		code, _, _ := b.do(t, "PUT", "/v1/models/fraud/aliases/champion", tok, `{"version":"v1"}`)
		require.Contains(t, []int{http.StatusUnauthorized, http.StatusForbidden}, code, "token %q moved an alias", tok)
	}
	for _, tok := range []string{"", viewerToken, ciToken, reviewerToken} {
		code, _, _ := b.do(t, "POST", "/v1/models/fraud/versions/v1/notes", tok, `{"set_tags":{"x":"y"}}`)
		require.Contains(t, []int{http.StatusUnauthorized, http.StatusForbidden}, code, "token %q annotated", tok)
	}
	as, err := b.store.AliasList(context.Background(), "fraud")
	require.NoError(t, err)
	require.Empty(t, as)
	n, err := b.store.ModelVersionNotes(context.Background(), "fraud", "v1")
	require.NoError(t, err)
	require.Empty(t, n.Tags)
	require.Empty(t, rec.Types())
}

func TestRegistryEndpoints(t *testing.T) {
	t.Parallel()
	b, rec := registrySetup(t)
	cases := []struct {
		name, method, path, token, body string
		want                            int
		check                           func(t *testing.T, m map[string]any)
	}{
		{"operator sets champion", "PUT", "/v1/models/fraud/aliases/champion", operatorToken, `{"version":"v1","expect":"","reason":"first"}`, 200,
			func(t *testing.T, m map[string]any) {
				require.Equal(t, "v1", m["version"])
				require.Equal(t, "otto", m["actor"])
			}},
		{"stale expect is a conflict", "PUT", "/v1/models/fraud/aliases/champion", operatorToken, `{"version":"v2","expect":"v9"}`, 409, nil},
		{"unknown version", "PUT", "/v1/models/fraud/aliases/champion", operatorToken, `{"version":"v7"}`, 404, nil},
		{"bad alias name", "PUT", "/v1/models/fraud/aliases/-x", operatorToken, `{"version":"v1"}`, 400, nil},
		{"unknown field", "PUT", "/v1/models/fraud/aliases/champion", operatorToken, `{"version":"v1","force":true}`, 400, nil},
		{"trainer tags", "POST", "/v1/models/fraud/versions/v2/notes", trainerToken, `{"description":"<b>nov</b>","set_tags":{"team":"risk"}}`, 200,
			func(t *testing.T, m map[string]any) { require.Equal(t, map[string]any{"team": "risk"}, m["tags"]) }},
		{"bad tag key", "POST", "/v1/models/fraud/versions/v2/notes", trainerToken, `{"set_tags":{"a b":"x"}}`, 400, nil},
		{"viewer reads a version", "GET", "/v1/models/fraud/versions/v1", viewerToken, "", 200,
			func(t *testing.T, m map[string]any) {
				require.Equal(t, []any{"champion"}, m["aliases"])
				require.Equal(t, "aaa", m["lineage"].(map[string]any)["commit"])
			}},
		{"diff", "GET", "/v1/models/fraud/diff?a=v1&b=v2", viewerToken, "", 200,
			func(t *testing.T, m map[string]any) {
				ms := m["metrics"].([]any)
				require.Len(t, ms, 2)
				roc := ms[1].(map[string]any)
				require.Equal(t, "roc_auc", roc["name"])
				require.InDelta(t, 0.03, roc["delta"], 1e-12)
				require.Nil(t, ms[0].(map[string]any)["a"], "v1 has no recall")
				ch := m["lineage"].([]any)
				var fields []string
				for _, c := range ch {
					fields = append(fields, c.(map[string]any)["field"].(string))
				}
				require.Equal(t, []string{"commit", "digest"}, fields)
			}},
		{"diff needs b", "GET", "/v1/models/fraud/diff?a=v1", viewerToken, "", 400, nil},
	}
	for _, tc := range cases { // in order: later cases read what earlier ones wrote
		code, m, _ := b.do(t, tc.method, tc.path, tc.token, tc.body)
		require.Equal(t, tc.want, code, "%s: %v", tc.name, m)
		if tc.check != nil {
			tc.check(t, m)
		}
	}
	require.Len(t, rec.OfType("model.alias_set"), 2, "recorded before each attempt that reached the store")
	require.Len(t, rec.OfType("model.annotated"), 1)
}

// TestRegistryReadsNeedRead: the registry's read routes (a version with
// its lineage, the aliases, a diff) answer no token with 401 and a token
// without the read right (a worker's) with 403, and say nothing of what
// exists; a viewer reads them.
func TestRegistryReadsNeedRead(t *testing.T) {
	t.Parallel()
	b, _ := registrySetup(t)
	for _, path := range []string{"/v1/models/fraud/versions/v1", "/v1/models/fraud/aliases", "/v1/models/fraud/diff?a=v1&b=v2",
		"/v1/models/nope/versions/v9"} {
		status, _, _ := b.do(t, "GET", path, "", "")
		require.Equal(t, 401, status, path)
		status, m, _ := b.do(t, "GET", path, workerToken, "")
		require.Equal(t, 403, status, "%s: %v", path, m)
		require.NotContains(t, fmt.Sprint(m), "sha256:", path)
	}
	for _, path := range []string{"/v1/models/fraud/versions/v1", "/v1/models/fraud/aliases", "/v1/models/fraud/diff?a=v1&b=v2"} {
		status, m, _ := b.do(t, "GET", path, viewerToken, "")
		require.Equal(t, 200, status, "%s: %v", path, m)
	}
}
