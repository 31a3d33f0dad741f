package storetest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/store"
)

// registryImportTests: a version imported from a signed bundle keeps
// its lineage.imported (source, key, manifest digest, the source's run
// and aliases, times) through the driver, at full time precision.
var registryImportTests = []test{
	{"imported lineage round-trips", func(ctx context.Context, t *testing.T, s store.Store) {
		imp := &store.LineageImport{Source: "modelgate key 0123456789abcdef, exported by otto", KeyID: "0123456789abcdef",
			Manifest: "sha256:" + "ab12", RunID: "run-src", Aliases: []string{"champion"},
			CreatedAt: base, ExportedAt: base.Add(1), ImportedBy: "ivy", ImportedAt: base.Add(2)}
		v := store.ModelVersion{Model: "fraud", Version: "v7", Digest: "sha256:7", Metrics: map[string]float64{"roc_auc": 0.9},
			Lineage: &store.Lineage{Commit: "abc", Imported: imp}, CreatedAt: base}
		require.NoError(t, s.ModelVersionPut(ctx, v))
		got, err := s.ModelVersionGet(ctx, "fraud", "v7")
		require.NoError(t, err)
		require.NotNil(t, got.Lineage)
		require.Equal(t, imp, got.Lineage.Imported)
		require.Equal(t, "abc", got.Lineage.Commit)
	}},
}
