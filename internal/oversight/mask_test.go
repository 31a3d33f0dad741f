package oversight

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

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
