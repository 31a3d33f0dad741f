// Package app assembles one modelgate process from its parts: the
// embedded store, the audit trail, the policy engine and approval queue,
// the agents, the coordinator, the gateway, the HTTP API and the
// reviewers' page. `modelgate server`, `modelgate run --local` and
// `modelgate demo` all build through here, so they run the same code.
//
// Data directory layout (default ./modelgate-data):
//
//	modelgate.db       SQLite store (WAL)
//	audit.key(.pub)    Ed25519 key that signs audit checkpoints
//	tokens.yaml        API token digests (admin, ci and two reviewers made on first start)
//	initial-tokens.yaml  the first start's plain tokens, for the operator to copy and delete
//	session.key        HMAC key of the reviewers' page sessions
//	runs/<id>/         per-run scratch: trained artifacts, reports
package app
