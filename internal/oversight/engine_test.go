package oversight_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/audit/audittest"
	"github.com/modelgate/modelgate/internal/auth"
	"github.com/modelgate/modelgate/internal/oversight"
	"github.com/modelgate/modelgate/internal/pipeline"
)

// memRecorder keeps audit events so tests can assert them; it stands in
// for internal/audit, not for the database.
const digest = "sha256:1111111111111111111111111111111111111111111111111111111111111111"

// realisticInput is what the coordinator hands the engine for a typical
// binary classifier: four reports, 30 metrics, 50 findings.
func realisticInput() oversight.Input {
	metrics := map[string]float64{}
	for _, m := range []string{"roc_auc", "pr_auc", "f1", "recall", "precision", "accuracy"} {
		metrics["candidate."+m] = 0.93
		metrics["production."+m] = 0.92
		metrics["delta."+m] = 0.01
		metrics["delta."+m+".ci_low"] = -0.002
	}
	// 24 so far; six more make 30.
	metrics["candidate.log_loss"] = 0.21
	metrics["production.log_loss"] = 0.22
	metrics["delta.log_loss"] = -0.01
	metrics["candidate.brier"] = 0.06
	metrics["production.brier"] = 0.065
	metrics["delta.brier"] = -0.005
	var findings []pipeline.Finding
	for i := range 50 {
		findings = append(findings, pipeline.Finding{
			ID: fmt.Sprintf("f%d", i), Severity: []pipeline.Severity{pipeline.Info, pipeline.Low, pipeline.Medium}[i%3],
			Code: "drift.column", Message: fmt.Sprintf("column c%d moved a little", i), Subject: fmt.Sprintf("c%d", i),
		})
	}
	return oversight.Input{
		Run:         oversight.RunInfo{ID: "run-1", Trigger: "api", CommitAuthor: "dana"},
		Model:       "fraud-detector",
		Environment: "production",
		Task:        "binary",
		Candidate:   pipeline.Candidate{Version: "v2", Digest: digest},
		Production:  &pipeline.Production{Version: "v1", Digest: "sha256:" + strings.Repeat("2", 64)},
		Reports: map[string]pipeline.Report{
			"validate": {Agent: "testing", Verdict: pipeline.Warn, Metrics: map[string]float64{"drift.share": 0.2, "rows": 5000}, Findings: findings[:40], Summary: "minor drift"},
			"test":     {Agent: "testing", Verdict: pipeline.Pass, Metrics: map[string]float64{}, Findings: findings[40:45], Summary: "behaviour ok"},
			"scan":     {Agent: "security", Verdict: pipeline.Pass, Metrics: map[string]float64{"files": 1}, Findings: findings[45:], Summary: "safe"},
			"evaluate": {Agent: "evaluation", Verdict: pipeline.Pass, Metrics: metrics, Findings: []pipeline.Finding{}, Summary: "better"},
		},
		Deploy:    oversight.DeployInfo{Strategy: "canary", MaxTrafficShare: 1, Shadow: true},
		Requester: auth.Principal{Subject: "ci-bot", Roles: []string{"ci"}},
	}
}

func newEngine(t *testing.T, dir string, rec audit.Recorder) *oversight.Engine {
	t.Helper()
	e, err := oversight.NewEngine(context.Background(), oversight.EngineOptions{Dir: dir, Recorder: rec})
	require.NoError(t, err)
	return e
}

func TestEngineDefaultBundle(t *testing.T) {
	t.Parallel()
	rec := &audittest.Recorder{}
	e := newEngine(t, "", rec)
	require.True(t, strings.HasPrefix(e.Revision(), "sha256:"))
	require.Greater(t, e.Tests().Passed, 5)

	tests := []struct {
		name     string
		mutate   func(*oversight.Input)
		allow    bool
		risk     string
		approval bool
		min      int
		code     string
	}{
		{name: "production full traffic needs one reviewer", mutate: func(*oversight.Input) {}, allow: true, risk: "high", approval: true, min: 1},
		{name: "staging half traffic is low risk", mutate: func(in *oversight.Input) {
			in.Environment = "staging"
			in.Deploy.MaxTrafficShare = 0.5
		}, allow: true, risk: "low"},
		{name: "drift in production is critical, two reviewers", mutate: func(in *oversight.Input) {
			r := in.Reports["validate"]
			r.Metrics = map[string]float64{"drift.share": 0.8}
			in.Reports["validate"] = r
		}, allow: true, risk: "critical", approval: true, min: 2},
		{name: "critical pickle finding denies", mutate: func(in *oversight.Input) {
			r := in.Reports["scan"]
			r.Findings = []pipeline.Finding{{Severity: pipeline.Critical, Code: "scan.pickle.global", Message: "REDUCE calls posix.system", Subject: "model.pkl"}}
			in.Reports["scan"] = r
		}, allow: false, risk: "high", code: "security.critical"},
		{name: "regression denies", mutate: func(in *oversight.Input) {
			r := in.Reports["evaluate"]
			r.Metrics["delta.recall"] = -0.05
			r.Metrics["delta.recall.ci_high"] = -0.02
			in.Reports["evaluate"] = r
		}, allow: false, risk: "high", code: "evaluation.regression"},
		{name: "no reports denies", mutate: func(in *oversight.Input) { in.Reports = nil }, allow: false, risk: "critical", code: "input.missing_report"},
		{name: "no digest denies", mutate: func(in *oversight.Input) { in.Candidate.Digest = "" }, allow: false, risk: "high", code: "input.missing_digest"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := realisticInput()
			tc.mutate(&in)
			d, err := e.Decide(context.Background(), in)
			require.NoError(t, err)
			require.Equal(t, tc.allow, d.Allow, "deny: %v", d.Deny)
			require.Equal(t, tc.risk, d.Risk, "reasons: %v", d.Reasons)
			require.Equal(t, tc.approval, d.RequireApproval)
			require.Equal(t, tc.min, d.Approvers.Min)
			require.NotEmpty(t, d.ID)
			require.Equal(t, e.Revision(), d.PolicyRevision)
			require.True(t, strings.HasPrefix(d.InputDigest, "sha256:"))
			require.False(t, d.EvaluatedAt.IsZero())
			if tc.code != "" {
				var codes []string
				for _, r := range d.Deny {
					codes = append(codes, r.Code)
				}
				require.Contains(t, codes, tc.code)
			}
		})
	}
	t.Run("audited", func(t *testing.T) {
		t.Parallel()
		d, err := e.Decide(context.Background(), realisticInput())
		require.NoError(t, err)
		var found bool
		for _, ev := range rec.OfType(oversight.EventDecision) {
			if ev.Data["decision_id"] == d.ID {
				found = true
				require.Equal(t, d.InputDigest, ev.Data["input_digest"])
				require.Equal(t, d.PolicyRevision, ev.Data["policy_revision"])
				require.Equal(t, "run-1", ev.RunID)
				result := ev.Data["result"].(map[string]any)
				require.Equal(t, d.Risk, result["risk"])
			}
		}
		require.True(t, found)
	})
}

func TestEngineInputDigestIsStable(t *testing.T) {
	t.Parallel()
	e := newEngine(t, "", nil)
	a, err := e.Decide(context.Background(), realisticInput())
	require.NoError(t, err)
	b, err := e.Decide(context.Background(), realisticInput())
	require.NoError(t, err)
	require.Equal(t, a.InputDigest, b.InputDigest)
	require.NotEqual(t, a.ID, b.ID)
	in := realisticInput()
	in.Candidate.Version = "v3"
	c, err := e.Decide(context.Background(), in)
	require.NoError(t, err)
	require.NotEqual(t, a.InputDigest, c.InputDigest)
}

func TestEngineBadBundles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		dir  string
		want string
	}{
		{"syntax-error", "promotion.rego:3"},
		{"failing-test", "test_denies_without_reports"},
		{"missing-rule", "no rule defines data.modelgate.promotion.decision"},
		{"does-not-exist", "no such file"},
	}
	for _, tc := range tests {
		t.Run(tc.dir, func(t *testing.T) {
			t.Parallel()
			_, err := oversight.NewEngine(context.Background(), oversight.EngineOptions{Dir: filepath.Join("..", "..", "testdata", "policy", tc.dir)})
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestEngineDeniesWhenPolicyGivesNoAnswer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		dir  string
		code string
	}{
		{"wrong-shape", oversight.CodeWrongShape},
		{"undefined", oversight.CodeUndefined},
		{"slow", oversight.CodeTimeout},
	}
	for _, tc := range tests {
		t.Run(tc.dir, func(t *testing.T) {
			t.Parallel()
			rec := &audittest.Recorder{}
			e, err := oversight.NewEngine(context.Background(), oversight.EngineOptions{
				Dir: filepath.Join("..", "..", "testdata", "policy", tc.dir), Recorder: rec, Timeout: 50 * time.Millisecond,
			})
			require.NoError(t, err)
			start := time.Now()
			d, err := e.Decide(context.Background(), realisticInput())
			require.NoError(t, err)
			require.Less(t, time.Since(start), 5*time.Second, "the timeout must stop evaluation")
			require.False(t, d.Allow)
			require.False(t, d.RequireApproval)
			require.Len(t, d.Deny, 1)
			require.Equal(t, tc.code, d.Deny[0].Code)
			require.Equal(t, e.Revision(), d.PolicyRevision)
			evs := rec.OfType(oversight.EventDecision)
			require.Len(t, evs, 1)
			require.Equal(t, d.ID, evs[0].Data["decision_id"])
		})
	}
}

func TestEngineCallerCancel(t *testing.T) {
	t.Parallel()
	e, err := oversight.NewEngine(context.Background(), oversight.EngineOptions{Dir: filepath.Join("..", "..", "testdata", "policy", "slow"), Timeout: time.Minute})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	d, err := e.Decide(ctx, realisticInput())
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.False(t, d.Allow)
}

func TestEngineAuthorize(t *testing.T) {
	t.Parallel()
	e := newEngine(t, "", nil)
	tests := []struct {
		p      auth.Principal
		action string
		want   bool
	}{
		{auth.Principal{Subject: "root", Roles: []string{"admin"}}, "reload", true},
		{auth.Principal{Subject: "rita", Roles: []string{"reviewer"}, Groups: []string{"ml-reviewers"}}, "approve", true},
		{auth.Principal{Subject: "rita", Roles: []string{"reviewer"}}, "reload", false},
		{auth.Principal{Subject: "ci", Roles: []string{"ci"}}, "trigger", true},
		{auth.Principal{Subject: "ci", Roles: []string{"ci"}}, "approve", false},
		{auth.Principal{Roles: []string{"admin"}}, "read", false},
		{auth.Principal{Subject: "x"}, "read", false},
	}
	for _, tc := range tests {
		t.Run(tc.p.Subject+"/"+tc.action, func(t *testing.T) {
			t.Parallel()
			got, err := e.Authorize(context.Background(), oversight.AuthzInput{Principal: tc.p, Action: tc.action, Model: "m", Environment: "production"})
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

// copyDir copies a bundle folder so a test can change it.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	require.NoError(t, err)
	for _, en := range entries {
		b, err := os.ReadFile(filepath.Join(src, en.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dst, en.Name()), b, 0o644))
	}
	return dst
}

func TestEngineReload(t *testing.T) {
	t.Parallel()
	dir := copyDir(t, filepath.Join("..", "..", "policies"))
	rec := &audittest.Recorder{}
	e := newEngine(t, dir, rec)
	rev0 := e.Revision()

	// A broken policy never replaces a working one.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "broken.rego"), []byte("package modelgate.promotion\n\nallow if {\n"), 0o644))
	err := e.Reload(context.Background())
	require.ErrorContains(t, err, "broken.rego")
	require.Equal(t, rev0, e.Revision())
	fails := rec.OfType(oversight.EventPolicyReloadFail)
	require.Len(t, fails, 1)
	require.Equal(t, rev0, fails[0].Data["revision_in_use"])

	// A policy that compiles but fails the bundle's tests is refused too.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "broken.rego"), []byte("package modelgate.promotion\n\ndefault_risk_bump := 1\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "extra_test.rego"), []byte("package modelgate.extra_test\n\ntest_fails if { 1 == 2 }\n"), 0o644))
	require.ErrorContains(t, e.Reload(context.Background()), "test_fails")
	require.Equal(t, rev0, e.Revision())

	// A good change swaps in and is audited.
	require.NoError(t, os.Remove(filepath.Join(dir, "extra_test.rego")))
	require.NoError(t, e.Reload(context.Background()))
	require.NotEqual(t, rev0, e.Revision())
	ok := rec.OfType(oversight.EventPolicyReload)
	require.Len(t, ok, 1)
	require.Equal(t, rev0, ok[0].Data["previous"])
	require.Equal(t, e.Revision(), ok[0].Data["revision"])
	d, err := e.Decide(context.Background(), realisticInput())
	require.NoError(t, err)
	require.Equal(t, e.Revision(), d.PolicyRevision)
}

func TestEngineWatch(t *testing.T) {
	t.Parallel()
	dir := copyDir(t, filepath.Join("..", "..", "policies"))
	rec := &audittest.Recorder{}
	e := newEngine(t, dir, rec)
	rev0 := e.Revision()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go e.Watch(ctx, 20*time.Millisecond)
	// Written atomically, as deployment tools do, so the test does not
	// depend on how fast the watcher's two looks are under load.
	tmp := filepath.Join(dir, ".note.rego.tmp")
	require.NoError(t, os.WriteFile(tmp, []byte("package modelgate.note\n\nowner := \"ml-platform\"\n"), 0o644))
	require.NoError(t, os.Rename(tmp, filepath.Join(dir, "note.rego")))
	want, err := oversight.BundleRevision(os.DirFS(dir))
	require.NoError(t, err)
	// The engine swaps the bundle, then audits the swap: wait for both.
	require.Eventually(t, func() bool {
		return e.Revision() == want && len(rec.OfType(oversight.EventPolicyReload)) > 0
	}, 30*time.Second, 20*time.Millisecond)
	reloads := rec.OfType(oversight.EventPolicyReload)
	require.NotEmpty(t, reloads)
	require.Equal(t, want, reloads[len(reloads)-1].Data["revision"])
	require.Equal(t, rev0, reloads[0].Data["previous"])
}

func TestMask(t *testing.T) {
	t.Parallel()
	in := map[string]any{
		"api_token": "abc",
		"nested":    map[string]any{"Password": "hunter2", "ok": "fine"},
		"reasons":   []any{"key AKIAABCDEFGHIJKLMNOP leaked", "Authorization: Bearer abcdefghijklmnop", "password=s3cret here"},
	}
	got := oversight.Mask(in).(map[string]any)
	require.Equal(t, "***", got["api_token"])
	require.Equal(t, "***", got["nested"].(map[string]any)["Password"])
	require.Equal(t, "fine", got["nested"].(map[string]any)["ok"])
	for _, r := range got["reasons"].([]any) {
		s := r.(string)
		require.NotContains(t, s, "AKIAABCDEFGHIJKLMNOP")
		require.NotContains(t, s, "abcdefghijklmnop")
		require.NotContains(t, s, "s3cret")
	}
}
