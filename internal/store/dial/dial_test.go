package dial_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/internal/store/dial"
	"github.com/modelgate/modelgate/internal/store/sqlite"
)

func TestOpenPicksTheDriver(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cases := map[string]struct {
		url, driver, err, file string
	}{
		"default is SQLite in the data dir": {driver: "sqlite", file: filepath.Join(dir, "default", sqlite.FileName)},
		"sqlite URL":                        {url: "sqlite://" + filepath.Join(dir, "x.db"), driver: "sqlite", file: filepath.Join(dir, "x.db")},
		"empty sqlite path":                 {url: "sqlite://", err: "want sqlite://PATH"},
		"unknown scheme":                    {url: "postgres://u:secret@h/db", err: `unknown scheme "postgres"`},
		"redis nobody listens on":           {url: "redis://u:hunter2@127.0.0.1:1/0", err: "127.0.0.1:1"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dd := filepath.Join(dir, "default")
			require.NoError(t, os.MkdirAll(dd, 0o700))
			o, err := dial.Open(context.Background(), dial.Params{URL: tc.url, DataDir: dd})
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				require.NotContains(t, err.Error(), "secret", "passwords never reach an error")
				require.NotContains(t, err.Error(), "hunter2", "passwords never reach an error")
				return
			}
			require.NoError(t, err)
			t.Cleanup(func() { o.Store.Close() })
			require.Equal(t, tc.driver, o.Driver)
			require.FileExists(t, tc.file)
		})
	}
}

// TestRedisDurabilityWarnings: a Redis that would lose acknowledged writes
// is named when the store opens, and one with AOF on is not.
func TestRedisDurabilityWarnings(t *testing.T) {
	u := os.Getenv("MODELGATE_TEST_REDIS")
	if u == "" {
		if os.Getenv("MODELGATE_CI") == "1" {
			t.Fatal("MODELGATE_TEST_REDIS is not set but MODELGATE_CI=1")
		}
		t.Skip("MODELGATE_TEST_REDIS is not set")
	}
	ctx := context.Background()
	opt, err := goredis.ParseURL(u)
	require.NoError(t, err)
	admin := goredis.NewClient(opt)
	t.Cleanup(func() { admin.Close() })
	was, err := admin.ConfigGet(ctx, "appendonly").Result()
	require.NoError(t, err)
	t.Cleanup(func() { admin.ConfigSet(ctx, "appendonly", was["appendonly"]) })

	open := func() dial.Opened {
		o, err := dial.Open(ctx, dial.Params{URL: u, Prefix: "dialtest:"})
		require.NoError(t, err)
		t.Cleanup(func() { o.Store.Close() })
		require.Equal(t, "redis", o.Driver)
		var _ store.Store = o.Store
		return o
	}
	require.NoError(t, admin.ConfigSet(ctx, "appendonly", "no").Err())
	o := open()
	require.Len(t, o.Warnings, 1)
	require.Contains(t, o.Warnings[0], "appendonly no")

	require.NoError(t, admin.ConfigSet(ctx, "appendonly", "yes").Err())
	require.Empty(t, open().Warnings)
}
