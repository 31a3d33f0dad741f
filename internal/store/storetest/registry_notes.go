package storetest

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/store"
)

// registryNoteTests: lineage round-trips with its version and is never
// replaced by a replay; notes and aliases exist only for registered
// versions; an alias moves by compare-and-swap, one racer winning.
var registryNoteTests = []test{
	{"lineage round-trips and a replay keeps the first", func(ctx context.Context, t *testing.T, s store.Store) {
		lin := &store.Lineage{
			Data:         map[string]string{"reference": "sha256:aa", "holdout": "sha256:bb"},
			ConfigDigest: "sha256:cc", Commit: "0123abcd", CommitAuthor: "ana", Requester: "ci-bot", Trigger: "github",
			Command:   []string{"python3", "train.py", "--out", "/x/model.json"},
			Env:       map[string]string{"SEED": "7", "API_KEY": "***"},
			Toolchain: map[string]string{"sandbox": "bwrap", "modelgate": "dev"},
			Decision:  json.RawMessage(`{"outcome":"allow","reasons":["ok"]}`), PolicyRevision: "rev-1",
			Approvals: []store.LineageApproval{{ID: "ap-1", State: "approved", Risk: "high",
				Votes: []store.Vote{{Reviewer: "bo", Decision: "approve", At: base}}, DecidedAt: base}},
			Evidence: map[string]float64{"evaluate.candidate.roc_auc": 0.93},
		}
		v := store.ModelVersion{Model: "fraud", Version: "v1", Digest: "sha256:1", RunID: "run-1", Lineage: lin, CreatedAt: base}
		require.NoError(t, s.ModelVersionPut(ctx, v))
		replay := v
		replay.Lineage = &store.Lineage{Commit: "other"}
		require.NoError(t, s.ModelVersionPut(ctx, replay), "same digest again is a no-op")
		got, err := s.ModelVersionGet(ctx, "fraud", "v1")
		require.NoError(t, err)
		require.NotNil(t, got.Lineage)
		require.JSONEq(t, string(lin.Decision), string(got.Lineage.Decision))
		got.Lineage.Decision, lin.Decision = nil, nil
		require.Equal(t, *lin, *got.Lineage)
		list, err := s.ModelVersionList(ctx, "fraud")
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.Equal(t, "0123abcd", list[0].Lineage.Commit)

		require.NoError(t, s.ModelVersionPut(ctx, store.ModelVersion{Model: "fraud", Version: "v2", Digest: "sha256:2", CreatedAt: base}))
		bare, err := s.ModelVersionGet(ctx, "fraud", "v2")
		require.NoError(t, err)
		require.Nil(t, bare.Lineage, "a version registered without lineage has none")
	}},
	{"notes: description and tags", func(ctx context.Context, t *testing.T, s store.Store) {
		desc := "retrained on November"
		_, err := s.ModelVersionAnnotate(ctx, store.ModelVersionAnnotateParams{Model: "fraud", Version: "v1", Description: &desc})
		require.ErrorIs(t, err, store.ErrNotFound, "an unregistered version has no notes")
		_, err = s.ModelVersionNotes(ctx, "fraud", "v1")
		require.ErrorIs(t, err, store.ErrNotFound)
		require.NoError(t, s.ModelVersionPut(ctx, store.ModelVersion{Model: "fraud", Version: "v1", Digest: "sha256:1", CreatedAt: base}))

		n, err := s.ModelVersionNotes(ctx, "fraud", "v1")
		require.NoError(t, err)
		require.Equal(t, store.VersionNotes{}, n, "none yet")

		n, err = s.ModelVersionAnnotate(ctx, store.ModelVersionAnnotateParams{Model: "fraud", Version: "v1", Description: &desc,
			SetTags: map[string]string{"team": "risk", "dataset": "2026-11"}})
		require.NoError(t, err)
		require.Equal(t, desc, n.Description)
		require.Equal(t, map[string]string{"team": "risk", "dataset": "2026-11"}, n.Tags)
		require.False(t, n.UpdatedAt.IsZero())

		n, err = s.ModelVersionAnnotate(ctx, store.ModelVersionAnnotateParams{Model: "fraud", Version: "v1",
			SetTags: map[string]string{"team": "fraud"}, DeleteTags: []string{"dataset", "absent"}})
		require.NoError(t, err)
		require.Equal(t, desc, n.Description, "an unset description is kept")
		require.Equal(t, map[string]string{"team": "fraud"}, n.Tags)
		got, err := s.ModelVersionNotes(ctx, "fraud", "v1")
		require.NoError(t, err)
		require.Equal(t, n.Tags, got.Tags)
		require.Equal(t, desc, got.Description)

		for _, bad := range []store.ModelVersionAnnotateParams{
			{Model: "fraud", Version: "v1", SetTags: map[string]string{"": "x"}},
			{Model: "fraud", Version: "v1", SetTags: map[string]string{"a b": "x"}},
			{Model: "fraud", Version: "v1", DeleteTags: []string{"../x"}},
			{Model: "", Version: "v1"},
		} {
			_, err := s.ModelVersionAnnotate(ctx, bad)
			require.Error(t, err, "%+v", bad)
		}
		got, err = s.ModelVersionNotes(ctx, "fraud", "v1")
		require.NoError(t, err)
		require.Equal(t, map[string]string{"team": "fraud"}, got.Tags, "refused params changed nothing")
	}},
	{"aliases move by compare-and-swap", func(ctx context.Context, t *testing.T, s store.Store) {
		ptr := func(s string) *string { return &s }
		_, err := s.AliasSet(ctx, store.AliasSetParams{Model: "fraud", Name: "champion", Version: "v1"})
		require.ErrorIs(t, err, store.ErrNotFound, "an alias points only at a registered version")
		for i, v := range []string{"v1", "v2", "v3"} {
			require.NoError(t, s.ModelVersionPut(ctx, store.ModelVersion{Model: "fraud", Version: v, Digest: "sha256:" + v,
				CreatedAt: base.Add(time.Duration(i) * time.Minute)}))
		}
		_, err = s.AliasGet(ctx, "fraud", "champion")
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = s.AliasSet(ctx, store.AliasSetParams{Model: "fraud", Name: "champion", Version: "v1", Expect: ptr("v0")})
		require.ErrorIs(t, err, store.ErrConflict, "the alias is unset")
		a, err := s.AliasSet(ctx, store.AliasSetParams{Model: "fraud", Name: "champion", Version: "v1", Expect: ptr(""), Actor: "ana", Reason: "first"})
		require.NoError(t, err)
		require.Equal(t, store.Alias{Model: "fraud", Name: "champion", Version: "v1", Actor: "ana", Reason: "first", UpdatedAt: a.UpdatedAt}, a)
		require.False(t, a.UpdatedAt.IsZero())
		a, err = s.AliasSet(ctx, store.AliasSetParams{Model: "fraud", Name: "champion", Version: "v2", Expect: ptr("v1"), Actor: `bo "previous":""`})
		require.NoError(t, err)
		require.Equal(t, "v1", a.Previous)
		require.Equal(t, `bo "previous":""`, a.Actor, "an actor's text is kept as given")
		_, err = s.AliasSet(ctx, store.AliasSetParams{Model: "fraud", Name: "champion", Version: "v3", Expect: ptr("v1")})
		require.ErrorIs(t, err, store.ErrConflict, "stale expectation")
		a, err = s.AliasSet(ctx, store.AliasSetParams{Model: "fraud", Name: "champion", Version: "v2"})
		require.NoError(t, err)
		require.Equal(t, "v1", a.Previous, "setting the same version keeps the old previous")
		_, err = s.AliasSet(ctx, store.AliasSetParams{Model: "fraud", Name: "challenger", Version: "v3"})
		require.NoError(t, err)
		for _, bad := range []string{"", "-x", "a/b", "a b", string(make([]byte, 64))} {
			_, err := s.AliasSet(ctx, store.AliasSetParams{Model: "fraud", Name: bad, Version: "v1"})
			require.Error(t, err, "alias name %q", bad)
		}

		got, err := s.AliasGet(ctx, "fraud", "champion")
		require.NoError(t, err)
		require.Equal(t, "v2", got.Version)
		require.Equal(t, "v1", got.Previous)
		list, err := s.AliasList(ctx, "fraud")
		require.NoError(t, err)
		require.Len(t, list, 2)
		require.Equal(t, []string{"challenger", "champion"}, []string{list[0].Name, list[1].Name})
		require.Equal(t, "v3", list[0].Version)
		none, err := s.AliasList(ctx, "recsys")
		require.NoError(t, err)
		require.Empty(t, none)
	}},
	{"alias race has one winner", func(ctx context.Context, t *testing.T, s store.Store) {
		require.NoError(t, s.ModelVersionPut(ctx, store.ModelVersion{Model: "fraud", Version: "v1", Digest: "sha256:1", CreatedAt: base}))
		require.NoError(t, s.ModelVersionPut(ctx, store.ModelVersion{Model: "fraud", Version: "v2", Digest: "sha256:2", CreatedAt: base}))
		_, err := s.AliasSet(ctx, store.AliasSetParams{Model: "fraud", Name: "champion", Version: "v1"})
		require.NoError(t, err)
		var (
			wg   sync.WaitGroup
			wins atomic.Int32
		)
		expect := "v1"
		for range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := s.AliasSet(ctx, store.AliasSetParams{Model: "fraud", Name: "champion", Version: "v2", Expect: &expect}); err == nil {
					wins.Add(1)
				}
			}()
		}
		wg.Wait()
		require.Equal(t, int32(1), wins.Load())
	}},
}
