package modelgate.promotion_test

import data.modelgate.promotion

# The bundle's own test catches that it allows everything.
test_denies_without_reports if {
	not promotion.decision.allow with input as {}
}
