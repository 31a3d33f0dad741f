package modelgate.promotion_test

import data.modelgate.promotion

# A candidate that should sail through to staging: every report passes, the
# candidate is better than production, drift is low, the rollout stops at 50%.
base := {
	"run": {"id": "run-1", "trigger": "ci", "commit_author": "dev"},
	"model": "fraud-detector",
	"environment": "staging",
	"task": "binary",
	"candidate": {"version": "v2", "digest": "sha256:0000000000000000000000000000000000000000000000000000000000000abc"},
	"production": {"version": "v1", "digest": "sha256:0000000000000000000000000000000000000000000000000000000000000def"},
	"reports": {
		"validate": {"agent": "testing", "verdict": "pass", "metrics": {"drift.share": 0.1}, "findings": [], "summary": "ok"},
		"test": {"agent": "testing", "verdict": "pass", "metrics": {}, "findings": [], "summary": "ok"},
		"scan": {"agent": "security", "verdict": "pass", "metrics": {}, "findings": [], "summary": "ok"},
		"evaluate": {
			"agent": "evaluation", "verdict": "pass", "metrics": {
				"candidate.roc_auc": 0.95, "production.roc_auc": 0.93, "delta.roc_auc": 0.02,
				"delta.roc_auc.ci_low": 0.01, "delta.roc_auc.ci_high": 0.03,
				"candidate.log_loss": 0.20, "production.log_loss": 0.25, "delta.log_loss": -0.05,
			},
			"findings": [], "summary": "better",
		},
	},
	"deploy": {"strategy": "canary", "max_traffic_share": 0.5, "shadow": true},
	"requester": {"subject": "ci-bot", "roles": ["ci"]},
}

# Each case: patch (JSON Patch ops applied to base), the expected allow and
# risk, and deny codes that must be present.
cases := {
	"clean staging candidate": {"patch": [], "allow": true, "risk": "low", "codes": set()},
	"production, full traffic is high risk": {
		"patch": [
			{"op": "replace", "path": "/environment", "value": "production"},
			{"op": "replace", "path": "/deploy/max_traffic_share", "value": 1},
		],
		"allow": true, "risk": "high", "codes": set(),
	},
	"production with drift is critical": {
		"patch": [
			{"op": "replace", "path": "/environment", "value": "production"},
			{"op": "replace", "path": "/reports/validate/metrics/drift.share", "value": 0.6},
		],
		"allow": true, "risk": "critical", "codes": set(),
	},
	"drift above threshold alone is high": {
		"patch": [{"op": "replace", "path": "/reports/validate/metrics/drift.share", "value": 0.75}],
		"allow": true, "risk": "high", "codes": set(),
	},
	"drift not measured raises risk": {
		"patch": [{"op": "remove", "path": "/reports/validate/metrics/drift.share"}],
		"allow": true, "risk": "medium", "codes": set(),
	},
	"critical security finding denies": {
		"patch": [{"op": "replace", "path": "/reports/scan/findings", "value": [{"severity": "critical", "code": "scan.pickle.global", "message": "REDUCE calls posix.system", "subject": "model.pkl"}]}],
		"allow": false, "risk": "low", "codes": {"security.critical"},
	},
	"high finding raises risk": {
		"patch": [{"op": "replace", "path": "/reports/scan/findings", "value": [{"severity": "high", "code": "scan.pickle.unknown_global", "message": "not allowlisted", "subject": "model.pkl"}]}],
		"allow": true, "risk": "medium", "codes": set(),
	},
	"critical drift finding does not deny": {
		"patch": [{"op": "replace", "path": "/reports/validate/findings", "value": [{"severity": "critical", "code": "drift.column", "message": "amount drifted", "subject": "amount"}]}],
		"allow": true, "risk": "low", "codes": set(),
	},
	"critical finding elsewhere denies": {
		"patch": [{"op": "replace", "path": "/reports/test/findings", "value": [{"severity": "critical", "code": "test.invariance", "message": "flips on irrelevant change"}]}],
		"allow": false, "risk": "low", "codes": {"finding.critical"},
	},
	"failed scan denies": {
		"patch": [{"op": "replace", "path": "/reports/scan/verdict", "value": "fail"}],
		"allow": false, "risk": "low", "codes": {"report.failed"},
	},
	"failed evaluation denies": {
		"patch": [{"op": "replace", "path": "/reports/evaluate/verdict", "value": "fail"}],
		"allow": false, "risk": "low", "codes": {"report.failed"},
	},
	"validation failing on drift only does not deny": {
		"patch": [
			{"op": "replace", "path": "/reports/validate/verdict", "value": "fail"},
			{"op": "replace", "path": "/reports/validate/findings", "value": [{"severity": "high", "code": "drift.dataset", "message": "dataset drift"}]},
		],
		"allow": true, "risk": "low", "codes": set(),
	},
	"validation failing on a schema error denies": {
		"patch": [
			{"op": "replace", "path": "/reports/validate/verdict", "value": "fail"},
			{"op": "replace", "path": "/reports/validate/findings", "value": [{"severity": "high", "code": "validate.missing_column", "message": "column amount is missing"}]},
		],
		"allow": false, "risk": "medium", "codes": {"report.failed"},
	},
	"regression beyond the interval denies": {
		"patch": [
			{"op": "replace", "path": "/reports/evaluate/metrics/delta.roc_auc", "value": -0.03},
			{"op": "replace", "path": "/reports/evaluate/metrics/delta.roc_auc.ci_low", "value": -0.05},
			{"op": "replace", "path": "/reports/evaluate/metrics/delta.roc_auc.ci_high", "value": -0.01},
		],
		"allow": false, "risk": "low", "codes": {"evaluation.regression"},
	},
	"noise within the interval does not deny": {
		"patch": [
			{"op": "replace", "path": "/reports/evaluate/metrics/delta.roc_auc", "value": -0.02},
			{"op": "replace", "path": "/reports/evaluate/metrics/delta.roc_auc.ci_low", "value": -0.05},
			{"op": "replace", "path": "/reports/evaluate/metrics/delta.roc_auc.ci_high", "value": 0.01},
		],
		"allow": true, "risk": "low", "codes": set(),
	},
	"point regression without interval denies": {
		"patch": [
			{"op": "remove", "path": "/reports/evaluate/metrics/delta.roc_auc.ci_low"},
			{"op": "remove", "path": "/reports/evaluate/metrics/delta.roc_auc.ci_high"},
			{"op": "replace", "path": "/reports/evaluate/metrics/delta.roc_auc", "value": -0.02},
		],
		"allow": false, "risk": "low", "codes": {"evaluation.regression"},
	},
	"lower-is-better metric regression denies": {
		"patch": [{"op": "replace", "path": "/reports/evaluate/metrics/delta.log_loss", "value": 0.1}],
		"allow": false, "risk": "low", "codes": {"evaluation.regression"},
	},
	"missing delta with both models measured denies": {
		"patch": [{"op": "remove", "path": "/reports/evaluate/metrics/delta.log_loss"}],
		"allow": false, "risk": "low", "codes": {"evaluation.missing_delta"},
	},
	"first model in staging is judged on floors": {
		"patch": [{"op": "replace", "path": "/production", "value": null}],
		"allow": true, "risk": "low", "codes": set(),
	},
	"first model in production needs review": {
		"patch": [
			{"op": "replace", "path": "/production", "value": null},
			{"op": "replace", "path": "/environment", "value": "production"},
		],
		"allow": true, "risk": "high", "codes": set(),
	},
	"missing scan report denies": {
		"patch": [{"op": "remove", "path": "/reports/scan"}],
		"allow": false, "risk": "low", "codes": {"input.missing_report"},
	},
	"missing reports object denies": {
		"patch": [{"op": "remove", "path": "/reports"}],
		"allow": false, "risk": "medium", "codes": {"input.missing_report"},
	},
	"report without verdict denies": {
		"patch": [{"op": "remove", "path": "/reports/test/verdict"}],
		"allow": false, "risk": "low", "codes": {"input.bad_report"},
	},
	"report of the wrong type denies": {
		"patch": [{"op": "replace", "path": "/reports/test", "value": "passed"}],
		"allow": false, "risk": "low", "codes": {"input.bad_report"},
	},
	"missing digest denies": {
		"patch": [{"op": "remove", "path": "/candidate/digest"}],
		"allow": false, "risk": "low", "codes": {"input.missing_digest"},
	},
	"malformed digest denies": {
		"patch": [{"op": "replace", "path": "/candidate/digest", "value": "md5:abc"}],
		"allow": false, "risk": "low", "codes": {"input.missing_digest"},
	},
	"missing environment denies": {
		"patch": [{"op": "remove", "path": "/environment"}],
		"allow": false, "risk": "low", "codes": {"input.missing_field"},
	},
	"blank model denies": {
		"patch": [{"op": "replace", "path": "/model", "value": "  "}],
		"allow": false, "risk": "low", "codes": {"input.missing_field"},
	},
	"missing requester denies": {
		"patch": [{"op": "remove", "path": "/requester"}],
		"allow": false, "risk": "low", "codes": {"input.missing_field"},
	},
	"missing traffic share counts as full traffic": {
		"patch": [{"op": "remove", "path": "/deploy"}],
		"allow": true, "risk": "medium", "codes": set(),
	},
	"out-of-range traffic share counts as full traffic": {
		"patch": [{"op": "replace", "path": "/deploy/max_traffic_share", "value": 7}],
		"allow": true, "risk": "medium", "codes": set(),
	},
}

test_decisions if {
	every name, c in cases {
		doc := json.patch(base, c.patch)
		d := promotion.decision with input as doc
		check(name, c, d)
	}
}

check(name, c, d) if {
	d.allow == c.allow
	d.risk == c.risk
	got := {r.code | some r in d.deny}
	missing := c.codes - got
	count(missing) == 0

	# A denied decision always says why; an allowed one has nothing to say.
	denied := count(got) > 0
	denied != c.allow
} else := false if {
	print("case failed:", name, "got", d)
}

test_high_risk_requires_one_reviewer if {
	doc := json.patch(base, [
		{"op": "replace", "path": "/environment", "value": "production"},
		{"op": "replace", "path": "/deploy/max_traffic_share", "value": 1},
	])
	d := promotion.decision with input as doc
	d.require_approval
	d.approvers == {"groups": ["ml-reviewers"], "min": 1}
}

test_critical_risk_requires_two_reviewers if {
	doc := json.patch(base, [
		{"op": "replace", "path": "/environment", "value": "production"},
		{"op": "replace", "path": "/deploy/max_traffic_share", "value": 1},
		{"op": "replace", "path": "/reports/validate/metrics/drift.share", "value": 0.9},
	])
	d := promotion.decision with input as doc
	d.risk == "critical"
	d.require_approval
	d.approvers.min == 2
}

test_low_risk_needs_no_approval if {
	d := promotion.decision with input as base
	not d.require_approval
	d.approvers == {"groups": [], "min": 0}
	d.reasons[0] == "risk low (0 point(s))"
}

test_empty_input_denies if {
	d := promotion.decision with input as {}
	d.allow == false
	count(d.deny) >= 4
}

test_non_object_input_denies if {
	d := promotion.decision with input as "promote me"
	d.allow == false
}

test_reasons_explain_denials if {
	doc := json.patch(base, [{"op": "replace", "path": "/reports/scan/verdict", "value": "fail"}])
	d := promotion.decision with input as doc
	some r in d.reasons
	startswith(r, "denied: the scan stage failed")
}

test_settings_override if {
	doc := json.patch(base, [{"op": "replace", "path": "/reports/validate/metrics/drift.share", "value": 0.3}])
	d := promotion.decision with input as doc with data.modelgate.settings as {"drift_share_max": 0.2}
	d.risk == "high"
}

test_settings_can_drop_a_required_report if {
	doc := json.patch(base, [{"op": "remove", "path": "/reports/scan"}])
	d := promotion.decision with input as doc with data.modelgate.settings as {"required_reports": ["validate", "evaluate"]}
	d.allow
}

test_malformed_settings_are_ignored if {
	d := promotion.decision with input as base with data.modelgate.settings as "oops"
	d.allow
}

test_denied_high_risk_needs_no_approval if {
	doc := json.patch(base, [
		{"op": "replace", "path": "/environment", "value": "production"},
		{"op": "replace", "path": "/deploy/max_traffic_share", "value": 1},
		{"op": "replace", "path": "/reports/scan/verdict", "value": "fail"},
	])
	d := promotion.decision with input as doc
	d.risk == "high"
	not d.allow
	not d.require_approval
	d.approvers.min == 0
}

# A team may guard a metric of its own; its names are built, not looked up
# in the default table, and it is judged like the others.
test_settings_add_a_guarded_metric if {
	doc := json.patch(base, [
		{"op": "add", "path": "/reports/evaluate/metrics/candidate.auc_at_1pct", "value": 0.40},
		{"op": "add", "path": "/reports/evaluate/metrics/production.auc_at_1pct", "value": 0.50},
		{"op": "add", "path": "/reports/evaluate/metrics/delta.auc_at_1pct", "value": -0.10},
	])
	d := promotion.decision with input as doc with data.modelgate.settings as {"guarded_metrics": {"auc_at_1pct": "higher", "cost": "lower"}}
	not d.allow
	{r.code | some r in d.deny} == {"evaluation.regression"}
}

# A direction other than higher or lower is never judged, but a missing
# delta still denies.
test_settings_unknown_direction_is_not_judged if {
	doc := json.patch(base, [{"op": "replace", "path": "/reports/evaluate/metrics/delta.roc_auc", "value": -0.5}])
	d := promotion.decision with input as doc with data.modelgate.settings as {"guarded_metrics": {"roc_auc": "sideways"}}
	d.allow
	doc2 := json.patch(base, [{"op": "remove", "path": "/reports/evaluate/metrics/delta.roc_auc"}])
	d2 := promotion.decision with input as doc2 with data.modelgate.settings as {"guarded_metrics": {"roc_auc": "sideways"}}
	{r.code | some r in d2.deny} == {"evaluation.missing_delta"}
}

# A negative tolerance demands an improvement: a metric that did not move
# fails it, which the shortcut for non-negative tolerances must not hide.
test_settings_negative_tolerance if {
	doc := json.patch(base, [
		{"op": "replace", "path": "/reports/evaluate/metrics/delta.log_loss", "value": 0},
		{"op": "replace", "path": "/reports/evaluate/metrics/production.log_loss", "value": 0.25},
	])
	promotion.decision.allow with input as doc
	d := promotion.decision with input as doc with data.modelgate.settings as {"regression_tolerance": -0.01}
	not d.allow
	some r in d.deny
	r.code == "evaluation.regression"
	startswith(r.message, "log_loss regressed")
}

# The engine hands the policy input.facts, computed in Go from the same
# evidence (internal/oversight/facts.go). Supplied that way, every case
# decides exactly as when the policy computes the facts itself.
test_decisions_with_supplied_facts if {
	every c in cases {
		doc := json.patch(base, c.patch)
		facts := promotion.computed_facts with input as doc
		with_facts := promotion.decision with input as object.union(doc, {"facts": facts})
		without := promotion.decision with input as doc
		with_facts == without
	}
}

# Facts are sets, which JSON cannot express: facts in a JSON document are
# not taken on trust, so a document cannot vouch for itself.
test_facts_from_json_are_not_trusted if {
	claims := {
		"version": 1, "invalid_fields": [], "reports_present": ["validate", "test", "scan", "evaluate"],
		"reports_fail": [], "reports_invalid": [], "critical_findings": [], "high_findings": [],
		"drift_share": 0.1, "metrics_measured": [], "metrics_compared": [], "metrics_fell": [], "metrics_rose": [],
	}
	doc := json.patch(object.union(base, {"facts": claims}), [
		{"op": "remove", "path": "/candidate/digest"},
		{"op": "replace", "path": "/reports/scan/verdict", "value": "fail"},
	])
	d := promotion.decision with input as doc
	not d.allow
	{r.code | some r in d.deny} == {"input.missing_digest", "report.failed"}
}

# An upstream that need not prove what it serves is a request the
# operator's settings must grant; granted, it is a listed risk.
test_unverified_upstream_denied_by_default if {
	doc := json.patch(base, [{"op": "add", "path": "/deploy/upstream", "value": true}, {"op": "add", "path": "/deploy/unverified", "value": true}])
	d := promotion.decision with input as doc
	not d.allow
	some r in d.deny
	r.code == "deploy.unverified_upstream"
}

test_unverified_upstream_allowed_by_settings_is_a_reason if {
	doc := json.patch(base, [{"op": "add", "path": "/deploy/upstream", "value": true}, {"op": "add", "path": "/deploy/unverified", "value": true}])
	d := promotion.decision with input as doc with data.modelgate.settings as {"allow_unverified_upstreams": true}
	d.allow
	d.risk == "medium"
	some r in d.reasons
	contains(r, "not checked against the approved digest")
}

test_verified_upstream_is_no_risk if {
	doc := json.patch(base, [{"op": "add", "path": "/deploy/upstream", "value": true}, {"op": "add", "path": "/deploy/unverified", "value": false}])
	d := promotion.decision with input as doc
	d.allow
	d.risk == "low"
}

# The rollout reason is cited only when there is a rollout; a promotion in
# the registry only carries the same risk under its own reason.
test_rollout_cites_its_traffic if {
	doc := json.patch(base, [{"op": "replace", "path": "/deploy/max_traffic_share", "value": 1}])
	d := promotion.decision with input as doc
	some r in d.reasons
	contains(r, "the rollout gives the candidate up to 100% of traffic")
}

test_registry_only_does_not_cite_a_rollout if {
	doc := json.patch(base, [
		{"op": "replace", "path": "/deploy/max_traffic_share", "value": 1},
		{"op": "add", "path": "/deploy/registry_only", "value": true},
	])
	d := promotion.decision with input as doc
	some r in d.reasons
	contains(r, "promoted in the registry only (no rollout)")
	every r2 in d.reasons {
		not contains(r2, "the rollout gives")
	}
}
