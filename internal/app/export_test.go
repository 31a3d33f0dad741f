package app_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/charmbracelet/log"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/modelgate/modelgate/internal/app"
	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/auth"
	"github.com/modelgate/modelgate/internal/blob"
	"github.com/modelgate/modelgate/internal/release/bundle"
	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/tools/sign"
)

// TestExportSignedWithAuditKey: the assembled server signs bundles with
// its audit key, so DATA-DIR/audit.key.pub, the key that verifies audit
// checkpoints, verifies an exported bundle.
func TestExportSignedWithAuditKey(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	const viewer = "otto-token-0123456789abcd" // an operator: exporting needs the right to read blobs
	b, err := yaml.Marshal(auth.File{Tokens: []auth.Token{{Token: viewer, Name: "otto", Roles: []string{"operator"}}}})
	require.NoError(t, err)
	tokens := filepath.Join(data, "tokens.yaml")
	require.NoError(t, os.MkdirAll(data, 0o700))
	require.NoError(t, os.WriteFile(tokens, b, 0o600))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := app.Build(ctx, app.Options{DataDir: data, TokensFile: tokens, NoDeploy: true, Logger: log.NewWithOptions(io.Discard, log.Options{})})
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.Start(ctx))
	web := httptest.NewServer(s.Handler)
	defer web.Close()

	art, err := os.ReadFile("../../testdata/deploy/model-candidate.json")
	require.NoError(t, err)
	info, _, err := s.Blobs.Put(ctx, blob.PutParams{Body: bytes.NewReader(art)})
	require.NoError(t, err)
	require.NoError(t, s.Store.ModelVersionPut(ctx, store.ModelVersion{Model: "cancer", Version: "v1", Digest: info.Digest,
		Lineage: &store.Lineage{Commit: "feed"}}))

	req, err := http.NewRequestWithContext(ctx, "GET", web.URL+"/v1/models/cancer/versions/v1/export", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+viewer)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, "application/x-tar", resp.Header.Get("Content-Type"))
	pub, err := sign.LoadPublicKey(filepath.Join(data, audit.KeyFileName+".pub"))
	require.NoError(t, err)
	rd, err := bundle.ReadVerify(resp.Body, bundle.ReadParams{Dir: t.TempDir(), PublicKey: pub})
	require.NoError(t, err)
	require.Equal(t, s.Trail.KeyID(), rd.Signature.KeyID)
	require.Equal(t, info.Digest, rd.Manifest.Digest)
	require.Equal(t, "feed", rd.Manifest.Lineage.Commit)
}
