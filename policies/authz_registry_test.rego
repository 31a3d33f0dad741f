package modelgate.authz_registry_test

import data.modelgate.authz

# Moving an alias is an operator's (or admin's) right; every weaker token
# is refused, and a model's scope binds it like a promotion.
registry_principals := {
	"admin": {"subject": "root", "roles": ["admin"]},
	"operator": {"subject": "otto", "roles": ["operator"], "groups": ["sre"]},
	"trainer": {"subject": "tess", "roles": ["trainer"]},
	"ci": {"subject": "ci-bot", "roles": ["ci"]},
	"reviewer": {"subject": "rita", "roles": ["reviewer"]},
	"viewer": {"subject": "vic", "roles": ["viewer"]},
}

# [principal, action, allowed]
registry_cases := [
	["admin", "alias", true],
	["operator", "alias", true],
	["trainer", "alias", false],
	["ci", "alias", false],
	["reviewer", "alias", false],
	["viewer", "alias", false],
	["admin", "annotate", true],
	["operator", "annotate", true],
	["trainer", "annotate", true],
	["ci", "annotate", false],
	["reviewer", "annotate", false],
	["viewer", "annotate", false],
]

test_registry_rights if {
	every c in registry_cases {
		got := authz.allow with input as {"principal": registry_principals[c[0]], "action": c[1], "model": "fraud-detector", "environment": "production"}
		got == c[2]
	}
}

test_alias_is_scoped if {
	scoped := {"model_groups": {"fraud-detector": ["fraud-team"]}}
	not authz.allow with input as {"principal": registry_principals.operator, "action": "alias", "model": "fraud-detector", "environment": "production"}
		with data.modelgate.settings.authz as scoped
	authz.allow with input as {"principal": registry_principals.operator, "action": "alias", "model": "recommender", "environment": "production"}
		with data.modelgate.settings.authz as scoped
}
