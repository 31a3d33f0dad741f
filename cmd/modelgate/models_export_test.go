package main

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/charmbracelet/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/modelgate/modelgate/coordinator"
	"github.com/modelgate/modelgate/internal/api"
	"github.com/modelgate/modelgate/internal/audit/audittest"
	"github.com/modelgate/modelgate/internal/auth"
	"github.com/modelgate/modelgate/internal/blob"
	"github.com/modelgate/modelgate/internal/oversight"
	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/internal/store/sqlite"
	"github.com/modelgate/modelgate/tools/sign"
)

// exportServer is the real API with a blob store and a bundle key
// (written as PEM, like DATA-DIR/audit.key), holding fraud@v1 whose
// artifact is a real XGBoost model when seeded. It returns the URL, the
// store and the public key's path.
func exportServer(t *testing.T, seeded bool) (string, store.Store, string) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(dir, "modelgate.db")})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	quiet := log.NewWithOptions(io.Discard, log.Options{})
	coord, err := coordinator.New(coordinator.Options{Store: st, DataDir: dir, Logger: quiet, Registerer: prometheus.NewRegistry()})
	require.NoError(t, err)
	engine, err := oversight.NewEngine(ctx, oversight.EngineOptions{Logger: quiet})
	require.NoError(t, err)
	a, err := auth.New([]auth.Token{
		{Token: "operator-token-0123456789", Name: "otto", Roles: []string{"operator"}},
		{Token: "viewer-token-0123456789ab", Name: "vic", Roles: []string{"viewer"}},
	})
	require.NoError(t, err)
	keyPath := filepath.Join(dir, "audit.key")
	pubPath, err := sign.GenerateKey(keyPath)
	require.NoError(t, err)
	key, err := sign.LoadPrivateKey(keyPath)
	require.NoError(t, err)
	bs, err := blob.NewFS(filepath.Join(dir, "blobs"))
	require.NoError(t, err)
	srv, err := api.New(api.Options{Coordinator: coord, Store: st, Auth: a, Logger: quiet, Gatherer: prometheus.NewRegistry(),
		Recorder: &audittest.Recorder{}, Blobs: bs, BundleKey: key,
		Authorize: func(ctx context.Context, p auth.Principal, action, model, env string) (bool, error) {
			return engine.Authorize(ctx, oversight.AuthzInput{Principal: p, Action: action, Model: model, Environment: env})
		}})
	require.NoError(t, err)
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	if seeded {
		art, err := os.ReadFile("../../testdata/deploy/model-candidate.json")
		require.NoError(t, err)
		info, _, err := bs.Put(ctx, blob.PutParams{Body: bytes.NewReader(art)})
		require.NoError(t, err)
		require.NoError(t, st.ModelVersionPut(ctx, store.ModelVersion{Model: "fraud", Version: "v1", Digest: info.Digest, RunID: "run-1",
			Metrics: map[string]float64{"roc_auc": 0.91}, Lineage: &store.Lineage{Commit: "c0ffee", Toolchain: map[string]string{"python": "3.11.2"}}}))
	}
	return hs.URL, st, pubPath
}

// editTar copies a tar, passing each member through edit.
func editTar(t *testing.T, b []byte, edit func(name string, data []byte) []byte) []byte {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(b))
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		data, err := io.ReadAll(tr)
		require.NoError(t, err)
		data = edit(h.Name, data)
		h.Size = int64(len(data))
		require.NoError(t, tw.WriteHeader(h))
		_, err = tw.Write(data)
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	return out.Bytes()
}

func member(t *testing.T, b []byte, name string) []byte {
	var got []byte
	editTar(t, b, func(n string, d []byte) []byte {
		if n == name {
			got = d
		}
		return d
	})
	require.NotNil(t, got, name)
	return got
}

// TestModelsExportImport exports from one server, imports into another,
// and refuses each tampered bundle with exit 1 naming what changed.
func TestModelsExportImport(t *testing.T) {
	t.Parallel()
	src, _, srcPub := exportServer(t, true)
	src2, _, _ := exportServer(t, true) // same version, another key
	dst, dstStore, _ := exportServer(t, false)
	op, viewer := "operator-token-0123456789", "viewer-token-0123456789ab"
	work := t.TempDir()
	tarPath := filepath.Join(work, "fraud-v1.tar")
	tar2 := filepath.Join(work, "other.tar")
	run := func(args ...string) (int, string) {
		var stdout, stderr bytes.Buffer
		code := execute(args, &stdout, &stderr)
		return code, stdout.String() + stderr.String()
	}
	code, out := run("models", "export", "fraud", "v1", "--out", filepath.Join(work, "no.tar"), "--server", src, "--token", viewer)
	require.Equal(t, 3, code, "a viewer may not take the artifact out: %s", out)
	code, out = run("models", "export", "fraud", "v1", "--out", tarPath, "--server", src, "--token", op)
	require.Equal(t, 0, code, out)
	code, out = run("models", "export", "fraud", "v1", "--out", tar2, "--server", src2, "--token", op)
	require.Equal(t, 0, code, out)
	good, err := os.ReadFile(tarPath)
	require.NoError(t, err)

	write := func(name string, b []byte) string {
		p := filepath.Join(work, name)
		require.NoError(t, os.WriteFile(p, b, 0o644))
		return p
	}
	flipped := write("flipped.tar", editTar(t, good, func(n string, d []byte) []byte {
		if n == "blobs/artifact" {
			d = bytes.Clone(d)
			d[10] ^= 1
		}
		return d
	}))
	metric := write("metric.tar", editTar(t, good, func(n string, d []byte) []byte {
		if n == "manifest.json" {
			return bytes.Replace(d, []byte(`"roc_auc": 0.91`), []byte(`"roc_auc": 0.97`), 1)
		}
		return d
	}))
	otherSig := member(t, readFile(t, tar2), "manifest.sig")
	swapped := write("swapped.tar", editTar(t, good, func(n string, d []byte) []byte {
		if n == "manifest.sig" {
			return otherSig
		}
		return d
	}))
	badTar := write("bad.tar", []byte("this is not a tar archive, not even close"))

	imp := func(tok, file string, extra ...string) []string {
		return append([]string{"models", "import", file, "--server", dst, "--token", tok}, extra...)
	}
	steps := []struct {
		name string
		args []string
		code int
		out  string
	}{
		{"artifact flipped", imp(op, flipped, "--public-key", srcPub), 1, "blob artifact changed"},
		{"metric edited", imp(op, metric, "--public-key", srcPub), 1, "changed after signing"},
		{"signature swapped", imp(op, swapped, "--public-key", srcPub), 1, "manifest.sig names key"},
		{"bad tar", imp(op, badTar, "--public-key", srcPub), 2, "not a tar archive"},
		{"no key", imp(op, tarPath), 2, "--public-key: required"},
		{"viewer may not import", imp(viewer, tarPath, "--public-key", srcPub), 3, "may not promote"},
		{"import", imp(op, tarPath, "--public-key", srcPub), 0, "imported fraud v1 (sha256:"},
		{"export dir", []string{"models", "export", "fraud", "v1", "--out", filepath.Join(work, "unpacked"), "--server", src, "--token", op}, 0, "1 blob(s)"},
		{"export unknown", []string{"models", "export", "fraud", "v9", "--out", filepath.Join(work, "x.tar"), "--server", src, "--token", op}, 2, "no version"},
		{"export mlflow", []string{"models", "export", "--mlflow", "fraud", "v1", "--out", filepath.Join(work, "mlflow"), "--server", src, "--token", op}, 0, "xgboost 1.7.4"},
	}
	for _, s := range steps {
		code, out := run(s.args...)
		require.Equal(t, s.code, code, "%s: %s", s.name, out)
		require.Contains(t, out, s.out, s.name)
	}
	v, err := dstStore.ModelVersionGet(context.Background(), "fraud", "v1")
	require.NoError(t, err)
	require.NotNil(t, v.Lineage.Imported)
	require.Equal(t, "c0ffee", v.Lineage.Commit)
	require.Equal(t, 0.91, v.Metrics["roc_auc"])
	require.FileExists(t, filepath.Join(work, "unpacked", "manifest.json"))
	require.FileExists(t, filepath.Join(work, "unpacked", "blobs", "artifact"))
	var m map[string]any
	require.NoError(t, yaml.Unmarshal(readFile(t, filepath.Join(work, "mlflow", "MLmodel")), &m))
	require.Equal(t, "3.11.2", m["flavors"].(map[string]any)["python_function"].(map[string]any)["python_version"])
	require.Equal(t, "v1", m["metadata"].(map[string]any)["modelgate_version"])
	require.Equal(t, "run-1", m["run_id"])
	require.True(t, strings.HasPrefix(v.Lineage.Imported.Manifest, "sha256:"))
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}
