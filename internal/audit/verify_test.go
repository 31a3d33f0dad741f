package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/store"
)

// tamperedTrail builds 100 entries with checkpoints at 25, 50, 75 and 100.
func tamperedTrail(t *testing.T) *bundle {
	t.Helper()
	b := setup(t, Options{CheckpointEvery: 25})
	b.appendN(t, 100)
	require.NoError(t, b.trail.Close())
	require.Equal(t, []int64{25, 50, 75, 100}, checkpointSeqs(t, b.st))
	return b
}

// rehash recomputes every stored hash from seq from on, as an attacker
// who knows the scheme (but not the key) would after editing an entry.
func rehash(t *testing.T, b *bundle, db *sql.DB, from int64) {
	t.Helper()
	ctx := context.Background()
	var head Hash
	if from > 1 {
		es, err := b.st.AuditList(ctx, store.AuditListParams{AfterSeq: from - 2, Limit: 1})
		require.NoError(t, err)
		head, err = ParseHash(es[0].Hash)
		require.NoError(t, err)
	}
	var c Chainer
	for e, err := range StoreEntries(ctx, b.st, from-1, 1000) {
		require.NoError(t, err)
		h, err := c.Next(head, e)
		require.NoError(t, err)
		mustExec(t, db, `UPDATE audit SET hash = ? WHERE seq = ?`, h.String(), e.Seq)
		head = h
	}
}

func TestVerifyCatchesTampering(t *testing.T) {
	t.Parallel()
	otherPub, otherKey, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	_ = otherPub
	cases := []struct {
		name     string
		tamper   func(t *testing.T, b *bundle, db *sql.DB)
		wantSeq  int64
		wantKind string
		wantMsg  string
	}{
		{"change an entry's data", func(t *testing.T, b *bundle, db *sql.DB) {
			mustExec(t, db, `UPDATE audit SET data = '{"i":999,"note":"event"}' WHERE seq = 42`)
		}, 42, ProblemHash, "content was changed"},
		{"change an entry's actor", func(t *testing.T, b *bundle, db *sql.DB) {
			mustExec(t, db, `UPDATE audit SET actor = 'mallory' WHERE seq = 7`)
		}, 7, ProblemHash, ""},
		{"change an entry's time by a nanosecond", func(t *testing.T, b *bundle, db *sql.DB) {
			mustExec(t, db, `UPDATE audit SET time = time + 1 WHERE seq = 60`)
		}, 60, ProblemHash, ""},
		{"delete an entry", func(t *testing.T, b *bundle, db *sql.DB) {
			mustExec(t, db, `DELETE FROM audit WHERE seq = 42`)
		}, 42, ProblemMissing, "entries 42..42 are missing"},
		{"delete a range", func(t *testing.T, b *bundle, db *sql.DB) {
			mustExec(t, db, `DELETE FROM audit WHERE seq BETWEEN 30 AND 33`)
		}, 30, ProblemMissing, "entries 30..33 are missing"},
		{"swap two entries", func(t *testing.T, b *bundle, db *sql.DB) {
			mustExec(t, db, `UPDATE audit SET seq = -10 WHERE seq = 10`)
			mustExec(t, db, `UPDATE audit SET seq = 10 WHERE seq = 20`)
			mustExec(t, db, `UPDATE audit SET seq = 20 WHERE seq = -10`)
		}, 10, ProblemHash, ""},
		{"cut the tail", func(t *testing.T, b *bundle, db *sql.DB) {
			mustExec(t, db, `DELETE FROM audit WHERE seq > 90`)
		}, 91, ProblemCutTail, "entries 91..100 were deleted"},
		{"cut only the last entry", func(t *testing.T, b *bundle, db *sql.DB) {
			mustExec(t, db, `DELETE FROM audit WHERE seq = 100`)
		}, 100, ProblemCutTail, ""},
		{"forge a checkpoint's hash", func(t *testing.T, b *bundle, db *sql.DB) {
			mustExec(t, db, `UPDATE audit_checkpoints SET hash = (SELECT hash FROM audit WHERE seq = 49) WHERE seq = 50`)
		}, 50, ProblemSignature, "forged"},
		{"forge a checkpoint with another key", func(t *testing.T, b *bundle, db *sql.DB) {
			c := store.Checkpoint{Seq: 60, Time: time.Now().UTC(), KeyID: KeyID(otherPub)}
			var h string
			require.NoError(t, db.QueryRow(`SELECT hash FROM audit WHERE seq = 60`).Scan(&h))
			c.Hash = h
			c.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(otherKey, AppendCheckpointCanonical(nil, c)))
			require.NoError(t, b.st.AuditCheckpointPut(context.Background(), c))
		}, 60, ProblemSignature, "signed with key id"},
		{"rewrite the chain after editing", func(t *testing.T, b *bundle, db *sql.DB) {
			mustExec(t, db, `UPDATE audit SET data = '{"i":999}' WHERE seq = 42`)
			rehash(t, b, db, 42)
		}, 50, ProblemCheckpoint, "entries 26..50 were rewritten"},
		{"rewrite the chain and drop its checkpoints", func(t *testing.T, b *bundle, db *sql.DB) {
			mustExec(t, db, `UPDATE audit SET data = '{"i":999}' WHERE seq = 42`)
			rehash(t, b, db, 42)
			mustExec(t, db, `DELETE FROM audit_checkpoints WHERE seq = 50`)
		}, 75, ProblemCheckpoint, "entries 26..75 were rewritten"},
		{"malformed stored hash", func(t *testing.T, b *bundle, db *sql.DB) {
			mustExec(t, db, `UPDATE audit SET hash = 'zz' WHERE seq = 33`)
		}, 33, ProblemMalformed, ""},
		{"data that is not JSON", func(t *testing.T, b *bundle, db *sql.DB) {
			mustExec(t, db, `UPDATE audit SET data = '{"i":' WHERE seq = 12`)
		}, 12, ProblemNotCanonical, "data"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b := tamperedTrail(t)
			c.tamper(t, b, b.raw(t))
			rep := b.verify(t)
			require.False(t, rep.Intact)
			require.NotNil(t, rep.FirstBad, "%+v", rep)
			require.Equal(t, c.wantSeq, rep.FirstBad.Seq, "%+v", rep.Problems)
			require.Equal(t, c.wantKind, rep.FirstBad.Kind, "%+v", rep.Problems)
			require.Contains(t, rep.FirstBad.Message, c.wantMsg)
		})
	}
}

func TestVerifyIntactAndLimits(t *testing.T) {
	t.Parallel()
	b := tamperedTrail(t)
	rep := b.verify(t)
	require.True(t, rep.Intact, "%+v", rep.Problems)
	require.Equal(t, 4, rep.CheckpointsVerified)

	// Deleting the tail and its checkpoint together cannot be proven from
	// the database alone; the report says how much is unsigned.
	db := b.raw(t)
	mustExec(t, db, `DELETE FROM audit WHERE seq > 90`)
	mustExec(t, db, `DELETE FROM audit_checkpoints WHERE seq = 100`)
	rep = b.verify(t)
	require.True(t, rep.Intact)
	require.Equal(t, int64(75), rep.LastSignedSeq)
	require.Equal(t, int64(15), rep.Unsigned)

	// The wrong public key fails every checkpoint.
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	rep, err = Verify(context.Background(), VerifyParams{Store: b.st, PublicKey: pub})
	require.NoError(t, err)
	require.False(t, rep.Intact)
	require.Equal(t, int64(25), rep.FirstBad.Seq)
	require.Equal(t, ProblemSignature, rep.FirstBad.Kind)
	require.Len(t, rep.Problems, 3)

	// Problems are capped.
	mustExec(t, db, `UPDATE audit SET actor = 'x'`)
	rep, err = Verify(context.Background(), VerifyParams{Store: b.st, PublicKey: b.pub(), MaxProblems: 5})
	require.NoError(t, err)
	require.Len(t, rep.Problems, 5)
	require.True(t, rep.ProblemsTruncated)
	require.False(t, rep.Intact)

	_, err = Verify(context.Background(), VerifyParams{Store: b.st})
	require.ErrorContains(t, err, "public key has 0 bytes")
	_, err = Verify(context.Background(), VerifyParams{PublicKey: b.pub()})
	require.ErrorContains(t, err, "give a Store or Entries")
}

func TestVerifyEmptyTrail(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	rep := b.verify(t)
	require.True(t, rep.Intact)
	require.Zero(t, rep.Entries)
	require.Empty(t, rep.HeadHash)
}

func export(t *testing.T, b *bundle, since int64) string {
	t.Helper()
	var buf bytes.Buffer
	sum, err := Export(context.Background(), &buf, ExportParams{Store: b.st, Since: since})
	require.NoError(t, err)
	require.Equal(t, int64(100)-since, sum.Entries)
	p := filepath.Join(t.TempDir(), "audit.jsonl")
	require.NoError(t, os.WriteFile(p, buf.Bytes(), 0o600))
	return p
}

func verifyFile(t *testing.T, path string, pub ed25519.PublicKey) (VerifyReport, error) {
	t.Helper()
	x, err := OpenExport(path)
	if err != nil {
		return VerifyReport{}, err
	}
	return x.Verify(context.Background(), pub)
}

func editLines(t *testing.T, path string, f func(lines []string) []string) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	require.NoError(t, os.WriteFile(path, []byte(strings.Join(f(lines), "\n")+"\n"), 0o600))
}

func TestExportRoundTrip(t *testing.T) {
	t.Parallel()
	b := tamperedTrail(t)
	path := export(t, b, 0)
	rep, err := verifyFile(t, path, b.pub())
	require.NoError(t, err)
	require.True(t, rep.Intact, "%+v", rep.Problems)
	require.Equal(t, int64(100), rep.Entries)
	require.Equal(t, 4, rep.CheckpointsVerified)
	require.Equal(t, b.verify(t).HeadHash, rep.HeadHash)

	partial := export(t, b, 40)
	rep, err = verifyFile(t, partial, b.pub())
	require.NoError(t, err)
	require.True(t, rep.Intact, "%+v", rep.Problems)
	require.True(t, rep.Partial)
	require.Equal(t, int64(41), rep.FirstSeq)
	require.Equal(t, 3, rep.CheckpointsVerified, "50, 75, 100")

	var buf bytes.Buffer
	_, err = Export(context.Background(), &buf, ExportParams{Store: b.st, Since: 101})
	require.ErrorContains(t, err, "beyond the last entry")
}

func TestExportTampering(t *testing.T) {
	t.Parallel()
	b := tamperedTrail(t)
	// Line 1 is the header, line 1+k holds seq k.
	cases := []struct {
		name     string
		edit     func([]string) []string
		wantSeq  int64
		wantKind string
	}{
		{"swap two lines", func(l []string) []string { l[10], l[20] = l[20], l[10]; return l }, 10, ProblemMissing},
		{"edit data", func(l []string) []string {
			l[42] = strings.Replace(l[42], `"note":"event"`, `"note":"edited"`, 1)
			return l
		}, 42, ProblemHash},
		{"drop a line", func(l []string) []string { return append(l[:43:43], l[44:]...) }, 43, ProblemMissing},
		{"cut the tail", func(l []string) []string {
			// Entries 91..100 go, the checkpoints at the end stay.
			return append(l[:91:91], l[101:]...)
		}, 91, ProblemCutTail},
		{"duplicate a line", func(l []string) []string {
			return append(l[:31:31], append([]string{l[30]}, l[31:]...)...)
		}, 30, ProblemOrder},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p := export(t, b, 0)
			editLines(t, p, c.edit)
			rep, err := verifyFile(t, p, b.pub())
			require.NoError(t, err)
			require.False(t, rep.Intact)
			require.Equal(t, c.wantSeq, rep.FirstBad.Seq, "%+v", rep.Problems)
			require.Equal(t, c.wantKind, rep.FirstBad.Kind, "%+v", rep.Problems)
		})
	}
}

func TestExportUnreadable(t *testing.T) {
	t.Parallel()
	b := tamperedTrail(t)
	cases := []struct {
		name string
		edit func([]string) []string
		want string
	}{
		{"not an export", func(l []string) []string { return []string{`{"hello":1}`} }, "line 1: not a modelgate audit export"},
		{"future version", func(l []string) []string {
			l[0] = strings.Replace(l[0], `"version":1`, `"version":2`, 1)
			return l
		}, "version 2 is not supported"},
		{"garbage line", func(l []string) []string { l[5] = "{not json"; return l }, "line 6:"},
		{"unknown line kind", func(l []string) []string { l[101] = `{"other":{}}`; return l }, "line 102:"},
		{"both kinds", func(l []string) []string { l[101] = `{"entry":null,"checkpoint":null}`; return l }, `line 102: want exactly one`},
		{"empty", func(l []string) []string { return nil }, "empty file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p := export(t, b, 0)
			editLines(t, p, c.edit)
			_, err := verifyFile(t, p, b.pub())
			require.ErrorContains(t, err, c.want)
		})
	}
	_, err := OpenExport(filepath.Join(t.TempDir(), "missing.jsonl"))
	require.ErrorContains(t, err, "missing.jsonl")
}

func FuzzVerifyExport(f *testing.F) {
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	_ = key
	hdr := `{"format":"modelgate-audit-export","version":1,"since":0,"head_seq":2,"exported_at":"2026-01-01T00:00:00Z"}`
	f.Add([]byte(hdr + "\n" + `{"entry":{"seq":1,"time":"2026-01-01T00:00:00Z","type":"t","data":{"a":1},"hash":"00"}}` + "\n"))
	f.Add([]byte(hdr + "\n" + `{"checkpoint":{"seq":5,"hash":"ab","time":"2026-01-01T00:00:00Z","key_id":"k","signature":"c2ln"}}` + "\n"))
	f.Add([]byte(hdr + "\n" + `{"entry":{"seq":3,"time":"x"}}`))
	f.Add([]byte(`{"format":"modelgate-audit-export","version":1,"since":4,"prev_hash":"zz","head_seq":2,"exported_at":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte("\n\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "x.jsonl")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		x, err := OpenExport(p)
		if err != nil {
			return
		}
		rep, err := x.Verify(context.Background(), pub)
		if err != nil {
			return
		}
		if rep.Intact && rep.CheckpointsVerified > 0 {
			t.Fatalf("random input verified against a fresh key: %s", fmt.Sprint(rep))
		}
	})
}
