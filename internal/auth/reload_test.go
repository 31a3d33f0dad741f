package auth_test

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/auth"
)

const (
	ritaToken = "rita-token-0123456789"
	raviToken = "ravi-token-0123456789"
)

func writeTokens(t *testing.T, path, body string) {
	t.Helper()
	// Write and rename, as an editor or a config manager does.
	tmp := path + ".tmp"
	require.NoError(t, os.WriteFile(tmp, []byte(body), 0o600))
	require.NoError(t, os.Rename(tmp, path))
}

const bothTokens = `tokens:
  - {name: rita, token: "` + ritaToken + `", roles: [reviewer], groups: [ml-reviewers]}
  - {name: ravi, token: "` + raviToken + `", roles: [reviewer]}
`

const onlyRavi = `tokens:
  - {name: ravi, token: "` + raviToken + `", roles: [viewer]}
`

func TestReplaceAndReload(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "tokens.yaml")
	writeTokens(t, path, bothTokens)
	toks, err := auth.Load(path)
	require.NoError(t, err)
	a, err := auth.New(toks)
	require.NoError(t, err)
	p, ok := a.Identify("rita")
	require.True(t, ok)
	require.Equal(t, []string{"ml-reviewers"}, p.Groups)

	cases := []struct {
		name     string
		file     string
		wantErr  string
		ritaLive bool
		raviRole string
	}{
		{"a broken file changes nothing", "tokens: [{name: x, token: short}]\n", "shorter than 16", true, "reviewer"},
		{"an unknown key changes nothing", "tokens: []\nextra: 1\n", "extra", true, "reviewer"},
		{"removing rita revokes her at once", onlyRavi, "", false, "viewer"},
	}
	for _, tc := range cases { // in order: each step starts from the last
		writeTokens(t, path, tc.file)
		err := a.Reload(path)
		if tc.wantErr != "" {
			require.ErrorContains(t, err, tc.wantErr, tc.name)
		} else {
			require.NoError(t, err, tc.name)
		}
		_, ok := a.Lookup(ritaToken)
		require.Equal(t, tc.ritaLive, ok, tc.name)
		_, ok = a.Identify("rita")
		require.Equal(t, tc.ritaLive, ok, tc.name)
		p, ok := a.Identify("ravi")
		require.True(t, ok, tc.name)
		require.Equal(t, []string{tc.raviRole}, p.Roles, tc.name)
	}
	_, ok = a.Identify("")
	require.False(t, ok)
}

func TestWatchReloadsOnChange(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "tokens.yaml")
	writeTokens(t, path, bothTokens)
	toks, err := auth.Load(path)
	require.NoError(t, err)
	a, err := auth.New(toks)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var reloads, failures atomic.Int32
	auth.Watch(ctx, a, path, 5*time.Millisecond, func(error) { failures.Add(1) }, func() { reloads.Add(1) })

	writeTokens(t, path, "not: [valid\n")
	require.Eventually(t, func() bool { return failures.Load() == 1 }, 5*time.Second, 5*time.Millisecond)
	_, ok := a.Lookup(ritaToken)
	require.True(t, ok, "a broken file keeps the identities as they were")

	writeTokens(t, path, onlyRavi)
	require.Eventually(t, func() bool { _, ok := a.Lookup(ritaToken); return !ok }, 5*time.Second, 5*time.Millisecond)
	require.Equal(t, int32(1), reloads.Load())
}
