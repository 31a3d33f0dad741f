package workspace

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestResolve(t *testing.T) {
	t.Parallel()
	top := t.TempDir()
	ws := filepath.Join(top, "ws")
	evil := filepath.Join(top, "ws-evil")
	data := filepath.Join(top, "data")
	for _, d := range []string{filepath.Join(ws, "proj"), evil, data} {
		require.NoError(t, os.MkdirAll(d, 0o755))
	}
	require.NoError(t, os.WriteFile(filepath.Join(data, "tokens.yaml"), []byte("secret"), 0o600))
	require.NoError(t, os.Symlink(data, filepath.Join(ws, "proj", "out")))                       // a link out of the root
	require.NoError(t, os.Symlink(filepath.Join(ws, "proj"), filepath.Join(top, "inside-link"))) // a link into the root
	require.NoError(t, os.Symlink(ws, filepath.Join(top, "ws-link")))                            // the root itself through a link
	roots, err := New([]string{filepath.Join(top, "ws-link")})
	require.NoError(t, err)

	for _, tc := range []struct {
		path string
		ok   bool
	}{
		{filepath.Join(ws, "proj"), true},
		{ws, true},
		{filepath.Join(top, "inside-link"), true},
		{"/etc/passwd", false},
		{filepath.Join(ws, "proj", "..", "..", "data", "tokens.yaml"), false},
		{filepath.Join(ws, "proj", "out"), false},
		{filepath.Join(ws, "proj", "out", "tokens.yaml"), false},
		{evil, false},
		{"proj", false},
		{filepath.Join(ws, "missing"), false},
		{"/tmp/\x00", false},
	} {
		got, err := roots.Resolve(tc.path)
		if tc.ok {
			require.NoError(t, err, tc.path)
			require.True(t, Within(ws, got), got)
			continue
		}
		require.Error(t, err, tc.path)
		var we *Error
		require.True(t, errors.As(err, &we), tc.path)
		require.Equal(t, tc.path, we.Path)
	}

	_, err = Roots{}.Resolve(ws)
	require.ErrorContains(t, err, "without --workspace")
	_, err = New([]string{filepath.Join(top, "nope")})
	require.Error(t, err)
}

func TestWithin(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		root, path string
		want       bool
	}{
		{"/srv/ws", "/srv/ws", true},
		{"/srv/ws", "/srv/ws/a/b", true},
		{"/srv/ws", "/srv/ws-evil", false},
		{"/srv/ws", "/srv", false},
		{"/srv/ws", "/srv/ws/../x", false},
		{"/srv/ws", "/srv/ws/..x", true},
	} {
		require.Equal(t, tc.want, Within(tc.root, filepath.Clean(tc.path)), "%s in %s", tc.path, tc.root)
	}
}
