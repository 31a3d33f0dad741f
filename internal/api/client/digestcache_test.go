package client

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestDigestCacheNeverTrustsAChangedFile: the cache may only save reads.
// A file rewritten with the same size and its old mtime put back is a miss
// (its ctime moved), a file recorded right after it was written is racy
// (hashed again), and only an old, unchanged entry is a hit.
func TestDigestCacheNeverTrustsAChangedFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := filepath.Join(dir, "model.json")
	require.NoError(t, os.WriteFile(f, []byte("aaaa"), 0o644))
	c := openDigestCache(filepath.Join(dir, "cache"))
	_, state := c.lookup(f)
	require.Equal(t, cacheMiss, state, "never seen")

	c.store(f, "sha256:a")
	_, state = c.lookup(f)
	require.Equal(t, cacheRacy, state, "recorded in the same moment it was written")

	c.racy = 0 // as if recorded long after the write
	got, state := c.lookup(f)
	require.Equal(t, cacheHit, state)
	require.Equal(t, "sha256:a", got.Digest)

	c.save()
	again := openDigestCache(filepath.Join(dir, "cache"))
	again.racy = 0
	_, state = again.lookup(f)
	require.Equal(t, cacheHit, state, "kept across processes")

	st, err := os.Stat(f)
	require.NoError(t, err)
	time.Sleep(10 * time.Millisecond) // a ctime tick apart
	require.NoError(t, os.WriteFile(f, []byte("bbbb"), 0o644))
	require.NoError(t, os.Chtimes(f, st.ModTime(), st.ModTime()))
	_, state = again.lookup(f)
	require.Equal(t, cacheMiss, state, "same size, same mtime, other bytes: the ctime gives it away")

	off := openDigestCache("")
	off.store(f, "sha256:b")
	_, state = off.lookup(f)
	require.Equal(t, cacheMiss, state, "no folder, no cache")
}
