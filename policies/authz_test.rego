package modelgate.authz_test

import data.modelgate.authz

principals := {
	"admin": {"subject": "root", "roles": ["admin"], "groups": []},
	"ci": {"subject": "ci-bot", "roles": ["ci"], "groups": []},
	"trainer": {"subject": "tess", "roles": ["trainer"], "groups": []},
	"reviewer": {"subject": "rita", "roles": ["reviewer"], "groups": ["ml-reviewers"]},
	"fraud_reviewer": {"subject": "fred", "roles": ["reviewer"], "groups": ["fraud-team"]},
	"operator": {"subject": "otto", "roles": ["operator"], "groups": ["sre"]},
	"viewer": {"subject": "vic", "roles": ["viewer"], "groups": []},
	"nobody": {"subject": "nemo", "roles": [], "groups": []},
	"anonymous": {"roles": ["admin"]},
	"unknown_role": {"subject": "eve", "roles": ["superuser"]},
	"roles_not_a_list": {"subject": "eve", "roles": "admin"},
}

# [principal, action, model, environment, allowed]
cases := [
	["admin", "reload", "", "", true],
	["admin", "approve", "fraud-detector", "production", true],
	["admin", "delete", "fraud-detector", "production", false],
	["ci", "trigger", "fraud-detector", "production", true],
	["ci", "read", "fraud-detector", "production", true],
	["ci", "approve", "fraud-detector", "production", false],
	["ci", "promote", "fraud-detector", "production", false],
	["ci", "reload", "", "", false],
	["ci", "train", "fraud-detector", "production", false],
	["trainer", "train", "fraud-detector", "production", true],
	["trainer", "trigger", "fraud-detector", "production", true],
	["trainer", "approve", "fraud-detector", "production", false],
	["operator", "train", "fraud-detector", "production", false],
	["admin", "train", "fraud-detector", "production", true],
	["ci", "upload", "", "", true],
	["trainer", "upload", "", "", true],
	["operator", "upload", "", "", true],
	["reviewer", "upload", "", "", false],
	["viewer", "upload", "", "", false],
	["trainer", "train_network", "fraud-detector", "production", false],
	["ci", "train_network", "fraud-detector", "production", false],
	["admin", "train_network", "fraud-detector", "production", true],
	["reviewer", "approve", "recommender", "production", true],
	["reviewer", "reject", "recommender", "production", true],
	["reviewer", "rollback", "recommender", "production", false],
	["reviewer", "reload", "", "", false],
	["operator", "rollback", "recommender", "production", true],
	["operator", "abort", "recommender", "production", true],
	["operator", "promote", "recommender", "staging", true],
	["operator", "approve", "recommender", "staging", false],
	["viewer", "read", "recommender", "production", true],
	["viewer", "trigger", "recommender", "staging", false],
	["nobody", "read", "recommender", "production", false],
	["anonymous", "read", "recommender", "production", false],
	["unknown_role", "read", "recommender", "production", false],
	["roles_not_a_list", "reload", "", "", false],
	["admin", "configure", "fraud-detector", "", true],
	["operator", "configure", "fraud-detector", "", false],
	["ci", "configure", "fraud-detector", "", false],
]

test_role_table if {
	every c in cases {
		got := authz.allow with input as {"principal": principals[c[0]], "action": c[1], "model": c[2], "environment": c[3]}
		expect(c, got)
	}
}

expect(c, got) if got == c[4]

else := false if print("case failed:", c, "got", got)

scoped := {
	"model_groups": {"fraud-detector": ["fraud-team"]},
	"environment_groups": {"production": ["sre", "fraud-team"]},
}

test_model_scope if {
	allowed := authz.allow with input as {"principal": principals.fraud_reviewer, "action": "approve", "model": "fraud-detector", "environment": "staging"}
		with data.modelgate.settings.authz as scoped
	allowed
	refused := authz.allow with input as {"principal": principals.reviewer, "action": "approve", "model": "fraud-detector", "environment": "staging"}
		with data.modelgate.settings.authz as scoped
	not refused
}

test_environment_scope if {
	refused := authz.allow with input as {"principal": principals.reviewer, "action": "approve", "model": "recommender", "environment": "production"}
		with data.modelgate.settings.authz as scoped
	not refused
	allowed := authz.allow with input as {"principal": principals.operator, "action": "rollback", "model": "recommender", "environment": "production"}
		with data.modelgate.settings.authz as scoped
	allowed
}

test_reading_is_never_scoped if {
	authz.allow with input as {"principal": principals.viewer, "action": "read", "model": "fraud-detector", "environment": "production"}
		with data.modelgate.settings.authz as scoped
}

test_admin_is_never_scoped if {
	authz.allow with input as {"principal": principals.admin, "action": "promote", "model": "fraud-detector", "environment": "production"}
		with data.modelgate.settings.authz as scoped
}

test_missing_input_refuses if {
	not authz.allow with input as {}
	not authz.allow with input as {"action": "read"}
	not authz.allow with input as {"principal": principals.admin}
}
