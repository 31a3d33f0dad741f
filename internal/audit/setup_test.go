package audit

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/internal/store/sqlite"
)

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "audit", name))
	require.NoError(t, err)
	return b
}

// bundle is what most tests need: a real SQLite store in a temp data dir
// and a trail over it.
type bundle struct {
	dir     string
	dbPath  string
	keyPath string
	st      *sqlite.Store
	trail   *Trail
	clock   *fakeClock
}

type fakeClock struct{ t time.Time }

// now ticks one millisecond per call so that times are distinct and
// deterministic; only the loop goroutine calls it.
func (c *fakeClock) now() time.Time {
	c.t = c.t.Add(time.Millisecond)
	return c.t
}

func setup(t *testing.T, o Options) *bundle {
	t.Helper()
	dir := t.TempDir()
	b := &bundle{dir: dir, dbPath: filepath.Join(dir, sqlite.FileName), keyPath: filepath.Join(dir, KeyFileName),
		clock: &fakeClock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}}
	st, err := sqlite.Open(context.Background(), sqlite.Options{Path: b.dbPath})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	b.st = st
	o.Store = st
	if o.PrivateKey == nil && o.KeyPath == "" {
		o.KeyPath = b.keyPath
	}
	if o.Now == nil {
		o.Now = b.clock.now
	}
	if o.CheckpointInterval == 0 {
		o.CheckpointInterval = -1 // tests drive checkpoints themselves
	}
	tr, err := Open(context.Background(), o)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tr.Close() })
	b.trail = tr
	return b
}

func (b *bundle) appendN(t *testing.T, n int) {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		_, err := b.trail.Append(ctx, Event{Type: "test.event", RunID: fmt.Sprintf("run-%d", i%3), Actor: "tester",
			Data: map[string]any{"i": i, "note": "event"}})
		require.NoError(t, err)
	}
}

func (b *bundle) pub() ed25519.PublicKey { return b.trail.PublicKey() }

func (b *bundle) verify(t *testing.T) VerifyReport {
	t.Helper()
	rep, err := Verify(context.Background(), VerifyParams{Store: b.st, PublicKey: b.pub()})
	require.NoError(t, err)
	return rep
}

// raw opens the database file behind the store's back, as an attacker with
// file access would.
func (b *bundle) raw(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+b.dbPath+"?_pragma=busy_timeout(5000)")
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func mustExec(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	_, err := db.Exec(q, args...)
	require.NoError(t, err, q)
}

func checkpointSeqs(t *testing.T, st store.Store) []int64 {
	t.Helper()
	cps, err := st.AuditCheckpointList(context.Background())
	require.NoError(t, err)
	out := []int64{}
	for _, c := range cps {
		out = append(out, c.Seq)
	}
	return out
}

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
