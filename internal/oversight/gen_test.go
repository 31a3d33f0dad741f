package oversight

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/modelgate/modelgate/internal/auth"
	"github.com/modelgate/modelgate/internal/pipeline"
)

// genInput makes a random policy input that exercises every path of the
// default policy: missing and blank identity fields, malformed digests,
// missing and invalid reports, failing stages, critical and high findings
// (drift or not) in every stage, guarded metrics that improved, held, or
// regressed beyond or within their interval, missing deltas, unknown
// metrics, drift shares on both sides of the threshold, a first model,
// and traffic shares in and out of range.
func genInput(r *rand.Rand) Input {
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	// rarely returns the odd one out, usually the first choice.
	rarely := func(n int, usual string, odd ...string) string {
		if r.IntN(n) == 0 {
			return pick(odd...)
		}
		return usual
	}
	in := Input{
		Run:         RunInfo{ID: fmt.Sprintf("run-%d", r.IntN(1000)), Trigger: pick("api", "ci", "schedule")},
		Model:       rarely(20, pick("fraud", "reco"), "", "  "),
		Environment: rarely(20, pick("production", "prod", "staging", "staging"), "", " "),
		Task:        pick("binary", "regression"),
		Candidate:   pipeline.Candidate{Version: "v2", Digest: rarely(15, validTestDigest, "", "md5:abc", strings.ToUpper(validTestDigest), validTestDigest+"0")},
		Deploy:      DeployInfo{Strategy: pick("canary", "shadow", "blue_green"), MaxTrafficShare: []float64{0.05, 0.25, 0.5, 0.51, 1, 0, 7, -0.5}[r.IntN(8)], Shadow: r.IntN(2) == 0},
		Requester:   auth.Principal{Subject: rarely(20, "ci-bot", "", " "), Roles: []string{"ci"}},
	}
	if r.IntN(3) > 0 {
		in.Run.CommitAuthor = pick("dana", "lee")
	}
	if r.IntN(4) > 0 {
		in.Production = &pipeline.Production{Version: "v1", Digest: validTestDigest}
	}
	if r.IntN(20) == 0 {
		return in // no reports at all
	}
	in.Reports = map[string]pipeline.Report{}
	for _, stage := range []string{"validate", "test", "scan", "evaluate", "extra"} {
		if r.IntN(25) == 0 || stage == "extra" && r.IntN(2) == 0 {
			continue
		}
		rep := pipeline.Report{
			Agent:   stage + "-agent",
			Verdict: pipeline.Verdict(rarely(12, pick("pass", "pass", "warn"), "fail", "fail", "", "PASS")),
			Summary: pick("ok", "", "  ", "it went wrong"),
		}
		if r.IntN(30) > 0 {
			rep.Metrics = map[string]float64{}
		}
		if stage == "validate" && rep.Metrics != nil && r.IntN(4) > 0 {
			rep.Metrics["drift.share"] = []float64{0, 0.2, 0.5, 0.51, 0.9}[r.IntN(5)]
		}
		if stage == "test" && rep.Metrics != nil && r.IntN(8) == 0 {
			rep.Metrics["drift.share"] = 0.7
		}
		if stage == "evaluate" && rep.Metrics != nil {
			genMetrics(r, rep.Metrics)
		}
		if r.IntN(30) > 0 {
			rep.Findings = []pipeline.Finding{}
			for i := range r.IntN(6) {
				rep.Findings = append(rep.Findings, pipeline.Finding{
					ID:       fmt.Sprintf("f%d", i),
					Severity: pipeline.Severity(rarely(6, pick("info", "low", "medium"), "high", "high", "critical", "CRITICAL")),
					Code:     rarely(3, "drift.column", "drift.dataset", "scan.pickle.global", "validate.missing_column", "test.invariance", ""),
					Message:  pick("something happened", "", "token=abc123 leaked"),
					Subject:  pick("amount", "", " ", "model.pkl"),
				})
			}
		}
		in.Reports[stage] = rep
	}
	return in
}

const validTestDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func genMetrics(r *rand.Rand, m map[string]float64) {
	names := []string{"roc_auc", "pr_auc", "f1", "accuracy", "log_loss", "brier", "rmse", "custom_kpi", "auc_at_1pct"}
	for _, name := range names {
		if r.IntN(3) == 0 {
			continue
		}
		prod := []float64{0.9, 0.5, 0, 0.2, 12}[r.IntN(5)]
		m["candidate."+name] = prod + 0.01
		if r.IntN(6) > 0 {
			m["production."+name] = prod
		}
		if r.IntN(40) == 0 {
			continue // no delta
		}
		d := []float64{0.02, 0.001, 0, -0.001}[r.IntN(4)]
		if r.IntN(12) == 0 {
			d = []float64{-0.004, -0.02, -0.3, 0.3, 0.02}[r.IntN(5)]
		}
		m["delta."+name] = d
		switch r.IntN(4) {
		case 0: // point estimate only
		case 1:
			m["delta."+name+".ci_low"] = d - 0.01
			m["delta."+name+".ci_high"] = d + 0.01
		case 2:
			m["delta."+name+".ci_low"] = d - 0.05
		case 3:
			m["delta."+name+".ci_high"] = d + math.Abs(d)/2
		}
	}
	m["rows"] = 5000
}
