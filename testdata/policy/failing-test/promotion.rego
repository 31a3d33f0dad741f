package modelgate.promotion

decision := {"allow": true, "deny": [], "require_approval": false, "approvers": {"groups": [], "min": 0}, "risk": "low", "reasons": []}
