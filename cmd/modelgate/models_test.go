package main

import (
	"bytes"
	"context"
	"io"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/charmbracelet/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/coordinator"
	"github.com/modelgate/modelgate/internal/api"
	"github.com/modelgate/modelgate/internal/audit/audittest"
	"github.com/modelgate/modelgate/internal/auth"
	"github.com/modelgate/modelgate/internal/oversight"
	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/internal/store/sqlite"
)

// modelsServer is the real API over a real SQLite registry holding two
// versions of fraud, with the real authorization policy.
func modelsServer(t *testing.T) (string, store.Store, *audittest.Recorder) {
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
	rec := &audittest.Recorder{}
	srv, err := api.New(api.Options{Coordinator: coord, Store: st, Auth: a, Logger: quiet, Gatherer: prometheus.NewRegistry(), Recorder: rec,
		Authorize: func(ctx context.Context, p auth.Principal, action, model, env string) (bool, error) {
			return engine.Authorize(ctx, oversight.AuthzInput{Principal: p, Action: action, Model: model, Environment: env})
		}})
	require.NoError(t, err)
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	for _, v := range []store.ModelVersion{
		{Model: "fraud", Version: "v1", Digest: "sha256:1111", RunID: "run-aaaa1111", Metrics: map[string]float64{"roc_auc": 0.9},
			Lineage: &store.Lineage{Commit: "c0ffee", CommitAuthor: "ana", Env: map[string]string{"API_KEY": "***"}}},
		{Model: "fraud", Version: "v2", Digest: "sha256:2222", Metrics: map[string]float64{"roc_auc": 0.925}},
	} {
		require.NoError(t, st.ModelVersionPut(ctx, v))
	}
	return hs.URL, st, rec
}

// TestModelsCommands runs the registry commands against the real API, in
// order (later steps read what earlier ones wrote), checking exit codes
// and output.
func TestModelsCommands(t *testing.T) {
	t.Parallel()
	url, st, rec := modelsServer(t)
	op, viewer := "operator-token-0123456789", "viewer-token-0123456789ab"
	srv := func(tok string, args ...string) []string { return append(args, "--server", url, "--token", tok) }
	steps := []struct {
		name string
		args []string
		code int
		out  []string
	}{
		{"list models", srv(viewer, "models", "list"), 0, []string{"fraud\n"}},
		{"viewer may not move an alias", srv(viewer, "models", "alias", "set", "fraud", "champion", "v1"), 3, nil},
		{"operator sets champion", srv(op, "models", "alias", "set", "fraud", "champion", "v1", "--expect", "", "--reason", "baseline"), 0,
			[]string{"champion of fraud now points at v1 (was -)"}},
		{"stale expect", srv(op, "models", "alias", "set", "fraud", "champion", "v2", "--expect", "v9"), 1, nil},
		{"unknown version", srv(op, "models", "alias", "set", "fraud", "champion", "v7"), 2, nil},
		{"tag", srv(op, "models", "tag", "fraud", "v1", "team=risk", "--description", "November retrain"), 0, []string{"fraud v1: 1 tag(s)"}},
		{"bad tag", srv(op, "models", "tag", "fraud", "v1", "novalue"), 2, nil},
		{"nothing to tag", srv(op, "models", "tag", "fraud", "v1"), 2, nil},
		{"versions", srv(viewer, "models", "list", "fraud"), 0, []string{"v2 ", "v1 ", "champion"}},
		{"show", srv(viewer, "models", "show", "fraud", "v1"), 0,
			[]string{"fraud v1  sha256:1111", "aliases: champion", "tag team=risk", "description: November retrain", "commit c0ffee by ana", "env API_KEY=***"}},
		{"show unknown", srv(viewer, "models", "show", "fraud", "v9"), 2, nil},
		{"diff", srv(viewer, "models", "diff", "fraud", "v1", "v2"), 0, []string{"roc_auc", "0.025", "lineage commit: c0ffee -> -"}},
		{"bad name", srv(viewer, "models", "show", "a/b", "v1"), 2, nil},
		{"viewer may not promote", srv(viewer, "models", "promote", "fraud", "v1", "--reason", "x"), 3, nil},
		{"a version without its run", srv(op, "models", "promote", "fraud", "v2"), 1, nil},
		{"promote an unknown version", srv(op, "models", "promote", "fraud", "v9"), 2, nil},
	}
	for _, s := range steps {
		var stdout, stderr bytes.Buffer
		code := execute(s.args, &stdout, &stderr)
		require.Equal(t, s.code, code, "%s: %s%s", s.name, stdout.String(), stderr.String())
		for _, want := range s.out {
			require.Contains(t, stdout.String(), want, s.name)
		}
	}
	a, err := st.AliasGet(context.Background(), "fraud", "champion")
	require.NoError(t, err)
	require.Equal(t, "v1", a.Version)
	require.Equal(t, "otto", a.Actor)
	require.True(t, rec.Has("model.alias_set"))
}
