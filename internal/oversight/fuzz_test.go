package oversight

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"

	"github.com/modelgate/modelgate/internal/auth"
	"github.com/modelgate/modelgate/internal/pipeline"
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

// FuzzInputDigest: whatever strings and numbers the evidence carries, the
// digest is the SHA-256 of json.Marshal's bytes, or an error where Marshal
// fails.
func FuzzInputDigest(f *testing.F) {
	f.Add("fraud", "<b>&\u2028", "drift.column", "\xff\x00", 0.5, 1e-7)
	f.Add("", "", "", "", 0.0, 1e21)
	f.Fuzz(func(t *testing.T, a, b, c, d string, x, y float64) {
		in := Input{
			Run:         RunInfo{ID: a, Trigger: b, CommitAuthor: c, Labels: map[string]string{a: b, c: d}},
			Model:       a,
			Environment: b,
			Candidate:   pipeline.Candidate{Version: c, Digest: d},
			Production:  &pipeline.Production{Version: d, Endpoint: a},
			Reports: map[string]pipeline.Report{
				a: {Agent: b, Stage: c, Verdict: pipeline.Verdict(d), Summary: a, Metrics: map[string]float64{b: x, c: y},
					Findings: []pipeline.Finding{{ID: a, Severity: pipeline.Severity(b), Code: c, Message: d, Subject: a}}},
				b: {Metrics: map[string]float64{}, Findings: []pipeline.Finding{}},
			},
			Deploy:    DeployInfo{Strategy: d, MaxTrafficShare: x},
			Requester: auth.Principal{Subject: c, Roles: []string{a}, Groups: []string{b, d}},
		}
		raw, jerr := json.Marshal(in)
		got, err := InputDigest(in)
		if jerr != nil {
			if err == nil {
				t.Fatalf("json.Marshal failed (%v) but the digest did not", jerr)
			}
			return
		}
		if err != nil {
			t.Fatalf("digest failed where json.Marshal did not: %v", err)
		}
		sum := sha256.Sum256(raw)
		if want := "sha256:" + hex.EncodeToString(sum[:]); got != want {
			t.Fatalf("digest %s, want %s for %s", got, want, raw)
		}
	})
}
