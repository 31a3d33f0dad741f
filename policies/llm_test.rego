package modelgate.llm_test

import data.modelgate.promotion

# An LLM candidate no worse than production: every report passes, the
# suite's pass rate rose, the cost is about the same.
base := {
	"run": {"id": "run-1", "trigger": "ci", "commit_author": "dev"},
	"model": "support-bot",
	"environment": "staging",
	"task": "llm",
	"candidate": {"version": "v2", "digest": "sha256:0000000000000000000000000000000000000000000000000000000000000abc"},
	"production": {"version": "v1", "digest": "sha256:0000000000000000000000000000000000000000000000000000000000000def"},
	"reports": {
		"validate": {"agent": "validation", "verdict": "pass", "metrics": {"drift.share": 0}, "findings": [], "summary": "ok"},
		"test": {"agent": "testing", "verdict": "pass", "metrics": {}, "findings": [], "summary": "ok"},
		"scan": {"agent": "security", "verdict": "pass", "metrics": {}, "findings": [], "summary": "ok"},
		"evaluate": {
			"agent": "evaluation", "verdict": "pass", "metrics": {
				"llm.candidate.pass_rate": 0.9, "llm.production.pass_rate": 0.8, "llm.delta.pass_rate": 0.1,
				"llm.mcnemar.p_value": 0.25, "llm.cost_ratio": 1.1, "llm.candidate.inconclusive_share": 0.05,
			},
			"findings": [], "summary": "better",
		},
	},
	"deploy": {"strategy": "canary", "max_traffic_share": 0.5, "shadow": true},
	"requester": {"subject": "ci-bot", "roles": ["ci"]},
}

cases := {
	"better and as cheap": {"patch": [], "allow": true, "risk": "low", "codes": set()},
	"significant drop denies": {
		"patch": [
			{"op": "replace", "path": "/reports/evaluate/metrics/llm.delta.pass_rate", "value": -0.2},
			{"op": "replace", "path": "/reports/evaluate/metrics/llm.mcnemar.p_value", "value": 0.01},
		],
		"allow": false, "risk": "low", "codes": {"llm.pass_rate_drop"},
	},
	"a drop the test cannot separate from noise passes": {
		"patch": [
			{"op": "replace", "path": "/reports/evaluate/metrics/llm.delta.pass_rate", "value": -0.1},
			{"op": "replace", "path": "/reports/evaluate/metrics/llm.mcnemar.p_value", "value": 0.3},
		],
		"allow": true, "risk": "low", "codes": set(),
	},
	"a significant rise is no drop": {
		"patch": [{"op": "replace", "path": "/reports/evaluate/metrics/llm.mcnemar.p_value", "value": 0.001}],
		"allow": true, "risk": "low", "codes": set(),
	},
	"cost above the bound denies": {
		"patch": [{"op": "replace", "path": "/reports/evaluate/metrics/llm.cost_ratio", "value": 1.3}],
		"allow": false, "risk": "low", "codes": {"llm.cost_increase"},
	},
	"cost at the bound passes": {
		"patch": [{"op": "replace", "path": "/reports/evaluate/metrics/llm.cost_ratio", "value": 1.25}],
		"allow": true, "risk": "low", "codes": set(),
	},
	"production exists but nothing compared": {
		"patch": [{"op": "remove", "path": "/reports/evaluate/metrics/llm.delta.pass_rate"}],
		"allow": false, "risk": "low", "codes": {"llm.not_compared"},
	},
	"no production, nothing to compare": {
		"patch": [
			{"op": "replace", "path": "/production", "value": null},
			{"op": "remove", "path": "/reports/evaluate/metrics/llm.delta.pass_rate"},
			{"op": "remove", "path": "/reports/evaluate/metrics/llm.mcnemar.p_value"},
			{"op": "remove", "path": "/reports/evaluate/metrics/llm.cost_ratio"},
		],
		"allow": true, "risk": "low", "codes": set(),
	},
	"many inconclusive cases raise the risk": {
		"patch": [{"op": "replace", "path": "/reports/evaluate/metrics/llm.candidate.inconclusive_share", "value": 0.5}],
		"allow": true, "risk": "medium", "codes": set(),
	},
}

test_llm_decisions if {
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
	c.codes == got
} else := false if {
	print("case failed:", name, "got", d)
}

test_team_settings_move_the_bounds if {
	doc := json.patch(base, [
		{"op": "replace", "path": "/reports/evaluate/metrics/llm.cost_ratio", "value": 1.4},
		{"op": "replace", "path": "/reports/evaluate/metrics/llm.delta.pass_rate", "value": -0.01},
		{"op": "replace", "path": "/reports/evaluate/metrics/llm.mcnemar.p_value", "value": 0.01},
	])
	d := promotion.decision with input as doc with data.modelgate.settings as {"llm": {"max_cost_ratio": 1.5, "max_pass_rate_drop": 0.02}}
	d.allow
	d2 := promotion.decision with input as doc
	{r.code | some r in d2.deny} == {"llm.pass_rate_drop", "llm.cost_increase"}
}
