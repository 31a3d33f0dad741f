package oversight

import (
	"regexp"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/modelgate/modelgate/internal/pipeline"
)

// FactsVersion is the version of input.facts this engine writes; the
// default policy trusts facts only of this version.
const FactsVersion = 1

// Facts are the evidence indexed for the policy: the answers to the
// questions every promotion decision asks (which identity fields are
// invalid, which reports failed, which findings are critical or high,
// which metrics were compared and which moved for sure), computed in Go
// from the typed input in one pass and handed to the policy as
// input.facts.
//
// They are facts, not judgements: nothing in them depends on a setting of
// the policy (guarded metrics, tolerances, thresholds), so the policy still
// decides everything. promotion.rego defines each fact in Rego too
// (computed_facts) and uses its own definition whenever input.facts is
// absent or not of the expected shape; TestFactsMatchRego checks that both
// definitions agree. The reason for computing them here is speed: the
// policy then reads a handful of small sets instead of walking 50 findings
// and 30 metrics with OPA's interpreter, which was most of the cost of a
// decision (bench/oversight/RESULTS.md).
//
// The members are sets, which JSON cannot express: facts can only come from
// the engine (or a Rego test that builds sets on purpose), and a JSON
// document that claims to carry facts is recomputed by the policy.
//
//	version            1
//	invalid_fields     {"model", "environment", "requester.subject", "candidate.digest"} ∩ the invalid ones
//	reports_present    stages whose report is an object
//	reports_fail       stages whose report's verdict is "fail"
//	reports_invalid    stages whose report is not an object or has no verdict pass/warn/fail
//	critical_findings  {stage, index, code, subject, message} of each finding with severity "critical"
//	high_findings      the same for severity "high"
//	drift_share        the largest number reported as metrics["drift.share"] by any report, or null
//	metrics_measured   names X with numbers candidate.X and production.X in the evaluate report
//	metrics_compared   those of them with a number delta.X
//	metrics_fell       those compared whose upper bound (delta.X.ci_high, else delta.X) is below 0
//	metrics_rose       those compared whose lower bound (delta.X.ci_low, else delta.X) is above 0
//
// In a finding's fact, subject is "-" when the finding has none, as the
// policy's messages print it.
func factsValue(in Input) ast.Value {
	var invalid []*ast.Term
	if strings.TrimSpace(in.Model) == "" {
		invalid = append(invalid, factModel)
	}
	if strings.TrimSpace(in.Environment) == "" {
		invalid = append(invalid, factEnvironment)
	}
	if strings.TrimSpace(in.Requester.Subject) == "" {
		invalid = append(invalid, factRequesterSubject)
	}
	if !validDigest(in.Candidate.Digest) {
		invalid = append(invalid, factCandidateDigest)
	}

	present := make([]*ast.Term, 0, len(in.Reports))
	var failed, invalidReports, critical, high []*ast.Term
	drift, driftMeasured := 0.0, false
	for stage, r := range in.Reports {
		st := ast.StringTerm(stage)
		present = append(present, st)
		switch r.Verdict {
		case pipeline.Fail:
			failed = append(failed, st)
		case pipeline.Pass, pipeline.Warn:
		default:
			invalidReports = append(invalidReports, st)
		}
		for i, f := range r.Findings {
			switch f.Severity {
			case pipeline.Critical:
				critical = append(critical, findingFact(st, i, f))
			case pipeline.High:
				high = append(high, findingFact(st, i, f))
			}
		}
		if s, ok := r.Metrics["drift.share"]; ok && (!driftMeasured || s > drift) {
			drift, driftMeasured = s, true
		}
	}

	var measured, compared, fell, rose []*ast.Term
	if ev, ok := in.Reports["evaluate"]; ok {
		m := ev.Metrics
		for key := range m {
			name, ok := strings.CutPrefix(key, "candidate.")
			if !ok {
				continue
			}
			if _, ok := m["production."+name]; !ok {
				continue
			}
			nt := ast.StringTerm(name)
			measured = append(measured, nt)
			delta, ok := m["delta."+name]
			if !ok {
				continue
			}
			compared = append(compared, nt)
			upper, lower := delta, delta
			if v, ok := m["delta."+name+".ci_high"]; ok {
				upper = v
			}
			if v, ok := m["delta."+name+".ci_low"]; ok {
				lower = v
			}
			if upper < 0 {
				fell = append(fell, nt)
			}
			if lower > 0 {
				rose = append(rose, nt)
			}
		}
	}

	driftTerm := ast.NullTerm()
	if driftMeasured {
		driftTerm = ast.FloatNumberTerm(drift)
	}
	return ast.NewObject(
		[2]*ast.Term{factKeyVersion, ast.InternedTerm(FactsVersion)},
		[2]*ast.Term{factKeyInvalidFields, set(invalid)},
		[2]*ast.Term{factKeyReportsPresent, set(present)},
		[2]*ast.Term{factKeyReportsFail, set(failed)},
		[2]*ast.Term{factKeyReportsInvalid, set(invalidReports)},
		[2]*ast.Term{factKeyCriticalFindings, set(critical)},
		[2]*ast.Term{factKeyHighFindings, set(high)},
		[2]*ast.Term{factKeyDriftShare, driftTerm},
		[2]*ast.Term{factKeyMetricsMeasured, set(measured)},
		[2]*ast.Term{factKeyMetricsCompared, set(compared)},
		[2]*ast.Term{factKeyMetricsFell, set(fell)},
		[2]*ast.Term{factKeyMetricsRose, set(rose)},
	)
}

// set is a set term of ts; the empty set is one shared term, since
// OPA never modifies a term of the input and most facts are empty.
func set(ts []*ast.Term) *ast.Term {
	if len(ts) == 0 {
		return emptySet
	}
	return ast.SetTerm(ts...)
}

var emptySet = ast.SetTerm()

func findingFact(stage *ast.Term, i int, f pipeline.Finding) *ast.Term {
	subject := f.Subject
	if strings.TrimSpace(subject) == "" {
		subject = "-"
	}
	return ast.ObjectTerm(
		[2]*ast.Term{keyStage, stage},
		[2]*ast.Term{factKeyIndex, ast.InternedTerm(i)},
		[2]*ast.Term{keyCode, ast.StringTerm(f.Code)},
		[2]*ast.Term{keySubject, ast.StringTerm(subject)},
		[2]*ast.Term{keyMessage, ast.StringTerm(f.Message)},
	)
}

// digestRE is the policy's test of a candidate digest (valid_digest in
// promotion.rego).
var digestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

func validDigest(d string) bool {
	if len(d) != len("sha256:")+64 {
		return false
	}
	return digestRE.MatchString(d)
}

// Names in input.facts, allocated once.
var (
	factKeyVersion          = ast.StringTerm("version")
	factKeyInvalidFields    = ast.StringTerm("invalid_fields")
	factKeyReportsPresent   = ast.StringTerm("reports_present")
	factKeyReportsFail      = ast.StringTerm("reports_fail")
	factKeyReportsInvalid   = ast.StringTerm("reports_invalid")
	factKeyCriticalFindings = ast.StringTerm("critical_findings")
	factKeyHighFindings     = ast.StringTerm("high_findings")
	factKeyDriftShare       = ast.StringTerm("drift_share")
	factKeyMetricsMeasured  = ast.StringTerm("metrics_measured")
	factKeyMetricsCompared  = ast.StringTerm("metrics_compared")
	factKeyMetricsFell      = ast.StringTerm("metrics_fell")
	factKeyMetricsRose      = ast.StringTerm("metrics_rose")
	factKeyIndex            = ast.StringTerm("index")

	factModel            = ast.StringTerm("model")
	factEnvironment      = ast.StringTerm("environment")
	factRequesterSubject = ast.StringTerm("requester.subject")
	factCandidateDigest  = ast.StringTerm("candidate.digest")
)
