package ui

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

func TestSessionRoundTrip(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := session{ID: strings.Repeat("b", 48), Subject: "rita", Roles: []string{"reviewer"}, CSRF: strings.Repeat("a", 48), Expires: now.Add(time.Hour)}
	v, err := encodeSession(testKey, s)
	require.NoError(t, err)
	got, err := decodeSession(testKey, v, now)
	require.NoError(t, err)
	require.Equal(t, s.Subject, got.Subject)
	require.Equal(t, s.ID, got.ID)
	// A cookie signed before sessions had ids cannot be checked against
	// the server's record, so it is refused.
	noID, err := encodeSession(testKey, session{Subject: "rita", CSRF: strings.Repeat("a", 48), Expires: now.Add(time.Hour)})
	require.NoError(t, err)
	tests := map[string]struct {
		key   []byte
		value string
		now   time.Time
	}{
		"expired":      {testKey, v, now.Add(2 * time.Hour)},
		"other key":    {[]byte("ffffffffffffffffffffffffffffffff"), v, now},
		"tampered":     {testKey, "x" + v, now},
		"no signature": {testKey, strings.Split(v, ".")[0], now},
		"empty":        {testKey, "", now},
		"too long":     {testKey, strings.Repeat("a", 5000), now},
		"no id":        {testKey, noID, now},
	}
	for name, tc := range tests {
		_, err := decodeSession(tc.key, tc.value, tc.now)
		require.ErrorIs(t, err, errBadSession, name)
	}
}

// FuzzDecodeSession: a cookie is outside input; decoding must never panic
// and must never accept anything it did not sign.
func FuzzDecodeSession(f *testing.F) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	good, _ := encodeSession(testKey, session{ID: strings.Repeat("b", 48), Subject: "rita", CSRF: strings.Repeat("a", 48), Expires: now.Add(time.Hour)})
	for _, seed := range []string{good, "", ".", "a.b", good + "x", strings.Repeat(".", 100)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, v string) {
		s, err := decodeSession(testKey, v, now)
		if err == nil && v != good {
			// Only a correctly signed payload may decode.
			p, _, _ := strings.Cut(v, ".")
			if sign(testKey, p) != v[len(p)+1:] {
				t.Fatalf("accepted unsigned session %q as %+v", v, s)
			}
		}
	})
}
