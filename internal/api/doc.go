// Package httpapi is modelgate's HTTP API under /v1: runs, approvals,
// models (registry, rollback), audit and policies, plus /healthz, /readyz
// and /metrics. Every /v1 endpoint needs a bearer token; what the token's
// principal may do is asked of the policy engine (policies/authz.rego),
// never hard-coded here. Errors are {"error":{"code","message"}}.
//
// The routes are one table (routes.go) from which both the mux and the
// test that compares them with the OpenAPI document (openapi.json) are
// built, so the two cannot drift apart unnoticed.
package api
