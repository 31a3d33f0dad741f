# METADATA
# title: Promotion decision
# description: |
#   Turns the whole evidence of a run (every agent's report, the candidate,
#   the production version, the intended rollout and the requester) into one
#   decision object. The oversight engine evaluates data.modelgate.promotion.decision;
#   anything missing or malformed denies, because an undefined answer must
#   never let a candidate through.
package modelgate.reference

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
# How this file is written, and why (a decision must cost well under a
# millisecond; see bench/oversight/RESULTS.md):
#   - OPA caches a complete rule (`x := ...`) for the whole evaluation, but
#     re-runs a partial rule (`x[k] := v if ...`, `x contains k if ...`)
#     every time something iterates it with an unbound key. So every
#     collection of the input (findings, guarded metrics) is scanned once,
#     in a complete rule, and the rules below iterate that cached value.
#   - A reference to a rule, even a cached one, costs several times a
#     lookup in a local variable, so a loop binds the rules it reads to
#     locals first.
#   - A call of a function defined here costs about as much as ten
#     reference lookups, and a built-in whose arguments must be assembled
#     (concat, sprintf) several. Hot paths use references and `==`; helper
#     functions and sprintf are left to paths taken only when something is
#     wrong (a denial's message, a risk factor's reason) or unusual (a
#     team's own guarded metrics).
#   - OPA does arithmetic on decimals with math/big: a cheap comparison that
#     rules a case out comes before any arithmetic.
# None of this changes a decision: the rules compute what they computed
# when they were written plainly, one helper function per idea; the tests
# in promotion_test.rego pin that down, including the unusual settings.

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

# A report that is not an object, or has no verdict or another word, fails
# closed. The stages with a valid verdict are collected first and the
# denial asks which stage is not among them: negating a check on
# `report.verdict` directly would be undefined, not true, for a report that
# is not an object, and such a report would slip through.
deny contains {"code": "input.bad_report", "message": sprintf("the %s report has no valid verdict (pass, warn or fail)", [stage])} if {
	some stage, _ in input.reports
	not valid_verdict_stages[stage]
}

valid_verdict_stages := {stage | input.reports[stage].verdict in {"pass", "warn", "fail"}}

# A failing scan, test or evaluation stops the promotion. A failing
# validation stops it only for reasons other than drift: drift is a fact
# about the world, so it raises the risk instead and a person decides.
deny contains {"code": "report.failed", "message": sprintf("the %s stage failed: %s", [stage, summary(report)])} if {
	some stage, report in input.reports
	report.verdict == "fail"
	stage != "validate"
}

deny contains {"code": "report.failed", "message": sprintf("data validation failed: %s", [summary(report)])} if {
	report := input.reports.validate
	report.verdict == "fail"
	some [stage, _], f in notable
	stage == "validate"
	not is_drift(f)
}

deny contains {"code": "security.critical", "message": sprintf("critical security finding %s on %s: %s", [f.code, subject(f), f.message])} if {
	some [stage, _], f in critical_findings
	stage == "scan"
}

deny contains {"code": "finding.critical", "message": sprintf("critical finding %s in the %s report on %s: %s", [f.code, stage, subject(f), f.message])} if {
	some [stage, _], f in critical_findings
	stage != "scan"
	not is_drift(f)
}

deny contains {"code": "evaluation.regression", "message": msg} if {
	some name, [_, tolerance] in regressions
	direction := guarded_compared[name]
	msg := sprintf("%s regressed against production: delta %v (%s %v), tolerance %v", [
		name, eval_metrics[concat("", ["delta.", name])],
		bound_name[direction], bounds[name], tolerance,
	])
}

# Both models were measured but the comparison is missing: we cannot tell
# whether the candidate regressed, so we do not promote it.
deny contains {"code": "evaluation.missing_delta", "message": msg} if {
	# Usually every measured metric has its delta; the counts say so
	# without a pass over the metrics.
	count(guarded_compared) < count(guarded_measured)
	some name, _ in guarded_measured
	not name in object.keys(guarded_compared)
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
# Findings, read once.

# Each report's findings when they are a list; anything else counts as none.
finding_lists := {stage: fs |
	some stage, report in input.reports
	fs := report.findings
	is_array(fs)
}

# Critical and high findings, [stage, index] -> finding. Comparing the
# severity inside the reference with `==` lets OPA walk every finding
# without binding each one; only the few that match are read whole.
critical_findings := {[stage, i]: finding_lists[stage][i] |
	finding_lists[stage][i].severity == "critical"
}

high_severity_findings := {[stage, i]: finding_lists[stage][i] |
	finding_lists[stage][i].severity == "high"
}

# The findings that can change a decision: [stage, index] -> finding.
notable := object.union(critical_findings, high_severity_findings)

high_findings := {key | some key, f in high_severity_findings; not is_drift(f)}

# ---------------------------------------------------------------------------
# Guarded metrics, read once.

default eval_metrics := {}

eval_metrics := m if {
	m := input.reports.evaluate.metrics
	is_object(m)
}

# One row per guarded metric: [name, direction, and the names under which
# the evaluation agent reports it: candidate, production, delta, and the
# bound of the delta's interval nearest to "no change" (ci_high for
# higher-is-better, ci_low for lower-is-better)]. The rows of the default
# settings are spelled out, so that a decision does not build some sixty
# strings with concat(); a team that changes guarded_metrics gets its rows
# built.
default_guarded_rows := [
	["roc_auc", "higher", "candidate.roc_auc", "production.roc_auc", "delta.roc_auc", "delta.roc_auc.ci_high"],
	["pr_auc", "higher", "candidate.pr_auc", "production.pr_auc", "delta.pr_auc", "delta.pr_auc.ci_high"],
	["f1", "higher", "candidate.f1", "production.f1", "delta.f1", "delta.f1.ci_high"],
	["recall", "higher", "candidate.recall", "production.recall", "delta.recall", "delta.recall.ci_high"],
	["precision", "higher", "candidate.precision", "production.precision", "delta.precision", "delta.precision.ci_high"],
	["accuracy", "higher", "candidate.accuracy", "production.accuracy", "delta.accuracy", "delta.accuracy.ci_high"],
	["macro_f1", "higher", "candidate.macro_f1", "production.macro_f1", "delta.macro_f1", "delta.macro_f1.ci_high"],
	["r2", "higher", "candidate.r2", "production.r2", "delta.r2", "delta.r2.ci_high"],
	["log_loss", "lower", "candidate.log_loss", "production.log_loss", "delta.log_loss", "delta.log_loss.ci_low"],
	["brier", "lower", "candidate.brier", "production.brier", "delta.brier", "delta.brier.ci_low"],
	["rmse", "lower", "candidate.rmse", "production.rmse", "delta.rmse", "delta.rmse.ci_low"],
	["mae", "lower", "candidate.mae", "production.mae", "delta.mae", "delta.mae.ci_low"],
	["mape", "lower", "candidate.mape", "production.mape", "delta.mape", "delta.mape.ci_low"],
]

guarded_rows := default_guarded_rows if {
	settings.guarded_metrics == defaults.guarded_metrics
} else := [row |
	some name, direction in settings.guarded_metrics
	row := [
		name, direction,
		concat("", ["candidate.", name]), concat("", ["production.", name]), concat("", ["delta.", name]),
		interval_bound_key(name, direction),
	]
]

interval_bound_key(name, "higher") := concat("", ["delta.", name, ".ci_high"])

interval_bound_key(name, "lower") := concat("", ["delta.", name, ".ci_low"])

# A direction other than higher or lower is never judged (regressions), but
# a missing delta still denies.
default interval_bound_key(_, _) := null

# The rows of the guarded metrics measured on both models (only when
# production exists). The metrics are bound to a local variable first: a
# lookup in a local value costs a fraction of a reference to a rule, even a
# cached one.
measured_rows := [row |
	input.production != null
	metrics := eval_metrics
	some row in guarded_rows
	[_, _, candidate, production, _, _] := row
	is_number(metrics[candidate])
	is_number(metrics[production])
]

guarded_measured := {name: direction | some [name, direction, _, _, _, _] in measured_rows}

# ... and of those, the rows of the ones with a delta.
compared_rows := [row |
	metrics := eval_metrics
	some row in measured_rows
	is_number(metrics[row[4]])
]

guarded_compared := {name: direction | some [name, direction, _, _, _, _] in compared_rows}

# The bound of the delta's interval closest to "no change" decides, so noise
# alone never denies; without an interval, the point estimate decides.
# name -> the number that decides.
bounds := object.union(
	{name: metrics[delta] |
		metrics := eval_metrics
		some [name, _, _, _, delta, _] in compared_rows
	},
	{name: v |
		metrics := eval_metrics
		some [name, _, _, _, _, interval_bound] in compared_rows
		v := metrics[interval_bound]
		is_number(v)
	},
)

# The compared metrics that may have regressed. OPA does arithmetic on
# decimals with math/big, so the four operations of the full check
# (regressions) cost far more than a lookup; when the tolerance is not
# negative, a metric whose bound did not move the wrong way (below zero for
# higher-is-better, above zero for lower-is-better) cannot have regressed,
# and one comparison rules it out.
regression_suspects := s if {
	settings.regression_tolerance >= 0
	b := bounds
	s := {name | some [name, "higher", _, _, _, _] in compared_rows; b[name] < 0} | {name |
		some [name, "lower", _, _, _, _] in compared_rows
		b[name] > 0
	}
} else := object.keys(guarded_compared)

# How far each suspect moved the wrong way (a fall for a metric that should
# rise, a rise for one that should fall), and how far it may, for those
# that moved too far: name -> [worse, tolerance]. A direction other than
# higher or lower is never judged.
regressions := {name: [worse, tolerance] |
	metrics := eval_metrics
	b := bounds
	directions := guarded_compared
	fraction := settings.regression_tolerance
	sign := {"higher": -1, "lower": 1}
	some name in regression_suspects
	worse := sign[directions[name]] * b[name]
	tolerance := fraction * abs(metrics[concat("", ["production.", name])])
	worse > tolerance
}

bound_name := {"higher": "upper bound", "lower": "lower bound"}

# ---------------------------------------------------------------------------
# Helpers.

# In Rego, `not f(x)` is undefined (not true) when x itself is undefined, so
# every negated check reads its argument through get_path, which turns a
# missing field or a non-object input into null.
get_path(p) := v if {
	v := object.get(input, p, null)
} else := null

non_empty_string(s) if {
	is_string(s)
	trim_space(s) != ""
}

valid_digest(d) if {
	is_string(d)
	regex.match(`^sha256:[0-9a-f]{64}$`, d)
}

summary(report) := report.summary if {
	non_empty_string(report.summary)
} else := "no summary"

subject(f) := f.subject if {
	non_empty_string(f.subject)
} else := "-"

is_drift(f) if startswith(f.code, "drift")

# A missing or malformed traffic share counts as the whole traffic.
traffic_share := s if {
	s := input.deploy.max_traffic_share
	is_number(s)
	s >= 0
	s <= 1
} else := 1

drift_shares := {s |
	some _, report in input.reports
	s := report.metrics["drift.share"]
	is_number(s)
}

drift_measured if count(drift_shares) > 0

drift_share := max(drift_shares) if drift_measured

pct(x) := round(x * 1000) / 10
