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

// TestLoadOrCreate: the tokens file a first start writes gives no token
// away (it is what a misbehaving job or a backup would leak); the plain
// tokens go to the caller and to the initial file, and a restart from the
// digests alone still authenticates them.
func TestLoadOrCreate(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "data", "tokens.yaml")
	first, created, err := auth.LoadOrCreate(path)
	require.NoError(t, err)
	require.True(t, created)
	require.Len(t, first, 4)
	for _, p := range []string{path, auth.InitialTokensFile(path)} {
		st, err := os.Stat(p)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), st.Mode().Perm(), p)
	}
	st, err := os.Stat(filepath.Dir(path))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), st.Mode().Perm(), "the data folder")

	stored, err := os.ReadFile(path)
	require.NoError(t, err)
	initial, err := os.ReadFile(auth.InitialTokensFile(path))
	require.NoError(t, err)
	for _, tok := range first {
		require.GreaterOrEqual(t, len(tok.Token), 32, tok.Name)
		require.NotContains(t, string(stored), tok.Token, "tokens.yaml holds %s's plain token", tok.Name)
		require.Contains(t, string(initial), tok.Token, tok.Name)
	}

	again, created, err := auth.LoadOrCreate(path)
	require.NoError(t, err)
	require.False(t, created)
	a, err := auth.New(again)
	require.NoError(t, err)
	for _, tok := range first {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Bearer "+tok.Token)
		p, ok := a.FromRequest(r)
		require.True(t, ok, tok.Name)
		require.Equal(t, tok.Name, p.Subject)
		require.Equal(t, tok.Roles, p.Roles)
	}

	require.NoError(t, os.WriteFile(path, []byte("tokens:\n  - {name: x, tokn: y}\n"), 0o600))
	_, _, err = auth.LoadOrCreate(path)
	require.ErrorContains(t, err, "tokn")
}

// TestChatIdentities: Slack users and GitHub logins resolve only to the
// entry that names them, and a file that gives one id to two people does
// not load (who acts must not depend on the order of the file).
func TestChatIdentities(t *testing.T) {
	t.Parallel()
	a, err := auth.New([]auth.Token{
		{Token: "rita-secret-0123456789", Name: "rita", Roles: []string{"reviewer"}, Slack: []string{"U0RITA"}, GitHub: "Rita-GH"},
		{Token: "otto-secret-0123456789", Name: "otto", Roles: []string{"operator"}, Slack: []string{"U0OTTO", "W0OTTO"}},
	})
	require.NoError(t, err)
	cases := []struct {
		name, slack, github, want string
	}{
		{name: "slack user", slack: "U0RITA", want: "rita"},
		{name: "second slack id", slack: "W0OTTO", want: "otto"},
		{name: "unknown slack user", slack: "U0NOBODY"},
		{name: "empty slack id", slack: ""},
		{name: "github login, any case", github: "rita-gh", want: "rita"},
		{name: "unknown github login", github: "mallory"},
		{name: "subject is not a slack id", slack: "rita"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var p auth.Principal
			var ok bool
			if tc.github != "" {
				p, ok = a.ByGitHub(tc.github)
			} else {
				p, ok = a.BySlack(tc.slack)
			}
			require.Equal(t, tc.want != "", ok)
			require.Equal(t, tc.want, p.Subject)
		})
	}

	for name, toks := range map[string][]auth.Token{
		"slack id on two people": {
			{Token: "aaaa-secret-0123456789", Name: "a", Slack: []string{"U1"}},
			{Token: "bbbb-secret-0123456789", Name: "b", Slack: []string{"U1"}}},
		"github login on two people": {
			{Token: "aaaa-secret-0123456789", Name: "a", GitHub: "x"},
			{Token: "bbbb-secret-0123456789", Name: "b", GitHub: "X"}},
		"blank slack id": {{Token: "aaaa-secret-0123456789", Name: "a", Slack: []string{" "}}},
	} {
		_, err := auth.New(toks)
		require.Error(t, err, name)
	}
	// Two tokens of one person may name the same Slack id.
	_, err = auth.New([]auth.Token{
		{Token: "aaaa-secret-0123456789", Name: "a", Slack: []string{"U1"}},
		{Token: "aaaa-secret-9876543210", Name: "a", Slack: []string{"U1"}}})
	require.NoError(t, err)
}
