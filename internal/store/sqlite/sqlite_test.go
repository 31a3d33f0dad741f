package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/internal/store/sqlite"
	"github.com/modelgate/modelgate/internal/store/storetest"
)

func open(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), sqlite.Options{Path: path})
	require.NoError(t, err)
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Exercise(t, func(t *testing.T) store.Store {
		s := open(t, filepath.Join(t.TempDir(), "modelgate.db"))
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		return s
	})
}

func TestDataSurvivesReopen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "nested", "dir", sqlite.FileName)
	s := open(t, path)
	run, _, err := s.RunCreate(ctx, store.RunCreateParams{Run: store.Run{ID: "r1", Model: "fraud"}, IdempotencyKey: "k", RequestDigest: "d"})
	require.NoError(t, err)
	_, err = s.RunTransition(ctx, store.RunTransitionParams{ID: "r1", To: store.RunRunning})
	require.NoError(t, err)
	require.NoError(t, s.StagePut(ctx, store.Stage{RunID: "r1", Name: "test", State: store.StageSucceeded}))
	require.NoError(t, s.AuditAppend(ctx, store.AuditEntry{Seq: 1, Time: time.Now(), Type: "run.created", Hash: "00"}))
	_, err = s.ProductionSet(ctx, store.ProductionSetParams{Model: "fraud", Environment: "prod", Version: "v1"})
	require.NoError(t, err)
	require.NoError(t, s.Close())

	s = open(t, path)
	defer s.Close()
	v, err := s.SchemaVersion(ctx)
	require.NoError(t, err)
	require.Equal(t, 6, v, "the initial schema, the sessions tables, the claims and model settings tables, the gateway windows, the leases table, the registry's lineage, notes and aliases")
	got, err := s.RunGet(ctx, "r1")
	require.NoError(t, err)
	require.Equal(t, store.RunRunning, got.State)
	again, created, err := s.RunCreate(ctx, store.RunCreateParams{Run: store.Run{Model: "fraud"}, IdempotencyKey: "k", RequestDigest: "d"})
	require.NoError(t, err)
	require.False(t, created, "idempotency keys survive a restart")
	require.Equal(t, run.ID, again.ID)
	stages, err := s.StageList(ctx, "r1")
	require.NoError(t, err)
	require.Len(t, stages, 1)
	last, err := s.AuditLast(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(1), last.Seq)
	p, err := s.ProductionGet(ctx, "fraud", "prod")
	require.NoError(t, err)
	require.Equal(t, "v1", p.Version)
}

func TestOpenRejectsBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o600))
	notDB := filepath.Join(dir, "garbage.db")
	require.NoError(t, os.WriteFile(notDB, []byte("this is not a sqlite database, just some text padding it out to a page"), 0o600))
	cases := []struct {
		name string
		o    sqlite.Options
		want string
	}{
		{"no path", sqlite.Options{}, "Path is required"},
		{"memory", sqlite.Options{Path: ":memory:"}, "must be a file path"},
		{"bad synchronous", sqlite.Options{Path: filepath.Join(dir, "a.db"), Synchronous: "OFF"}, "NORMAL or FULL"},
		{"parent is a file", sqlite.Options{Path: filepath.Join(file, "x.db")}, "create data directory"},
		{"not a database", sqlite.Options{Path: notDB}, notDB},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := sqlite.Open(context.Background(), c.o)
			require.ErrorContains(t, err, c.want)
		})
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "m.db")
	s := open(t, path)
	require.NoError(t, s.Close())
	raw, err := sqlite.Open(ctx, sqlite.Options{Path: path})
	require.NoError(t, err)
	require.NoError(t, raw.SetSchemaVersionForTest(ctx, 99))
	require.NoError(t, raw.Close())
	_, err = sqlite.Open(ctx, sqlite.Options{Path: path})
	require.ErrorContains(t, err, "schema version 99 is newer")
}

func TestTwoStoresOnOneFile(t *testing.T) {
	t.Parallel()
	// Two processes sharing a data dir look like two Stores on one file:
	// their CAS operations must still exclude each other.
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "m.db")
	a, b := open(t, path), open(t, path)
	defer a.Close()
	defer b.Close()
	_, _, err := a.RunCreate(ctx, store.RunCreateParams{Run: store.Run{ID: "r", Model: "m"}})
	require.NoError(t, err)
	const n = 8
	errs := make(chan error, 2*n)
	for i := range 2 * n {
		s := a
		if i%2 == 1 {
			s = b
		}
		go func() {
			_, err := s.RunTransition(ctx, store.RunTransitionParams{ID: "r", From: []store.RunState{store.RunQueued}, To: store.RunRunning})
			errs <- err
		}()
	}
	wins := 0
	for range 2 * n {
		err := <-errs
		if err == nil {
			wins++
			continue
		}
		require.ErrorIs(t, err, store.ErrConflict)
	}
	require.Equal(t, 1, wins)
}

func TestAuditAppendBatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "m.db"))
	defer s.Close()
	mk := func(from, n int64) []store.AuditEntry {
		var es []store.AuditEntry
		for seq := from; seq < from+n; seq++ {
			es = append(es, store.AuditEntry{Seq: seq, Time: time.Unix(0, seq).UTC(), Type: "t", Data: []byte(`{"n":1}`), Hash: fmt.Sprintf("%064d", seq)})
		}
		return es
	}
	// 150 = two multi-row chunks of 64 and 22 single rows.
	require.NoError(t, s.AuditAppendBatch(ctx, mk(1, 150)))
	require.ErrorIs(t, s.AuditAppendBatch(ctx, mk(152, 70)), store.ErrConflict, "gap before the batch")
	gappy := mk(151, 70)
	gappy[65].Seq = 999
	require.ErrorIs(t, s.AuditAppendBatch(ctx, gappy), store.ErrConflict, "gap inside the batch")
	require.ErrorIs(t, s.AuditAppendBatch(ctx, mk(100, 70)), store.ErrConflict, "overlap")
	require.NoError(t, s.AuditAppendBatch(ctx, nil))
	require.NoError(t, s.AuditAppendBatch(ctx, mk(151, 64)))

	got, err := s.AuditList(ctx, store.AuditListParams{Limit: 1000})
	require.NoError(t, err)
	require.Len(t, got, 214, "failed batches wrote nothing")
	for i, e := range got {
		require.Equal(t, int64(i+1), e.Seq)
		require.Equal(t, fmt.Sprintf("%064d", e.Seq), e.Hash)
		require.Equal(t, `{"n":1}`, string(e.Data))
		require.Equal(t, int64(i+1), e.Time.UnixNano())
	}
}
