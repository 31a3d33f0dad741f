package chatops_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/auth"
	"github.com/modelgate/modelgate/internal/blob"
	"github.com/modelgate/modelgate/internal/chatops/triggers"
	"github.com/modelgate/modelgate/internal/oversight"
)

// TestSettingsEndpointRefusesWeakTokensAndPaths: the settings say what
// the server runs on its own (deploys from Slack, retraining), so only
// the configure right (admin) may write them; ci, reviewers and
// operators are refused whatever the body says, and a body that names a
// path instead of an uploaded blob is refused even for an admin.
func TestSettingsEndpointRefusesWeakTokensAndPaths(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	h := triggers.Handler(triggers.HandlerOptions{Store: b.st, Blobs: b.blobs, Auth: b.ids, Recorder: b.rec,
		Authorize: func(ctx context.Context, p auth.Principal, action, model, env string) (bool, error) {
			return b.eng.Authorize(ctx, oversight.AuthzInput{Principal: p, Action: action, Model: model, Environment: env})
		}})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	body := `{"slack": {"channel": "C0FRAUD"}}`
	put := func(token, body string) int {
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, srv.URL+"/v1/models/fraud-detector/settings", strings.NewReader(body))
		require.NoError(t, err)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, 401, put("", body), "no token")
	for _, p := range people { // ci, reviewers, operators: none may configure
		require.Equal(t, 403, put(p.Token, body), p.Name)
	}
	_, err := triggers.Load(ctx, b.st, "fraud-detector")
	require.Error(t, err, "nothing refused was stored")

	// What an admin's body may not do either, checked where it is parsed.
	fs, err := blob.NewFS(t.TempDir())
	require.NoError(t, err)
	digest := "sha256:" + strings.Repeat("0", 64)
	cfg := "model: fraud-detector\ntask: binary\ndata: {holdout: h.csv}\ncandidate: {artifact: m.json}\n"
	for name, tc := range map[string]struct {
		s    triggers.Settings
		want string
	}{
		"a file name leading out":       {s: triggers.Settings{Deploy: &triggers.Pipeline{Config: cfg, Files: map[string]string{"../../tokens.yaml": digest}}}, want: "files"},
		"an absolute file name":         {s: triggers.Settings{Deploy: &triggers.Pipeline{Config: cfg, Files: map[string]string{"/etc/passwd": digest}}}, want: "files"},
		"a config naming a server path": {s: triggers.Settings{Deploy: &triggers.Pipeline{Config: strings.Replace(cfg, "h.csv", "/etc/passwd", 1)}}, want: "deploy.config"},
		"a blob never uploaded":         {s: triggers.Settings{Deploy: &triggers.Pipeline{Config: cfg, Files: map[string]string{"h.csv": digest, "m.json": digest}}}, want: "is not uploaded"},
		"another model's config":        {s: triggers.Settings{Deploy: &triggers.Pipeline{Config: strings.Replace(cfg, "fraud-detector", "other", 1)}}, want: "not fraud-detector"},
	} {
		err := tc.s.Validate(ctx, "fraud-detector", fs)
		require.ErrorContains(t, err, tc.want, name)
	}
}
