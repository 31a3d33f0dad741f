package blob_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/blob"
)

func digestOf(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

func TestPutVerifiesAndIsIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fs, err := blob.NewFS(filepath.Join(t.TempDir(), "blobs"))
	require.NoError(t, err)
	body := []byte("row,score\n1,0.5\n")
	d := digestOf(body)

	_, err = fs.Stat(ctx, d)
	require.ErrorIs(t, err, blob.ErrNotFound)

	_, _, err = fs.Put(ctx, blob.PutParams{Digest: d, Body: bytes.NewReader(append(body, '!'))})
	require.ErrorIs(t, err, blob.ErrDigestMismatch, "bytes that do not hash to the name are refused")
	_, err = fs.Stat(ctx, d)
	require.ErrorIs(t, err, blob.ErrNotFound, "and nothing is kept")

	_, _, err = fs.Put(ctx, blob.PutParams{Digest: d, Body: bytes.NewReader(body), Max: int64(len(body) - 1)})
	require.ErrorIs(t, err, blob.ErrTooLarge)

	info, created, err := fs.Put(ctx, blob.PutParams{Digest: d, Body: bytes.NewReader(body), Max: int64(len(body))})
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, blob.Info{Digest: d, Size: int64(len(body))}, info)

	_, created, err = fs.Put(ctx, blob.PutParams{Digest: d, Body: strings.NewReader("not read")})
	require.NoError(t, err)
	require.False(t, created, "a second Put of a stored blob is a no-op")

	rc, info, err := fs.Open(ctx, d)
	require.NoError(t, err)
	got, _ := io.ReadAll(rc)
	rc.Close()
	require.Equal(t, body, got)
	require.Equal(t, int64(len(body)), info.Size)

	p, err := fs.Path(d)
	require.NoError(t, err)
	st, err := os.Stat(p)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o444), st.Mode().Perm(), "a stored blob is read-only")
	left, _ := os.ReadDir(filepath.Join(filepath.Dir(filepath.Dir(filepath.Dir(p))), "tmp"))
	require.Empty(t, left, "failed puts leave no temporary files")
}

func TestParallelPutsOfOneBlob(t *testing.T) {
	t.Parallel()
	fs, err := blob.NewFS(t.TempDir())
	require.NoError(t, err)
	body := bytes.Repeat([]byte("x"), 1<<20)
	d := digestOf(body)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, errs[i] = fs.Put(context.Background(), blob.PutParams{Digest: d, Body: bytes.NewReader(body)})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	rc, _, err := fs.Open(context.Background(), d)
	require.NoError(t, err)
	got, _ := io.ReadAll(rc)
	rc.Close()
	require.Equal(t, digestOf(body), digestOf(got))
}

func TestDigestsAreNeverPaths(t *testing.T) {
	t.Parallel()
	fs, err := blob.NewFS(t.TempDir())
	require.NoError(t, err)
	for _, d := range []string{
		"", "sha256:", "md5:" + strings.Repeat("a", 32), "sha256:" + strings.Repeat("A", 64),
		"sha256:" + strings.Repeat("a", 63), "sha256:../../../../etc/passwd" + strings.Repeat("a", 37),
		"sha256:" + strings.Repeat("a", 62) + "/x", "sha256:" + strings.Repeat("a", 64) + "\x00",
	} {
		_, err := fs.Path(d)
		require.Error(t, err, "%q", d)
		_, err = fs.Stat(context.Background(), d)
		require.Error(t, err, "%q", d)
		require.False(t, errors.Is(err, blob.ErrNotFound), "%q is refused, not looked up", d)
	}
}

func TestMaterialise(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	root := t.TempDir()
	fs, err := blob.NewFS(filepath.Join(root, "blobs"))
	require.NoError(t, err)
	a, b := []byte("a,b\n1,2\n"), []byte(`{"learner":{}}`)
	for _, body := range [][]byte{a, b} {
		_, _, err := fs.Put(ctx, blob.PutParams{Digest: digestOf(body), Body: bytes.NewReader(body)})
		require.NoError(t, err)
	}
	dir := filepath.Join(root, "in")
	files := map[string]string{"data/ref.csv": digestOf(a), "model/model.json": digestOf(b)}
	require.NoError(t, blob.Materialise(ctx, blob.MaterialiseParams{Store: fs, Files: files, Dir: dir}))
	got, err := os.ReadFile(filepath.Join(dir, "model", "model.json"))
	require.NoError(t, err)
	require.Equal(t, b, got)
	require.True(t, blob.Covers(files, "model"), "a folder is covered by the files under it")
	require.True(t, blob.Covers(files, "./data/ref.csv"))
	require.False(t, blob.Covers(files, "mod"))
	require.False(t, blob.Covers(files, "data/ref"))

	cases := map[string]map[string]string{
		"dot-dot":        {"../escape.csv": digestOf(a)},
		"inner dot-dot":  {"data/../../escape.csv": digestOf(a)},
		"absolute":       {"/etc/passwd": digestOf(a)},
		"backslash":      {`..\escape`: digestOf(a)},
		"empty":          {"": digestOf(a)},
		"not clean":      {"data//x": digestOf(a)},
		"bad digest":     {"x": "sha256:nope"},
		"missing blob":   {"x": digestOf([]byte("never uploaded"))},
		"file is folder": {"m": digestOf(a), "m/x": digestOf(b)},
	}
	for name, files := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dst := filepath.Join(root, "bad-"+strings.ReplaceAll(name, " ", "-"))
			err := blob.Materialise(ctx, blob.MaterialiseParams{Store: fs, Files: files, Dir: dst})
			require.Error(t, err)
			require.Contains(t, err.Error(), "files[")
			_, statErr := os.Stat(filepath.Join(root, "escape.csv"))
			require.ErrorIs(t, statErr, os.ErrNotExist)
		})
	}
}

func FuzzCheckName(f *testing.F) {
	for _, s := range []string{"a", "a/b.csv", "../x", "/etc/passwd", "a/../../b", "a\\..\\b", ".", "a/./b"} {
		f.Add(s)
	}
	root := "/srv/inputs"
	f.Fuzz(func(t *testing.T, name string) {
		if blob.CheckName(name) != nil {
			return
		}
		p := filepath.Join(root, filepath.FromSlash(name))
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == ".." || strings.HasPrefix(rel, "../") || rel == "." {
			t.Fatalf("CheckName accepted %q, which lands at %s", name, p)
		}
	})
}
