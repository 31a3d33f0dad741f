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
	# Whether a candidate may be served by an upstream that does not list
	# its digest in its V2 metadata (deploy.target.allow_unverified): then
	# nothing checks that the bytes served are the bytes approved.
	"allow_unverified_upstreams": false,
}

settings := object.union(defaults, data.modelgate.settings) if {
	is_object(data.modelgate.settings)
} else := defaults

# ---------------------------------------------------------------------------
# The decision: the one document the engine reads.

# input.facts index the evidence (see "Facts" below). The engine always
# provides them; for any other caller they are computed here first. Facts
# are sets, which JSON cannot express, so facts in a JSON document (a file
# given to `modelgate policy eval`, say) are never taken on trust.
decision := judged if {
	input.facts.version == 1
	is_set(input.facts.invalid_fields)
} else := d if {
	d := judged with input.facts as computed_facts
}

judged := {
	"allow": allow,
	"deny": [r | some r in denials],
	"require_approval": approval.require,
	"approvers": approval.approvers,
	"risk": risk,
	"reasons": array.concat(
		array.concat([sprintf("risk %s (%d point(s))", [risk, points])], sort([f.reason | some f in factors])),
		sort([sprintf("denied: %s", [r.message]) | some r in denials]),
	),
} if {
	# The full extents of the partial rules, read once: OPA would evaluate
	# every rule of a partial set again each time something iterates it.
	denials := deny
	factors := risk_factors
	allow := count(denials) == 0

	# Each risk factor adds points: 0 low, 1 medium, 2 high, 3 or more critical.
	points := sum([f.points | some f in factors])
	risk := object.get(risk_levels, points, "critical")

	# Only an allowed promotion of high or critical risk waits for people;
	# a denial is final.
	approval := object.get(approvals, [allow, risk], no_approval)
}

risk_levels := {0: "low", 1: "medium", 2: "high"}

# Who must approve, by allowed and risk (object.get follows the path
# [allow, risk]); no entry, no approval needed.
approvals := {true: {
	"high": {"require": true, "approvers": {"groups": settings.reviewer_groups, "min": 1}},
	"critical": {"require": true, "approvers": {"groups": settings.critical_reviewer_groups, "min": settings.critical_min_approvers}},
}}

no_approval := {"require": false, "approvers": {"groups": [], "min": 0}}

# ---------------------------------------------------------------------------
# How this file is written, and why (a decision must cost well under 100 µs
# of CPU; see bench/oversight/RESULTS.md):
#   - The rules judge facts: small sets that index the evidence (which
#     identity fields are invalid, which reports failed, which findings are
#     critical or high, which metrics moved for sure). The engine computes
#     them in Go from the typed evidence and passes them as input.facts;
#     without them (opa test, `modelgate policy eval` on a JSON file, any
#     other caller) the rules under "Facts" below compute the same sets from
#     the evidence. The facts hold no setting of this policy, so everything
#     that is a judgement stays here. TestFactsMatchRego holds the two
#     definitions equal, and TestDecisionsMatchReference holds the decisions
#     equal to those of the plainly written policy this file replaced
#     (internal/oversight/testdata/promotion_reference.rego).
#   - OPA caches a complete rule (`x := ...`) for the whole evaluation, but
#     re-runs a partial rule (`x[k] := v if ...`, `x contains k if ...`)
#     every time something iterates it with an unbound key, so collections
#     are built by complete rules.
#   - Every reference to a rule costs OPA a look-up in its rule index, even
#     when the value is cached, so the decision is assembled in one rule
#     from local variables, and choices are table look-ups (risk_levels,
#     approvals). Rules that read no input (settings, the tables) are
#     evaluated once per bundle load by the engine.
#   - Each expression OPA evaluates costs about a microsecond, a call of a
#     function defined here several, and arithmetic goes through math/big:
#     on the usual path (nothing wrong) every denial iterates an empty set,
#     and only a metric that moved the wrong way gets any arithmetic.
#     sprintf and helper functions are left to paths taken when something
#     is wrong or worth a reason.

# ---------------------------------------------------------------------------
# Denials. Each is {"code", "message"}; codes are stable for scripts.

# The evidence must say what is promoted, where and by whom.
deny contains {"code": "input.missing_field", "message": sprintf("input.%s is missing or empty", [field])} if {
	some field in input.facts.invalid_fields
	field != "candidate.digest"
}

# Approvals are bound to the exact artifact, so without a digest there is
# nothing a reviewer could approve.
deny contains {"code": "input.missing_digest", "message": "input.candidate.digest must be \"sha256:\" followed by 64 hex digits"} if {
	"candidate.digest" in input.facts.invalid_fields
}

deny contains {"code": "input.missing_report", "message": sprintf("the %s stage has no report", [stage])} if {
	missing := required_reports - input.facts.reports_present
	some stage in missing
}

# A report that is not an object, or has no verdict or another word, fails
# closed.
deny contains {"code": "input.bad_report", "message": sprintf("the %s report has no valid verdict (pass, warn or fail)", [stage])} if {
	some stage in input.facts.reports_invalid
}

# A failing scan, test or evaluation stops the promotion. A failing
# validation stops it only for reasons other than drift: drift is a fact
# about the world, so it raises the risk instead and a person decides.
deny contains {"code": "report.failed", "message": sprintf("the %s stage failed: %s", [stage, summary(input.reports[stage])])} if {
	some stage in input.facts.reports_fail
	stage != "validate"
}

deny contains {"code": "report.failed", "message": sprintf("data validation failed: %s", [summary(input.reports.validate)])} if {
	"validate" in input.facts.reports_fail
	some f in (input.facts.critical_findings | input.facts.high_findings)
	f.stage == "validate"
	not is_drift(f)
}

deny contains {"code": "security.critical", "message": sprintf("critical security finding %s on %s: %s", [f.code, f.subject, f.message])} if {
	some f in input.facts.critical_findings
	f.stage == "scan"
}

deny contains {"code": "finding.critical", "message": sprintf("critical finding %s in the %s report on %s: %s", [f.code, f.stage, f.subject, f.message])} if {
	some f in input.facts.critical_findings
	f.stage != "scan"
	not is_drift(f)
}

deny contains {"code": "evaluation.regression", "message": msg} if {
	some name, [worse, tolerance] in regressions
	direction := settings.guarded_metrics[name]
	msg := sprintf("%s regressed against production: delta %v (%s %v), tolerance %v", [
		name, eval_metrics[concat("", ["delta.", name])],
		bound_name[direction], bound(name, direction), tolerance,
	])
}

# Both models were measured but the comparison is missing: we cannot tell
# whether the candidate regressed, so we do not promote it.
deny contains {"code": "evaluation.missing_delta", "message": msg} if {
	input.production != null
	uncompared := input.facts.metrics_measured - input.facts.metrics_compared
	count(uncompared) > 0
	some name in (uncompared & guarded_names)
	msg := sprintf("candidate.%s and production.%s are reported but delta.%s is missing", [name, name, name])
}

# What reviewers approve is what is served: an upstream must prove it
# serves the candidate's digest, unless the operator's settings allow
# otherwise.
deny contains {"code": "deploy.unverified_upstream", "message": "deploy.target.allow_unverified asks to serve the candidate from an upstream that need not prove it serves the approved digest; this policy does not allow unverified upstreams (settings.allow_unverified_upstreams)"} if {
	input.deploy.unverified == true
	settings.allow_unverified_upstreams != true
}

# ---------------------------------------------------------------------------
# Risk: each factor adds points; 0 low, 1 medium, 2 high, 3 or more critical.

risk_factors contains {"points": 1, "reason": sprintf("target environment %q is a production environment", [input.environment])} if {
	input.environment in settings.production_environments
}

risk_factors contains {"points": 1, "reason": sprintf("the rollout gives the candidate up to %v%% of traffic", [round(traffic_share * 100)])} if {
	traffic_share > settings.large_traffic_share
	not input.deploy.registry_only
}

# Nothing is rolled out: the registry switches all its readers at once.
risk_factors contains {"points": 1, "reason": "promoted in the registry only (no rollout): whatever reads the registry switches all its traffic at once"} if {
	traffic_share > settings.large_traffic_share
	input.deploy.registry_only
}

risk_factors contains {"points": 1, "reason": "the candidate is served by an upstream that is not checked against the approved digest (allowed by settings.allow_unverified_upstreams)"} if {
	input.deploy.unverified == true
	settings.allow_unverified_upstreams == true
}

risk_factors contains {"points": 2, "reason": sprintf("data drift: %v%% of columns drifted (threshold %v%%)", [pct(drift_share), pct(settings.drift_share_max)])} if {
	drift_share > settings.drift_share_max
}

# Unmeasured drift is treated as a risk, not as the absence of one.
risk_factors contains {"points": 1, "reason": "drift was not measured (no drift.share metric in any report)"} if {
	input.facts.drift_share == null
}

risk_factors contains {"points": 1, "reason": sprintf("%d high-severity finding(s)", [n])} if {
	some f in input.facts.high_findings
	n := count({g | some g in input.facts.high_findings; not is_drift(g)})
	n > 0
}

risk_factors contains {"points": 1, "reason": "no version of this model is in production yet, so nothing was compared"} if {
	input.production == null
	input.environment in settings.production_environments
}

# ---------------------------------------------------------------------------
# Settings turned into sets, spelled out for the default settings so that
# a decision does not rebuild them.

required_reports := {"validate", "scan", "evaluate"} if {
	settings.required_reports == defaults.required_reports
} else := {stage | some stage in settings.required_reports}

default_guarded if settings.guarded_metrics == defaults.guarded_metrics

guarded_names := {
	"roc_auc", "pr_auc", "f1", "recall", "precision", "accuracy", "macro_f1", "r2",
	"log_loss", "brier", "rmse", "mae", "mape",
} if {
	default_guarded
} else := {name | some name, _ in settings.guarded_metrics}

higher_guarded := {"roc_auc", "pr_auc", "f1", "recall", "precision", "accuracy", "macro_f1", "r2"} if {
	default_guarded
} else := {name | some name, "higher" in settings.guarded_metrics}

lower_guarded := {"log_loss", "brier", "rmse", "mae", "mape"} if {
	default_guarded
} else := {name | some name, "lower" in settings.guarded_metrics}

# ---------------------------------------------------------------------------
# Regressions.

# The guarded metrics that may have regressed. A metric whose bound nearest
# to "no change" did not move the wrong way cannot have regressed when the
# tolerance is not negative; a negative tolerance (an improvement is
# demanded) judges every compared metric. A direction other than higher or
# lower is never judged.
regression_suspects := (input.facts.metrics_fell & higher_guarded) | (input.facts.metrics_rose & lower_guarded) if {
	tolerance_not_negative
} else := input.facts.metrics_compared & (higher_guarded | lower_guarded)

# How far each suspect moved the wrong way (a fall for a metric that should
# rise, a rise for one that should fall), and how far it may, for those
# that moved too far: name -> [worse, tolerance].
regressions := {name: [worse, tolerance] |
	input.production != null
	fraction := settings.regression_tolerance
	some name in regression_suspects
	direction := settings.guarded_metrics[name]
	worse := sign[direction] * bound(name, direction)
	tolerance := fraction * abs(eval_metrics[concat("", ["production.", name])])
	worse > tolerance
}

tolerance_not_negative if settings.regression_tolerance >= 0

sign := {"higher": -1, "lower": 1}

bound_name := {"higher": "upper bound", "lower": "lower bound"}

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

default eval_metrics := {}

eval_metrics := m if {
	m := input.reports.evaluate.metrics
	is_object(m)
}

# ---------------------------------------------------------------------------
# Facts: what input.facts hold, computed from the evidence. The engine
# computes the same in Go (internal/oversight/facts.go, which documents
# each member); TestFactsMatchRego holds the two equal.

computed_facts := {
	"version": 1,
	"invalid_fields": computed_invalid_fields,
	"reports_present": {stage | some stage, report in input.reports; is_object(report)},
	"reports_fail": {stage | some stage, report in input.reports; report.verdict == "fail"},
	"reports_invalid": {stage | some stage, _ in input.reports; not valid_verdict_stages[stage]},
	"critical_findings": {finding_fact(stage, i, f) | f := finding_lists[stage][i]; f.severity == "critical"},
	"high_findings": {finding_fact(stage, i, f) | f := finding_lists[stage][i]; f.severity == "high"},
	"drift_share": computed_drift_share,
	"metrics_measured": computed_measured,
	"metrics_compared": computed_compared,
	"metrics_fell": {name | some name in computed_compared; bound(name, "higher") < 0},
	"metrics_rose": {name | some name in computed_compared; bound(name, "lower") > 0},
}

computed_invalid_fields := {field |
	some [field, path] in [["model", ["model"]], ["environment", ["environment"]], ["requester.subject", ["requester", "subject"]]]
	not non_empty_string(get_path(path))
} | {"candidate.digest" | not valid_digest(get_path(["candidate", "digest"]))}

# A stage whose report is not an object, or has no verdict or another
# word, is invalid. The stages with a valid verdict are collected first:
# negating a check on `report.verdict` directly would be undefined, not
# true, for a report that is not an object, and such a report would slip
# through.
valid_verdict_stages := {stage | input.reports[stage].verdict in {"pass", "warn", "fail"}}

# Each report's findings when they are a list; anything else counts as none.
finding_lists := {stage: fs |
	some stage, report in input.reports
	fs := report.findings
	is_array(fs)
}

finding_fact(stage, i, f) := {
	"stage": stage,
	"index": i,
	"code": text(object.get(f, "code", "")),
	"subject": subject(f),
	"message": text(object.get(f, "message", "")),
}

computed_drift_share := max(shares) if {
	shares := {s | some report in input.reports; s := report.metrics["drift.share"]; is_number(s)}
	count(shares) > 0
} else := null

computed_measured := {name |
	some key, c in eval_metrics
	is_number(c)
	startswith(key, "candidate.")
	name := substring(key, 10, -1)
	is_number(eval_metrics[concat("", ["production.", name])])
}

computed_compared := {name |
	some name in computed_measured
	is_number(eval_metrics[concat("", ["delta.", name])])
}

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

text(x) := x if {
	is_string(x)
} else := ""

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

drift_share := input.facts.drift_share if input.facts.drift_share != null

pct(x) := round(x * 1000) / 10
