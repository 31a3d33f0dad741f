package redact

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// stringSlow is maskString without the prefilter: every pattern runs.
func stringSlow(s string) string {
	for _, re := range secretPatterns {
		if re.MatchString(s) {
			s = re.ReplaceAllString(s, "***")
		}
	}
	return s
}

var maskSeeds = []string{
	"", "risk high (2 point(s))", "denied: the scan stage failed: no summary",
	"token=abc123", "TOKEN: abc", "api_key = zzz", "Api-Key:q", "passwd=x", "my secret: hunter2",
	"Authorization: Bearer abcdefghijkl", "bearer    abcdefghij", "BEARER abcdefghijk",
	"AKIAABCDEFGHIJKLMNOP", "key ASIAABCDEFGHIJKLMNOP!", "ghp_abcdefghijklmnopqrstuvwxyz",
	"xoxb-1234567890-abc", "sk-abcdefghijklmnopqrstuvwx", "-----BEGIN RSA PRIVATE KEY-----\nabc\n-----END RSA PRIVATE KEY-----",
	"to\u212aen=abc", "\u017fecret: x", "pa\u017f\u017fword=1", "naïve token=1", "MODELGATE_TOKEN=mg_0123456789abcdef0123456789abcdef", "token mg_0123456789abcdef0123", "\xff\xfe token=2",
	"sha256:" + strings.Repeat("ab", 32), "2026-01-02T03:04:05.123456789Z", "ml-reviewers",
}

func TestPrefilterChangesNothing(t *testing.T) {
	t.Parallel()
	for _, s := range maskSeeds {
		require.Equal(t, stringSlow(s), String(s), "%q", s)
	}
}

func FuzzString(f *testing.F) {
	for _, s := range maskSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := String(s), stringSlow(s); got != want {
			t.Fatalf("maskString(%q) = %q, without the prefilter %q", s, got, want)
		}
	})
}

func TestMasksKnownCredentials(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"mg_0123456789abcdef0123456789abcdef0123456789abcdef": "***",
		"curl -H 'Authorization: Bearer mg_0123456789abcdef'": "curl -H 'Authorization: Bearer ***'",
		"export AWS_KEY=AKIAABCDEFGHIJKLMNOP":                 "export AWS_KEY=***",
		"epoch 3 loss=0.41 auc=0.93":                          "epoch 3 loss=0.41 auc=0.93",
	} {
		require.Equal(t, want, String(in), in)
	}
}
