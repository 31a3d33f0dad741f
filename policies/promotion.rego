# METADATA
# title: Promotion decision
# description: |
#   Turns the whole evidence of a run (every agent's report, the candidate,
#   the production version, the intended rollout and the requester) into one
#   decision object. The oversight engine evaluates data.modelgate.promotion.decision;
#   anything missing or malformed denies, because an undefined answer must
#   never let a candidate through.
package modelgate.promotion

# Settings a team may override without editing this file, by shipping a
# data.json in its bundle with {"modelgate": {"settings": {...}}}. Objects
# merge key by key (object.union), so a team can add guarded metrics or move
# one threshold and keep every other default.
defaults := {
	# Stages whose report must be present; a skipped stage must be allowed
	# explicitly by overriding this list.
	"required_reports": ["validate", "scan", "evaluate"],
	# Metrics a candidate may not regress on against production, with the
	# direction in which they improve.
	"guarded_metrics": {
		"roc_auc": "higher",
		"pr_auc": "higher",
		"f1": "higher",
		"recall": "higher",
		"precision": "higher",
		"accuracy": "higher",
		"macro_f1": "higher",
		"r2": "higher",
		"log_loss": "lower",
		"brier": "lower",
		"rmse": "lower",
		"mae": "lower",
		"mape": "lower",
	},
	# A regression is a change worse than this fraction of the production
	# value, judged on the confidence bound nearest to "no change" when the
	# evaluation agent reports an interval (delta.<m>.ci_low/ci_high).
	"regression_tolerance": 0.005,
	# Share of drifted columns above which the data is said to have drifted.
	"drift_share_max": 0.5,
	# Rollouts that give the candidate more than this share of traffic are
	# riskier than ones that stop early.
	"large_traffic_share": 0.5,
	"production_environments": ["production", "prod"],
	"reviewer_groups": ["ml-reviewers"],
	"critical_reviewer_groups": ["ml-reviewers"],
	"critical_min_approvers": 2,
}

default user_settings := {}

user_settings := data.modelgate.settings if is_object(data.modelgate.settings)

settings := object.union(defaults, user_settings)

# ---------------------------------------------------------------------------
# The decision: the one document the engine reads.

default allow := false

allow if count(deny) == 0

decision := {
	"allow": allow,
	"deny": deny_list,
	"require_approval": require_approval,
	"approvers": approvers,
	"risk": risk,
	"reasons": reasons,
}

deny_list := [r | some r in deny]

# ---------------------------------------------------------------------------
# Denials. Each is {"code", "message"}; codes are stable for scripts.

# The evidence must say what is promoted, where and by whom.
deny contains {"code": "input.missing_field", "message": sprintf("input.%s is missing or empty", [field])} if {
	some field in ["model", "environment"]
	not non_empty_string(get_path([field]))
}

deny contains {"code": "input.missing_field", "message": "input.requester.subject is missing or empty"} if {
	not non_empty_string(get_path(["requester", "subject"]))
}

# Approvals are bound to the exact artifact, so without a digest there is
# nothing a reviewer could approve.
deny contains {"code": "input.missing_digest", "message": msg} if {
	not valid_digest(get_path(["candidate", "digest"]))
	msg := "input.candidate.digest must be \"sha256:\" followed by 64 hex digits"
}

deny contains {"code": "input.missing_report", "message": sprintf("the %s stage has no report", [stage])} if {
	some stage in settings.required_reports
	not is_object(get_path(["reports", stage]))
}

deny contains {"code": "input.bad_report", "message": sprintf("the %s report has no valid verdict (pass, warn or fail)", [stage])} if {
	some stage, report in input.reports
	not verdict_of(report) in {"pass", "warn", "fail"}
}

# A failing scan, test or evaluation stops the promotion. A failing
# validation stops it only for reasons other than drift: drift is a fact
# about the world, so it raises the risk instead and a person decides.
deny contains {"code": "report.failed", "message": sprintf("the %s stage failed: %s", [stage, summary(report)])} if {
	some stage, report in input.reports
	stage != "validate"
	report.verdict == "fail"
}

deny contains {"code": "report.failed", "message": sprintf("data validation failed: %s", [summary(report)])} if {
	report := input.reports.validate
	report.verdict == "fail"
	some [stage, _], f in notable
	stage == "validate"
	not is_drift(f)
}

deny contains {"code": "security.critical", "message": sprintf("critical security finding %s on %s: %s", [f.code, subject(f), f.message])} if {
	some [stage, _], f in notable
	stage == "scan"
	f.severity == "critical"
}

deny contains {"code": "finding.critical", "message": sprintf("critical finding %s in the %s report on %s: %s", [f.code, stage, subject(f), f.message])} if {
	some [stage, _], f in notable
	stage != "scan"
	f.severity == "critical"
	not is_drift(f)
}

deny contains {"code": "evaluation.regression", "message": msg} if {
	some name, direction in guarded_compared
	worse_by(name, direction) > tolerance(name)
	msg := sprintf("%s regressed against production: delta %v (%s %v), tolerance %v", [
		name, eval_metrics[concat("", ["delta.", name])],
		bound_name(direction), bound(name, direction), tolerance(name),
	])
}

# Both models were measured but the comparison is missing: we cannot tell
# whether the candidate regressed, so we do not promote it.
deny contains {"code": "evaluation.missing_delta", "message": msg} if {
	some name, _ in guarded_measured
	not is_number(object.get(eval_metrics, concat("", ["delta.", name]), null))
	msg := sprintf("candidate.%s and production.%s are reported but delta.%s is missing", [name, name, name])
}

# ---------------------------------------------------------------------------
# Risk: each factor adds points; 0 low, 1 medium, 2 high, 3 or more critical.

risk_factors contains {"points": 1, "reason": sprintf("target environment %q is a production environment", [input.environment])} if {
	input.environment in settings.production_environments
}

risk_factors contains {"points": 1, "reason": sprintf("the rollout gives the candidate up to %v%% of traffic", [round(traffic_share * 100)])} if {
	traffic_share > settings.large_traffic_share
}

risk_factors contains {"points": 2, "reason": sprintf("data drift: %v%% of columns drifted (threshold %v%%)", [pct(drift_share), pct(settings.drift_share_max)])} if {
	drift_share > settings.drift_share_max
}

# Unmeasured drift is treated as a risk, not as the absence of one.
risk_factors contains {"points": 1, "reason": "drift was not measured (no drift.share metric in any report)"} if {
	not drift_measured
}

risk_factors contains {"points": 1, "reason": sprintf("%d high-severity finding(s)", [n])} if {
	n := count(high_findings)
	n > 0
}

risk_factors contains {"points": 1, "reason": "no version of this model is in production yet, so nothing was compared"} if {
	input.production == null
	input.environment in settings.production_environments
}

risk_points := sum([f.points | some f in risk_factors])

risk := "low" if risk_points == 0

risk := "medium" if risk_points == 1

risk := "high" if risk_points == 2

risk := "critical" if risk_points >= 3

# Only an allowed promotion waits for people; a denial is final.
default require_approval := false

require_approval if {
	allow
	risk in {"high", "critical"}
}

approvers := {"groups": settings.critical_reviewer_groups, "min": settings.critical_min_approvers} if {
	require_approval
	risk == "critical"
} else := {"groups": settings.reviewer_groups, "min": 1} if {
	require_approval
} else := {"groups": [], "min": 0}

reasons := array.concat(
	[sprintf("risk %s (%d point(s))", [risk, risk_points])],
	array.concat(
		sort([f.reason | some f in risk_factors]),
		sort([sprintf("denied: %s", [r.message]) | some r in deny]),
	),
)

# ---------------------------------------------------------------------------
# Helpers.

# In Rego, `not f(x)` is undefined (not true) when x itself is undefined, so
# every negated check reads its argument through get_path, which turns a
# missing field or a non-object input into null.
get_path(p) := v if {
	v := object.get(input, p, null)
} else := null

verdict_of(report) := v if {
	v := object.get(report, "verdict", null)
} else := null

non_empty_string(s) if {
	is_string(s)
	trim_space(s) != ""
}

valid_digest(d) if {
	is_string(d)
	regex.match(`^sha256:[0-9a-f]{64}$`, d)
}

findings(report) := fs if {
	fs := report.findings
	is_array(fs)
} else := []

summary(report) := report.summary if {
	non_empty_string(report.summary)
} else := "no summary"

subject(f) := f.subject if {
	non_empty_string(f.subject)
} else := "-"

is_drift(f) if startswith(f.code, "drift")

# The findings that can change a decision, read once: [stage, index] -> finding.
notable[[stage, i]] := f if {
	some stage, report in input.reports
	some i, f in findings(report)
	f.severity in {"high", "critical"}
}

high_findings contains key if {
	some key, f in notable
	f.severity == "high"
	not is_drift(f)
}

# A missing or malformed traffic share counts as the whole traffic.
traffic_share := s if {
	s := input.deploy.max_traffic_share
	is_number(s)
	s >= 0
	s <= 1
} else := 1

drift_shares contains s if {
	some _, report in input.reports
	s := report.metrics["drift.share"]
	is_number(s)
}

drift_measured if count(drift_shares) > 0

drift_share := max(drift_shares) if drift_measured

pct(x) := round(x * 1000) / 10

default eval_metrics := {}

eval_metrics := m if {
	m := input.reports.evaluate.metrics
	is_object(m)
}

# Guarded metrics measured on both models (only when production exists).
guarded_measured[name] := direction if {
	input.production != null
	some name, direction in settings.guarded_metrics
	is_number(eval_metrics[concat("", ["candidate.", name])])
	is_number(eval_metrics[concat("", ["production.", name])])
}

guarded_compared[name] := direction if {
	some name, direction in guarded_measured
	is_number(eval_metrics[concat("", ["delta.", name])])
}

# The bound of the delta's interval closest to "no change" decides, so noise
# alone never denies; without an interval, the point estimate decides.
bound(name, "higher") := v if {
	v := eval_metrics[concat("", ["delta.", name, ".ci_high"])]
	is_number(v)
} else := eval_metrics[concat("", ["delta.", name])]

bound(name, "lower") := v if {
	v := eval_metrics[concat("", ["delta.", name, ".ci_low"])]
	is_number(v)
} else := eval_metrics[concat("", ["delta.", name])]

bound_name("higher") := "upper bound"

bound_name("lower") := "lower bound"

worse_by(name, "higher") := 0 - bound(name, "higher")

worse_by(name, "lower") := bound(name, "lower")

tolerance(name) := settings.regression_tolerance * abs(eval_metrics[concat("", ["production.", name])])
