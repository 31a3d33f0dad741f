package api_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/charmbracelet/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/coordinator"
	"github.com/modelgate/modelgate/internal/api"
	"github.com/modelgate/modelgate/internal/audit/audittest"
	"github.com/modelgate/modelgate/internal/auth"
	"github.com/modelgate/modelgate/internal/blob"
	"github.com/modelgate/modelgate/internal/oversight"
	rbundle "github.com/modelgate/modelgate/internal/release/bundle"
	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/internal/store/sqlite"
)

type exportServer struct {
	url   string
	store store.Store
	blobs *blob.FS
	rec   *audittest.Recorder
	pub   ed25519.PublicKey
}

// exportSetup is a registry server with a blob store and a bundle key,
// holding fraud@v1 whose artifact (art) is a stored blob, and fraud@v0
// whose artifact is nowhere; nil art: an empty registry.
func exportSetup(t *testing.T, art []byte) exportServer {
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
	})
	require.NoError(t, err)
	bs, err := blob.NewFS(filepath.Join(dir, "blobs"))
	require.NoError(t, err)
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	rec := &audittest.Recorder{}
	srv, err := api.New(api.Options{Coordinator: coord, Store: st, Auth: a, Logger: quiet, Gatherer: prometheus.NewRegistry(), Recorder: rec,
		Blobs: bs, BundleKey: priv,
		Authorize: func(ctx context.Context, p auth.Principal, action, model, env string) (bool, error) {
			return engine.Authorize(ctx, oversight.AuthzInput{Principal: p, Action: action, Model: model, Environment: env})
		}})
	require.NoError(t, err)
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	if art == nil {
		return exportServer{url: hs.URL, store: st, blobs: bs, rec: rec, pub: pub}
	}
	info, _, err := bs.Put(ctx, blob.PutParams{Body: bytes.NewReader(art)})
	require.NoError(t, err)
	require.NoError(t, st.ModelVersionPut(ctx, store.ModelVersion{Model: "fraud", Version: "v1", Digest: info.Digest, RunID: "run-1",
		Metrics: map[string]float64{"roc_auc": 0.91}, Lineage: &store.Lineage{Commit: "abc123", ConfigDigest: "sha256:c"}}))
	// a version whose artifact is nowhere on this server
	require.NoError(t, st.ModelVersionPut(ctx, store.ModelVersion{Model: "fraud", Version: "v0", Digest: "sha256:" + strings.Repeat("0", 64)}))
	return exportServer{url: hs.URL, store: st, blobs: bs, rec: rec, pub: pub}
}

func (e exportServer) req(t *testing.T, method, path, token string, body []byte, headers ...string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, e.url+path, bytes.NewReader(body))
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, data
}

// TestImportWeakTokens: a token without the promote right can make the
// import endpoint store nothing and record nothing, whatever it sends;
// export needs the right to read blobs (its bundle carries the artifact).
func TestImportWeakTokens(t *testing.T) {
	t.Parallel()
	src := exportSetup(t, testArtifact)
	code, tarb := src.req(t, "GET", "/v1/models/fraud/versions/v1/export", operatorToken, nil)
	require.Equal(t, 200, code, string(tarb))
	code, _ = src.req(t, "GET", "/v1/models/fraud/versions/v1/export", "", nil)
	require.Equal(t, 401, code)
	// a bundle carries the artifact's bytes: a read-only token, which may
	// not read blobs, may not export them either
	for _, tok := range []string{viewerToken, reviewerToken} {
		code, body := src.req(t, "GET", "/v1/models/fraud/versions/v1/export", tok, nil)
		require.Equal(t, 403, code, "token %q: %s", tok, body)
	}
	dst := exportSetup(t, testArtifact)
	key := base64.StdEncoding.EncodeToString(src.pub)
	for _, tok := range []string{"", "not-a-token-at-all-0000", viewerToken, ciToken, reviewerToken, trainerToken} {
		code, body := dst.req(t, "POST", "/v1/models/fraud/import", tok, tarb, api.PublicKeyHeader, key)
		require.Contains(t, []int{401, 403}, code, "token %q: %s", tok, body)
	}
	require.Empty(t, dst.rec.Types())
	_, err := dst.store.ModelVersionGet(context.Background(), "fraud", "v1")
	require.NoError(t, err) // dst's own v1, untouched
	vs, err := dst.store.ModelVersionList(context.Background(), "fraud")
	require.NoError(t, err)
	require.Len(t, vs, 2)
}

// TestExportImport: a bundle exported by one server is registered by
// another with the same digest, metrics and lineage, marked imported
// with the signing key; tampered or mis-addressed bundles are refused
// before anything is stored.
func TestExportImport(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := exportSetup(t, testArtifact)
	code, tarb := src.req(t, "GET", "/v1/models/fraud/versions/v1/export", operatorToken, nil)
	require.Equal(t, 200, code, string(tarb))
	rd, err := rbundle.ReadVerify(bytes.NewReader(tarb), rbundle.ReadParams{Dir: t.TempDir(), PublicKey: src.pub})
	require.NoError(t, err)
	require.Equal(t, "abc123", rd.Manifest.Lineage.Commit)
	require.Equal(t, 0.91, rd.Manifest.Metrics["roc_auc"])
	require.True(t, src.rec.Has("model.exported"))

	code, body := src.req(t, "GET", "/v1/models/fraud/versions/v0/export", operatorToken, nil)
	require.Equal(t, 409, code, string(body))
	code, _ = src.req(t, "GET", "/v1/models/fraud/versions/nope/export", operatorToken, nil)
	require.Equal(t, 404, code)

	dst := exportSetup(t, nil)
	other := exportSetup(t, []byte(`{"learner":{}}`)) // its fraud@v1 has other bytes
	key := base64.StdEncoding.EncodeToString(src.pub)
	flipped := bytes.Clone(tarb)
	i := bytes.Index(flipped, []byte(`"learner"`))
	require.Positive(t, i)
	flipped[i+2] ^= 1
	metric := bytes.Replace(tarb, []byte(`"roc_auc": 0.91`), []byte(`"roc_auc": 0.99`), 1)
	require.NotEqual(t, tarb, metric)
	cases := []struct {
		name  string
		srv   exportServer
		path  string
		body  []byte
		key   string
		code  int
		errIn string
	}{
		{"artifact flipped", dst, "/v1/models/fraud/import", flipped, key, 422, "blob artifact changed"},
		{"metric edited", dst, "/v1/models/fraud/import", metric, key, 422, "changed after signing"},
		{"no key", dst, "/v1/models/fraud/import", tarb, "", 400, api.PublicKeyHeader},
		{"other key", dst, "/v1/models/fraud/import", tarb, base64.StdEncoding.EncodeToString(dst.pub), 422, "verifying with key"},
		{"other model", dst, "/v1/models/churn/import", tarb, key, 400, `holds model \"fraud\"`},
		{"not a tar", dst, "/v1/models/fraud/import", []byte("garbage, not a tar at all......"), key, 400, "bundle"},
		{"conflict", other, "/v1/models/fraud/import", tarb, key, 409, "is registered here with"},
	}
	for _, c := range cases {
		code, body := c.srv.req(t, "POST", c.path, operatorToken, c.body, api.PublicKeyHeader, c.key)
		require.Equal(t, c.code, code, "%s: %s", c.name, body)
		require.Contains(t, string(body), c.errIn, c.name)
	}
	require.Empty(t, dst.rec.Types())
	vs, err := dst.store.ModelVersionList(ctx, "fraud")
	require.NoError(t, err)
	require.Empty(t, vs)

	code, body = dst.req(t, "POST", "/v1/models/fraud/import", operatorToken, tarb, api.PublicKeyHeader, key)
	require.Equal(t, 201, code, string(body))
	var view api.ImportView
	require.NoError(t, json.Unmarshal(body, &view))
	require.Equal(t, rbundle.KeyID(src.pub), view.KeyID)
	v, err := dst.store.ModelVersionGet(ctx, "fraud", "v1")
	require.NoError(t, err)
	sum := sha256.Sum256(testArtifact)
	require.Equal(t, "sha256:"+hex.EncodeToString(sum[:]), v.Digest)
	require.Equal(t, 0.91, v.Metrics["roc_auc"])
	require.Equal(t, "abc123", v.Lineage.Commit)
	require.NotNil(t, v.Lineage.Imported)
	require.Equal(t, rbundle.KeyID(src.pub), v.Lineage.Imported.KeyID)
	require.Equal(t, "run-1", v.Lineage.Imported.RunID)
	require.Equal(t, "otto", v.Lineage.Imported.ImportedBy)
	require.Contains(t, v.Lineage.Imported.Source, rbundle.KeyID(src.pub))
	require.Empty(t, v.RunID, "the source's run id names nothing here")
	info, err := dst.blobs.Stat(ctx, v.Digest)
	require.NoError(t, err)
	require.Equal(t, int64(len(testArtifact)), info.Size)
	require.Equal(t, []string{"model.imported"}, dst.rec.Types())
}

var testArtifact = []byte(`{"learner":{"feature_names":["amount","age"]},"version":[2,0,0]}`)
