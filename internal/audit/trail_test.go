package audit

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/internal/store/sqlite"
)

func TestAppendChainsAndVerifies(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	ctx := context.Background()
	e, err := b.trail.Append(ctx, Event{Type: "run.created", RunID: "r1", Actor: "ci", Data: map[string]any{"b": 2, "a": 1}})
	require.NoError(t, err)
	require.Equal(t, int64(1), e.Seq)
	require.Equal(t, `{"a":1,"b":2}`, string(e.Data), "data stored canonical")
	var c Chainer
	h, err := c.Next(Hash{}, e)
	require.NoError(t, err)
	require.Equal(t, h.String(), e.Hash)

	require.NoError(t, b.trail.Record(ctx, "run.started", "r1", "coordinator", nil))
	b.appendN(t, 48)
	last, err := b.st.AuditLast(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(50), last.Seq)
	got, err := b.st.AuditList(ctx, store.AuditListParams{AfterSeq: 1, Limit: 1})
	require.NoError(t, err)
	require.Empty(t, got[0].Data, "nil data stays empty")

	rep := b.verify(t)
	require.True(t, rep.Intact, "%+v", rep.Problems)
	require.Equal(t, int64(50), rep.Unsigned, "no checkpoint yet")
	require.NoError(t, b.trail.Close())
	require.ErrorIs(t, b.trail.Record(ctx, "x", "", "", nil), ErrClosed)
	require.ErrorIs(t, b.trail.Checkpoint(ctx), ErrClosed)

	rep = b.verify(t)
	require.True(t, rep.Intact)
	require.Equal(t, int64(50), rep.Entries)
	require.Equal(t, int64(1), rep.FirstSeq)
	require.Equal(t, int64(50), rep.LastSeq)
	require.Equal(t, last.Hash, rep.HeadHash)
	require.Equal(t, 1, rep.CheckpointsVerified, "Close signs the head")
	require.Equal(t, int64(50), rep.LastSignedSeq)
	require.Zero(t, rep.Unsigned)
	require.Nil(t, rep.FirstBad)
}

func TestConcurrentAppendsStayGapFree(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{CheckpointEvery: 100})
	const workers, each = 8, 200
	var wg sync.WaitGroup
	seqs := make(chan int64, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				e, err := b.trail.Append(context.Background(), Event{Type: "t", Actor: fmt.Sprintf("w%d", w), Data: i})
				if err != nil {
					t.Error(err)
					return
				}
				seqs <- e.Seq
			}
		}()
	}
	wg.Wait()
	close(seqs)
	seen := map[int64]bool{}
	for s := range seqs {
		require.False(t, seen[s], "seq %d handed out twice", s)
		seen[s] = true
	}
	require.Len(t, seen, workers*each)
	for s := int64(1); s <= workers*each; s++ {
		require.True(t, seen[s], "seq %d missing", s)
	}
	require.NoError(t, b.trail.Close())
	rep := b.verify(t)
	require.True(t, rep.Intact, "%+v", rep.Problems)
	require.GreaterOrEqual(t, rep.CheckpointsVerified, workers*each/100/2, "checkpoints roughly every 100")
}

func TestResumeAfterReopen(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	b.appendN(t, 10)
	require.NoError(t, b.trail.Close())

	fi, err := os.Stat(b.keyPath)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	pub, err := LoadPublicKey(b.keyPath + ".pub")
	require.NoError(t, err)
	require.True(t, pub.Equal(b.pub()))

	again, err := Open(context.Background(), Options{Store: b.st, KeyPath: b.keyPath, Now: b.clock.now, CheckpointInterval: -1})
	require.NoError(t, err)
	require.Equal(t, b.trail.KeyID(), again.KeyID(), "the same key is loaded")
	e, err := again.Append(context.Background(), Event{Type: "after.restart"})
	require.NoError(t, err)
	require.Equal(t, int64(11), e.Seq)
	require.NoError(t, again.Close())
	rep := b.verify(t)
	require.True(t, rep.Intact, "%+v", rep.Problems)
	require.Equal(t, []int64{10, 11}, checkpointSeqs(t, b.st))
}

// Two processes sharing one database: each Trail sees ErrConflict when the
// other took the next seq, re-reads the head and retries.
func TestTwoWritersOnOneDatabase(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	other, err := sqlite.Open(context.Background(), sqlite.Options{Path: b.dbPath})
	require.NoError(t, err)
	defer other.Close()
	key, err := LoadOrCreateKey(b.keyPath)
	require.NoError(t, err)
	t2, err := Open(context.Background(), Options{Store: other, PrivateKey: key, CheckpointInterval: -1})
	require.NoError(t, err)

	const each = 150
	var wg sync.WaitGroup
	for _, tr := range []*Trail{b.trail, t2} {
		for range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					if _, err := tr.Append(context.Background(), Event{Type: "t", Data: i}); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	require.NoError(t, t2.Close())
	require.NoError(t, b.trail.Close())
	rep := b.verify(t)
	require.True(t, rep.Intact, "%+v", rep.Problems)
	require.Equal(t, int64(6*each), rep.Entries)
	require.Zero(t, rep.Unsigned)
}

func TestCheckpointsEveryN(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{CheckpointEvery: 10})
	b.appendN(t, 35)
	require.Equal(t, []int64{10, 20, 30}, checkpointSeqs(t, b.st))
	require.NoError(t, b.trail.Checkpoint(context.Background()))
	require.NoError(t, b.trail.Checkpoint(context.Background()), "nothing new: no-op")
	require.Equal(t, []int64{10, 20, 30, 35}, checkpointSeqs(t, b.st))
	require.NoError(t, b.trail.Close())
	require.Equal(t, []int64{10, 20, 30, 35}, checkpointSeqs(t, b.st), "close has nothing new to sign")
	rep := b.verify(t)
	require.True(t, rep.Intact)
	require.Equal(t, 4, rep.CheckpointsVerified)
}

func TestCheckpointsOnInterval(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{CheckpointEvery: -1, CheckpointInterval: 10 * time.Millisecond})
	b.appendN(t, 3)
	// A tick may fall between two appends (under load it does), signing
	// what was there then; the next tick must sign the rest, and no tick
	// may sign the same entries twice.
	require.Eventually(t, func() bool {
		seqs := checkpointSeqs(t, b.st)
		return len(seqs) > 0 && seqs[len(seqs)-1] == 3
	}, 10*time.Second, 5*time.Millisecond)
	seqs := checkpointSeqs(t, b.st)
	require.LessOrEqual(t, len(seqs), 3, "at most one checkpoint per entry: %v", seqs)
	require.True(t, slices.IsSorted(seqs) && len(slices.Compact(slices.Clone(seqs))) == len(seqs), "each checkpoint signs something new: %v", seqs)
	time.Sleep(50 * time.Millisecond) // five more ticks with nothing new to sign
	require.Equal(t, seqs, checkpointSeqs(t, b.st), "ticks with nothing new sign nothing")
}

func TestAppendRejectsBadEvents(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	ctx := context.Background()
	cases := []struct {
		name string
		ev   Event
		want string
	}{
		{"no type", Event{}, "event type is empty"},
		{"bad utf8", Event{Type: "t", Actor: "\xff"}, "actor is not valid UTF-8"},
		{"unencodable", Event{Type: "t", Data: make(chan int)}, "encode t event data"},
		{"infinite", Event{Type: "t", Data: json.RawMessage(`1e999`)}, "canonicalize t event data"},
	}
	for _, c := range cases {
		_, err := b.trail.Append(ctx, c.ev)
		require.ErrorContains(t, err, c.want, c.name)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err := b.trail.Append(cancelled, Event{Type: "t"})
	require.ErrorIs(t, err, context.Canceled)
	_, err = b.st.AuditLast(ctx)
	require.ErrorIs(t, err, store.ErrNotFound, "nothing was written")
}

func TestOpenRejectsBadKeys(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	st, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(dir, "m.db")})
	require.NoError(t, err)
	defer st.Close()

	garbage := filepath.Join(dir, "garbage.key")
	require.NoError(t, os.WriteFile(garbage, []byte("not a key"), 0o600))
	mismatch := filepath.Join(dir, "mismatch.key")
	_, err = LoadOrCreateKey(mismatch)
	require.NoError(t, err)
	otherPub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	b, err := encodePublicKey(otherPub)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(mismatch+".pub", b, 0o644))

	cases := []struct {
		name string
		o    Options
		want string
	}{
		{"no store", Options{KeyPath: garbage}, "Options.Store is required"},
		{"no key", Options{Store: st}, "KeyPath or Options.PrivateKey"},
		{"garbage", Options{Store: st, KeyPath: garbage}, "audit key " + garbage},
		{"pub mismatch", Options{Store: st, KeyPath: mismatch}, "does not match the private key"},
		{"short key", Options{Store: st, PrivateKey: ed25519.PrivateKey{1, 2}}, "private key has 2 bytes"},
	}
	for _, c := range cases {
		_, err := Open(context.Background(), c.o)
		require.ErrorContains(t, err, c.want, c.name)
	}
}

func TestKeyFormats(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pemPath := filepath.Join(dir, "a.key")
	key, err := LoadOrCreateKey(pemPath)
	require.NoError(t, err)
	pub := key.Public().(ed25519.PublicKey)

	seedPath := filepath.Join(dir, "seed.key")
	require.NoError(t, os.WriteFile(seedPath, key.Seed(), 0o600))
	rawPath := filepath.Join(dir, "raw.key")
	require.NoError(t, os.WriteFile(rawPath, key, 0o600))
	for _, p := range []string{pemPath, seedPath, rawPath} {
		k, err := LoadOrCreateKey(p)
		require.NoError(t, err, p)
		require.True(t, k.Equal(key), p)
	}
	for name, content := range map[string][]byte{
		"raw": pub, "hex": []byte(fmt.Sprintf("%x\n", []byte(pub))),
		"base64": []byte("  " + base64Std(pub) + "\n"),
	} {
		p := filepath.Join(dir, name+".pub")
		require.NoError(t, os.WriteFile(p, content, 0o644))
		got, err := LoadPublicKey(p)
		require.NoError(t, err, name)
		require.True(t, got.Equal(pub), name)
	}
	_, err = LoadPublicKey(pemPath)
	require.ErrorContains(t, err, `want "PUBLIC KEY"`)
	_, err = LoadPublicKey(filepath.Join(dir, "missing.pub"))
	require.ErrorContains(t, err, "missing.pub")
}

func FuzzParseKeys(f *testing.F) {
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	pemPub, _ := encodePublicKey(pub)
	f.Add(pemPub)
	f.Add([]byte(pub))
	f.Add([]byte(key))
	f.Add(key.Seed())
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n"))
	f.Add([]byte(fmt.Sprintf("%x", []byte(pub))))
	f.Fuzz(func(t *testing.T, b []byte) {
		if k, err := ParsePublicKey(b); err == nil && len(k) != ed25519.PublicKeySize {
			t.Fatalf("public key of %d bytes accepted", len(k))
		}
		if k, err := ParsePrivateKey(b); err == nil && len(k) != ed25519.PrivateKeySize {
			t.Fatalf("private key of %d bytes accepted", len(k))
		}
	})
}
