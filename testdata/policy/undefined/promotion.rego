package modelgate.promotion

# Defined only for a model nobody has: undefined for everything else.
decision := {"allow": true, "deny": [], "require_approval": false, "approvers": {"groups": [], "min": 0}, "risk": "low", "reasons": []} if {
	input.model == "no-such-model"
}
