# Promotion rules for LLM candidates.
#
# Rules on the evaluate report of a task: llm run (agents/prompt): the
# eval suite's pass rate compared with production's case by case, the
# cost, and how often the judge could not decide. They add to the
# promotion decision's denials and risk factors; docs/llm.md lists the
# metrics they read.
package modelgate.promotion

# Settings a team may override in its bundle's data.json under
# {"modelgate": {"settings": {"llm": {...}}}}, key by key.
llm_defaults := {
	# A pass-rate drop is significant when the exact McNemar test on the
	# cases decided on both sides gives a p-value below alpha.
	"alpha": 0.05,
	# A significant drop no larger than this (in pass-rate points, 0.02 =
	# two cases in a hundred) is tolerated.
	"max_pass_rate_drop": 0,
	# The candidate may cost at most this multiple of production over the
	# suite (1.25 = 25% more).
	"max_cost_ratio": 1.25,
	# More inconclusive cases than this share (the judge's own noise spans
	# its threshold) raise the risk: a person should read them.
	"max_inconclusive_share": 0.2,
}

llm_settings := object.union(llm_defaults, data.modelgate.settings.llm) if {
	is_object(data.modelgate.settings.llm)
} else := llm_defaults

deny contains {"code": "llm.pass_rate_drop", "message": msg} if {
	d := eval_metrics["llm.delta.pass_rate"]
	d < 0 - llm_settings.max_pass_rate_drop
	p := eval_metrics["llm.mcnemar.p_value"]
	p < llm_settings.alpha
	msg := sprintf("the eval suite's pass rate fell by %v against production (%v -> %v), significant by McNemar (p = %v < %v)", [
		abs(d), eval_metrics["llm.production.pass_rate"], eval_metrics["llm.candidate.pass_rate"], p, llm_settings.alpha,
	])
}

deny contains {"code": "llm.cost_increase", "message": msg} if {
	r := eval_metrics["llm.cost_ratio"]
	r > llm_settings.max_cost_ratio
	msg := sprintf("the candidate costs %v times production over the eval suite (at most %v)", [r, llm_settings.max_cost_ratio])
}

# A production prompt exists but the suite was not compared with it (its
# endpoint not allowed, say): nobody knows whether the candidate is worse.
deny contains {"code": "llm.not_compared", "message": "task llm: production exists but the evaluate report has no llm.delta.pass_rate"} if {
	input.task == "llm"
	input.production != null
	not is_number(object.get(eval_metrics, "llm.delta.pass_rate", null))
}

risk_factors contains {"points": 1, "reason": sprintf("%v%% of the eval cases are inconclusive: the judge's noise spans its threshold", [pct(s)])} if {
	s := eval_metrics["llm.candidate.inconclusive_share"]
	s > llm_settings.max_inconclusive_share
}
