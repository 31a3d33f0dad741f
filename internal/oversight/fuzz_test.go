package oversight

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzParseDecision: a policy's answer is outside input as far as the
// engine is concerned; any shape must be refused or accepted without a
// panic, and an accepted one must be self-consistent.
func FuzzParseDecision(f *testing.F) {
	for _, seed := range []string{
		`{"allow": true, "deny": [], "require_approval": false, "approvers": {"groups": [], "min": 0}, "risk": "low", "reasons": []}`,
		`{"allow": false, "deny": [{"code": "x", "message": "y"}], "require_approval": false, "approvers": {"groups": [], "min": 0}, "risk": "high", "reasons": ["r"]}`,
		`{"allow": true, "deny": [], "require_approval": true, "approvers": {"groups": ["g"], "min": 2.5}, "risk": "critical", "reasons": []}`,
		`"allow"`, `null`, `[]`, `{"allow": 1}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var v any
		if dec.Decode(&v) != nil {
			return
		}
		d, err := ParseDecision(v)
		if err != nil {
			return
		}
		if d.Allow && len(d.Deny) > 0 || !d.Allow && len(d.Deny) == 0 || d.RequireApproval && d.Approvers.Min < 1 || !validRisk(d.Risk) {
			t.Fatalf("accepted an inconsistent decision %+v from %s", d, raw)
		}
	})
}
