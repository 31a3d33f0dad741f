package modelgate.promotion

# Never finishes in time: 10^12 iterations over two small ranges.
decision := {"allow": true, "deny": [], "require_approval": false, "approvers": {"groups": [], "min": 0}, "risk": "low", "reasons": []} if {
	n := count([1 |
		some i in numbers.range(1, 1000000)
		some j in numbers.range(1, 1000000)
		i != j
	])
	n > 0
}
