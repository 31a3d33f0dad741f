package auth_test

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/auth"
)

func TestNewRejectsBadTokens(t *testing.T) {
	t.Parallel()
	cases := map[string]auth.Token{
		"short token":      {Token: "short", Name: "a", Roles: []string{"ci"}},
		"token and digest": {Token: "0123456789abcdef0", SHA256: hex.EncodeToString(make([]byte, 32)), Name: "a"},
		"neither":          {Name: "a", Roles: []string{"ci"}},
		"bad digest":       {SHA256: "zz", Name: "a"},
		"no name":          {Token: "0123456789abcdef0", Roles: []string{"ci"}},
		"unknown role":     {Token: "0123456789abcdef0", Name: "a", Roles: []string{"root"}},
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := auth.New([]auth.Token{tok})
			require.Error(t, err)
		})
	}
}

func TestLookup(t *testing.T) {
	t.Parallel()
	secret := "reviewer-secret-0123456789"
	d := sha256.Sum256([]byte(secret))
	a, err := auth.New([]auth.Token{
		{Token: "ci-secret-0123456789abcd", Name: "ci-bot", Roles: []string{"ci"}},
		{SHA256: hex.EncodeToString(d[:]), Name: "rita", Roles: []string{"reviewer"}, Groups: []string{"ml-reviewers"}},
	})
	require.NoError(t, err)
	p, ok := a.Lookup("ci-secret-0123456789abcd")
	require.True(t, ok)
	require.Equal(t, "ci-bot", p.Subject)
	p, ok = a.Lookup(secret)
	require.True(t, ok, "a token configured by its digest")
	require.Equal(t, []string{"ml-reviewers"}, p.Groups)
	_, ok = a.Lookup("ci-secret-0123456789abce")
	require.False(t, ok)
	_, ok = a.Lookup("")
	require.False(t, ok)

	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+secret)
	p, ok = a.FromRequest(r)
	require.True(t, ok)
	require.Equal(t, "rita", p.Subject)
	r.Header.Set("Authorization", "Basic "+secret)
	_, ok = a.FromRequest(r)
	require.False(t, ok)
}

func TestLoadOrCreate(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "data", "tokens.yaml")
	first, created, err := auth.LoadOrCreate(path)
	require.NoError(t, err)
	require.True(t, created)
	require.Len(t, first, 4)
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "the file holds secrets")
	_, err = auth.New(first)
	require.NoError(t, err)
	again, created, err := auth.LoadOrCreate(path)
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, first, again)

	require.NoError(t, os.WriteFile(path, []byte("tokens:\n  - {name: x, tokn: y}\n"), 0o600))
	_, _, err = auth.LoadOrCreate(path)
	require.ErrorContains(t, err, "tokn")
}
