# METADATA
# title: Authorization
# description: |
#   Who may do what. The HTTP API, the reviewers' page, Slack and the CLI all
#   ask data.modelgate.authz.allow with
#   {"principal": {"subject", "roles", "groups"}, "action", "model", "environment"}.
#   Anything not allowed here is refused.
package modelgate.authz

actions := {"trigger", "upload", "train", "train_network", "approve", "reject", "promote", "rollback", "abort", "reload", "read", "configure", "work", "blob_read", "alias", "annotate"}

# "work" takes a stage task from the task stream and stores its report;
# "blob_read" fetches a blob by digest (a run's inputs). They are the
# worker role's only actions: a worker token reads no run, approval, audit
# entry or setting, and can approve, promote or configure nothing, so a
# stolen worker token is worth the tasks it could take, no more.

# "alias" moves a registry alias (champion, challenger, any name) to a
# version: what other systems resolve as "the champion" changes, so it is
# an operator's right, scoped by model and environment like a promotion.
# "annotate" sets a version's description and tags, which change nothing
# that serves; trainers and operators have it.

# "configure" sets a model's triggers and notifications (PUT
# /v1/models/{name}/settings: the registered pipeline that Slack deploys,
# GitHub pushes and schedules run, the Slack channel, the webhooks). Only
# admin has it by default: a registered pipeline runs later with nobody
# there to ask.

# What each role may do. admin may do everything, including reloading the
# policies; nobody else may reload them. "train" is asked for, besides
# "trigger", by a run whose config has a train section: it runs a command
# on the server (in a sandbox), so ci tokens do not get it by default;
# "train_network" is asked for when the train section wants the network
# (train.network: true), and only admin has it by default. "upload" hands
# the server files (PUT /v1/blobs): the run's inputs, which run nothing
# by themselves.
role_actions := {
	"admin": actions,
	"ci": {"trigger", "upload", "read"},
	"trainer": {"trigger", "upload", "train", "read", "annotate"},
	"reviewer": {"approve", "reject", "read"},
	"operator": {"trigger", "upload", "promote", "rollback", "abort", "read", "alias", "annotate"},
	"viewer": {"read"},
	"worker": {"work", "blob_read"},
}

# Scopes a team may set in data.json under {"modelgate": {"settings": {"authz": {...}}}}:
#   model_groups:       {"fraud-detector": ["fraud-team"]} - only these groups act on the model
#   environment_groups: {"production": ["sre", "ml-leads"]} - only these groups change the environment
# Reading is never scoped; admin is never scoped.
default scopes := {}

scopes := data.modelgate.settings.authz if is_object(data.modelgate.settings.authz)

default allow := false

allow if {
	"admin" in principal_roles
	input.action in actions
	non_empty_string(input.principal.subject)
}

allow if {
	non_empty_string(input.principal.subject)
	input.action in actions
	some role in principal_roles
	input.action in role_actions[role]
	model_in_scope
	environment_in_scope
}

principal_roles contains role if {
	some role in input.principal.roles
	is_string(role)
}

principal_groups contains g if {
	some g in input.principal.groups
	is_string(g)
}

model_in_scope if input.action == "read"

model_in_scope if not scopes.model_groups[input.model]

model_in_scope if {
	some g in scopes.model_groups[input.model]
	g in principal_groups
}

environment_in_scope if input.action == "read"

environment_in_scope if not scopes.environment_groups[input.environment]

environment_in_scope if {
	some g in scopes.environment_groups[input.environment]
	g in principal_groups
}

non_empty_string(s) if {
	is_string(s)
	trim_space(s) != ""
}
