package audit

import (
	"context"
	"database/sql"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/store"
)

// loggedTrail is tamperedTrail as the server keeps it: 100 entries with
// checkpoints at 25, 50, 75 and 100 in the store and in the checkpoint log
// beside it, and a copy of the checkpoint at 50 that a user saved.
func loggedTrail(t *testing.T) (*bundle, string, store.Checkpoint) {
	t.Helper()
	dir := t.TempDir()
	logPath := filepath.Join(dir, CheckpointLogFileName)
	b := setup(t, Options{CheckpointEvery: 25, CheckpointLog: logPath})
	b.appendN(t, 100)
	require.NoError(t, b.trail.Close())
	require.Equal(t, []int64{25, 50, 75, 100}, checkpointSeqs(t, b.st))
	logged, err := ReadCheckpointFile(logPath)
	require.NoError(t, err)
	require.Len(t, logged, 4)
	return b, logPath, logged[1]
}

// verifyAll verifies as `modelgate audit verify` does in a data dir.
func verifyAll(t *testing.T, b *bundle, logPath string, saved []store.Checkpoint, interval time.Duration) VerifyReport {
	t.Helper()
	logged, err := ReadCheckpointFile(logPath)
	if err != nil {
		require.ErrorIs(t, err, os.ErrNotExist)
	}
	rep, err := Verify(context.Background(), VerifyParams{Store: b.st, PublicKey: b.pub(), CheckLog: true,
		LogCheckpoints: logged, Saved: saved, CheckpointInterval: interval})
	require.NoError(t, err)
	return rep
}

func problemKinds(rep VerifyReport) []string {
	var out []string
	for _, p := range rep.Problems {
		out = append(out, p.Kind)
	}
	return out
}

// The attacks of issue 21: each one left `audit verify` saying intact
// when the checkpoints lived only in the database.
func TestVerifyCatchesForgeryWithoutTheKey(t *testing.T) {
	t.Parallel()
	// The fake clock ticks 1 ms per entry: 100 entries span ~100 ms, so a
	// 20 ms interval makes "no checkpoint for the whole trail" visible.
	const interval = 20 * time.Millisecond
	cases := []struct {
		name     string
		tamper   func(t *testing.T, b *bundle, db *sql.DB, logPath string)
		saved    bool
		wantKind string
		wantMsg  string
	}{
		{"edit, re-hash, delete the database's checkpoints", func(t *testing.T, b *bundle, db *sql.DB, _ string) {
			mustExec(t, db, `UPDATE audit SET data = '{"i":999,"note":"event"}' WHERE seq = 42`)
			rehash(t, b, db, 42)
			mustExec(t, db, `DELETE FROM audit_checkpoints`)
		}, false, ProblemLogMismatch, "the database's checkpoints were deleted"},
		{"edit, re-hash, delete the checkpoints from the edit on", func(t *testing.T, b *bundle, db *sql.DB, _ string) {
			mustExec(t, db, `UPDATE audit SET data = '{"i":999,"note":"event"}' WHERE seq = 42`)
			rehash(t, b, db, 42)
			mustExec(t, db, `DELETE FROM audit_checkpoints WHERE seq >= 50`)
		}, false, ProblemCheckpoint, "checkpoint log at seq 50"},
		{"cut the tail with its checkpoints", func(t *testing.T, b *bundle, db *sql.DB, _ string) {
			mustExec(t, db, `DELETE FROM audit WHERE seq > 60`)
			mustExec(t, db, `DELETE FROM audit_checkpoints WHERE seq > 60`)
		}, false, ProblemCutTail, "checkpoint log covers seq 100 but the trail ends at seq 60"},
		{"delete the checkpoint log", func(t *testing.T, b *bundle, db *sql.DB, logPath string) {
			require.NoError(t, os.Remove(logPath))
		}, false, ProblemLogMissing, "the log was deleted"},
		{"truncate the checkpoint log", func(t *testing.T, b *bundle, db *sql.DB, logPath string) {
			cps, err := ReadCheckpointFile(logPath)
			require.NoError(t, err)
			require.NoError(t, os.Remove(logPath))
			require.NoError(t, AppendCheckpointFile(logPath, cps[:2]...))
		}, false, ProblemLogMismatch, "the log was truncated"},
		{"edit, re-hash, delete every checkpoint and the log", func(t *testing.T, b *bundle, db *sql.DB, logPath string) {
			mustExec(t, db, `UPDATE audit SET data = '{"i":999,"note":"event"}' WHERE seq = 42`)
			rehash(t, b, db, 42)
			mustExec(t, db, `DELETE FROM audit_checkpoints`)
			require.NoError(t, os.Remove(logPath))
		}, false, ProblemUnsigned, "has no signed checkpoint"},
		{"edit, re-hash, delete the checkpoints from the edit on in both", func(t *testing.T, b *bundle, db *sql.DB, logPath string) {
			mustExec(t, db, `UPDATE audit SET data = '{"i":999,"note":"event"}' WHERE seq = 42`)
			rehash(t, b, db, 42)
			mustExec(t, db, `DELETE FROM audit_checkpoints WHERE seq >= 50`)
			cps, err := ReadCheckpointFile(logPath)
			require.NoError(t, err)
			require.NoError(t, os.Remove(logPath))
			require.NoError(t, AppendCheckpointFile(logPath, cps[:1]...))
		}, false, ProblemUnsigned, "entries 26..100 span"},
		// With the key's owner's database and log both rewritten, a
		// checkpoint saved elsewhere still pins the chain.
		{"rewrite everything, checked against a saved checkpoint", func(t *testing.T, b *bundle, db *sql.DB, logPath string) {
			mustExec(t, db, `UPDATE audit SET data = '{"i":999,"note":"event"}' WHERE seq = 42`)
			rehash(t, b, db, 42)
			mustExec(t, db, `DELETE FROM audit_checkpoints WHERE seq >= 50`)
			cps, err := ReadCheckpointFile(logPath)
			require.NoError(t, err)
			require.NoError(t, os.Remove(logPath))
			require.NoError(t, AppendCheckpointFile(logPath, cps[:1]...))
		}, true, ProblemCheckpoint, "saved checkpoint at seq 50"},
		{"cut below a saved checkpoint, log and all", func(t *testing.T, b *bundle, db *sql.DB, logPath string) {
			mustExec(t, db, `DELETE FROM audit WHERE seq > 40`)
			mustExec(t, db, `DELETE FROM audit_checkpoints WHERE seq > 40`)
			cps, err := ReadCheckpointFile(logPath)
			require.NoError(t, err)
			require.NoError(t, os.Remove(logPath))
			require.NoError(t, AppendCheckpointFile(logPath, cps[:1]...))
		}, true, ProblemCutTail, "saved checkpoint covers seq 50"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b, logPath, saved := loggedTrail(t)
			var keep []store.Checkpoint
			if c.saved {
				keep = []store.Checkpoint{saved}
			}
			require.True(t, verifyAll(t, b, logPath, keep, interval).Intact, "intact before the attack")
			c.tamper(t, b, b.raw(t), logPath)
			rep := verifyAll(t, b, logPath, keep, interval)
			require.False(t, rep.Intact, "%+v", rep)
			var found *Problem
			for i, p := range rep.Problems {
				if p.Kind == c.wantKind {
					found = &rep.Problems[i]
					break
				}
			}
			require.NotNil(t, found, "want a %s problem, got %v", c.wantKind, rep.Problems)
			require.Contains(t, found.Message, c.wantMsg)
		})
	}
}

func TestVerifyWithLogIntact(t *testing.T) {
	t.Parallel()
	b, logPath, saved := loggedTrail(t)
	rep := verifyAll(t, b, logPath, []store.Checkpoint{saved}, 20*time.Millisecond)
	require.True(t, rep.Intact, "%v", rep.Problems)
	require.Equal(t, 4, rep.LogCheckpoints)
	require.Equal(t, 4, rep.LogCheckpointsVerified)
	require.Equal(t, 1, rep.SavedCheckpointsVerified)
	require.Equal(t, int64(100), rep.LastSignedSeq)

	// A checkpoint signed by someone else is not a saved head of ours.
	forged := saved
	forged.Signature = base64Std(make([]byte, 64))
	rep = verifyAll(t, b, logPath, []store.Checkpoint{forged}, 0)
	require.False(t, rep.Intact)
	require.Equal(t, ProblemSignature, rep.FirstBad.Kind)
	require.Contains(t, rep.FirstBad.Message, "saved checkpoint")

	// Entries after the last checkpoint that span less than the interval
	// allows are fine (the next tick signs them).
	b2 := setup(t, Options{CheckpointEvery: 10, CheckpointLog: filepath.Join(t.TempDir(), CheckpointLogFileName)})
	b2.appendN(t, 15)
	rep, err := Verify(context.Background(), VerifyParams{Store: b2.st, PublicKey: b2.pub(), CheckpointInterval: time.Second})
	require.NoError(t, err)
	require.True(t, rep.Intact, "%v", rep.Problems)
	require.Equal(t, int64(5), rep.Unsigned)
	rep, err = Verify(context.Background(), VerifyParams{Store: b2.st, PublicKey: b2.pub(), CheckpointInterval: 2 * time.Millisecond})
	require.NoError(t, err)
	require.False(t, rep.Intact)
	require.Equal(t, ProblemUnsigned, rep.FirstBad.Kind)
	require.Equal(t, int64(11), rep.FirstBad.Seq)
}

func TestOpenWithCheckpointLog(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("refuses a store the log disagrees with", func(t *testing.T) {
		t.Parallel()
		b, logPath, _ := loggedTrail(t)
		db := b.raw(t)
		mustExec(t, db, `DELETE FROM audit WHERE seq > 60`)
		mustExec(t, db, `DELETE FROM audit_checkpoints WHERE seq > 60`)
		_, err := Open(ctx, Options{Store: b.st, KeyPath: b.keyPath, CheckpointLog: logPath, CheckpointInterval: -1})
		require.ErrorContains(t, err, "modelgate audit verify")
		require.ErrorContains(t, err, "seq 100")
		require.Equal(t, []int64{25, 50}, checkpointSeqs(t, b.st), "nothing was signed")
	})

	t.Run("backfills a missing log and signs an unsigned head", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Options{CheckpointEvery: 10})
		b.appendN(t, 25) // checkpoints at 10 and 20; 21..25 unsigned, as after kill -9
		logPath := filepath.Join(t.TempDir(), CheckpointLogFileName)
		tr, err := Open(ctx, Options{Store: b.st, KeyPath: b.keyPath, CheckpointLog: logPath, CheckpointInterval: -1})
		require.NoError(t, err)
		defer tr.Close()
		require.Equal(t, []int64{10, 20, 25}, checkpointSeqs(t, b.st), "the head is signed at open")
		logged, err := ReadCheckpointFile(logPath)
		require.NoError(t, err)
		var seqs []int64
		for _, c := range logged {
			seqs = append(seqs, c.Seq)
		}
		require.Equal(t, []int64{10, 20, 25}, seqs)
	})
}

func TestWitnesses(t *testing.T) {
	t.Parallel()
	var (
		mu   sync.Mutex
		got  []store.Checkpoint
		errs []error
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		c, perr := ParseCheckpoint(body)
		mu.Lock()
		defer mu.Unlock()
		if err != nil || perr != nil || r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			errs = append(errs, perr)
			http.Error(w, "bad", http.StatusBadRequest)
			return
		}
		got = append(got, c)
	}))
	t.Cleanup(srv.Close)
	witnessFile := filepath.Join(t.TempDir(), "witness.log")
	fw, err := ParseWitness(witnessFile)
	require.NoError(t, err)
	hw, err := ParseWitness(srv.URL + "/checkpoints")
	require.NoError(t, err)
	_, err = ParseWitness("s3://bucket/key")
	require.ErrorContains(t, err, "only http(s) URLs and file paths")

	b := setup(t, Options{CheckpointEvery: 10, Witnesses: []Witness{fw, hw},
		CheckpointLog: filepath.Join(t.TempDir(), CheckpointLogFileName)})
	b.appendN(t, 30)
	require.NoError(t, b.trail.Close()) // waits for the witnesses
	mu.Lock()
	require.Empty(t, errs)
	require.Len(t, got, 3)
	mu.Unlock()
	// The witness's file is a checkpoint log: verify accepts it as one, and
	// a cut tail is caught against it.
	rep := verifyAll(t, b, witnessFile, nil, 0)
	require.True(t, rep.Intact, "%v", rep.Problems)
	mustExec(t, b.raw(t), `DELETE FROM audit WHERE seq > 15`)
	mustExec(t, b.raw(t), `DELETE FROM audit_checkpoints WHERE seq > 15`)
	rep = verifyAll(t, b, witnessFile, nil, 0)
	require.False(t, rep.Intact)
	require.Contains(t, problemKinds(rep), ProblemCutTail)
}

func TestParseCheckpoint(t *testing.T) {
	t.Parallel()
	good := `{"seq":5,"hash":"` + strings.Repeat("ab", 32) + `","time":"2026-05-01T12:00:00Z","key_id":"0123456789abcdef","signature":"` + base64Std(make([]byte, 64)) + `"}`
	c, err := ParseCheckpoint([]byte(good + "\n"))
	require.NoError(t, err)
	require.Equal(t, int64(5), c.Seq)
	bad := []struct{ name, in, want string }{
		{"empty", "", "empty"},
		{"not json", "hello", "not a JSON object"},
		{"unknown field", strings.Replace(good, `"seq":5`, `"seq":5,"x":1`, 1), "unknown field"},
		{"missing seq", strings.Replace(good, `"seq":5,`, ``, 1), "seq is missing"},
		{"zero seq", strings.Replace(good, `"seq":5`, `"seq":0`, 1), "not a positive"},
		{"upper-case hash", strings.Replace(good, strings.Repeat("ab", 32), strings.Repeat("AB", 32), 1), "lowercase hex"},
		{"short key id", strings.Replace(good, "0123456789abcdef", "0123", 1), "key_id"},
		{"short signature", strings.Replace(good, base64Std(make([]byte, 64)), base64Std(make([]byte, 10)), 1), "signature"},
		{"trailing data", good + " {}", "data after"},
		{"too long", strings.Repeat(" ", 10) + good + strings.Repeat("x", 5000), "not a checkpoint"},
	}
	for _, tc := range bad {
		_, err := ParseCheckpoint([]byte(tc.in))
		require.ErrorContains(t, err, tc.want, tc.name)
	}
	_, err = ReadCheckpoints(strings.NewReader(good + "\n\n" + "nope\n"))
	require.ErrorContains(t, err, "line 3")
}

// FuzzParseCheckpoint: a checkpoint file comes from outside (a user's
// saved file, a witness); no input may panic, and whatever parses must
// survive a round trip through MarshalCheckpoint.
func FuzzParseCheckpoint(f *testing.F) {
	f.Add([]byte(`{"seq":5,"hash":"` + strings.Repeat("ab", 32) + `","time":"2026-05-01T12:00:00Z","key_id":"0123456789abcdef","signature":"` + base64Std(make([]byte, 64)) + `"}`))
	f.Add([]byte(`{"seq":-1}`))
	f.Add([]byte(`{"seq":1e400,"hash":null}`))
	f.Add([]byte("{\"seq\":1}\n{\"seq\":2}"))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCheckpoint(b)
		if err != nil {
			return
		}
		line, err := MarshalCheckpoint(c)
		if err != nil {
			t.Fatalf("parsed %q but cannot marshal it: %v", b, err)
		}
		again, err := ParseCheckpoint(line)
		if err != nil {
			t.Fatalf("round trip of %q: %v", line, err)
		}
		if again.Seq != c.Seq || again.Hash != c.Hash || !again.Time.Equal(c.Time) || again.KeyID != c.KeyID || again.Signature != c.Signature {
			t.Fatalf("round trip changed %+v into %+v", c, again)
		}
		_, _ = ReadCheckpoints(strings.NewReader(string(b)))
	})
}
