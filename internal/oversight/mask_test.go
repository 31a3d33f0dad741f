package oversight

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// maskStringSlow is maskString without the prefilter: every pattern runs.
func maskStringSlow(s string) string {
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
	"to\u212aen=abc", "\u017fecret: x", "pa\u017f\u017fword=1", "naïve token=1", "\xff\xfe token=2",
	"sha256:" + strings.Repeat("ab", 32), "2026-01-02T03:04:05.123456789Z", "ml-reviewers",
}

func TestMaskStringPrefilterChangesNothing(t *testing.T) {
	t.Parallel()
	for _, s := range maskSeeds {
		require.Equal(t, maskStringSlow(s), maskString(s), "%q", s)
	}
}

func FuzzMaskString(f *testing.F) {
	for _, s := range maskSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := maskString(s), maskStringSlow(s); got != want {
			t.Fatalf("maskString(%q) = %q, without the prefilter %q", s, got, want)
		}
	})
}

// The decision fast path must give exactly what the JSON round trip gives.
func TestMaskDecisionMatchesJSONRoundTrip(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 26, 8, 0, 0, 123456789, time.UTC)
	tests := []Decision{
		{},
		{ID: "d1", Allow: true, Deny: []Reason{}, Reasons: []string{}, Approvers: Approvers{Groups: []string{}}, Risk: "low", EvaluatedAt: at},
		{
			ID: "d2", Deny: []Reason{{Code: "report.failed", Message: "the scan stage failed: token=abc <b>&"}, {Code: "x", Message: "AKIAABCDEFGHIJKLMNOP"}},
			RequireApproval: true, Approvers: Approvers{Groups: []string{"ml-reviewers", "sk-abcdefghijklmnopqrstuvwx"}, Min: 2},
			Risk: "critical", Reasons: []string{"risk critical (3 point(s))", "denied: Bearer abcdefghijkl"},
			PolicyRevision: "sha256:" + strings.Repeat("1", 64), InputDigest: "sha256:" + strings.Repeat("2", 64),
			EvaluatedAt: at.In(time.FixedZone("x", 3600)),
		},
		{ID: "bad utf-8 \xff", Reasons: []string{"\xfe"}},
		{ID: "far future", EvaluatedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	for i, d := range tests {
		want := maskJSON(d)
		got := Mask(d)
		require.True(t, reflect.DeepEqual(want, got), "case %d:\nwant %#v\ngot  %#v", i, want, got)
	}
}
