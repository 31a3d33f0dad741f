// Package auth turns bearer tokens into principals. Tokens come from the
// server's configuration; only their SHA-256 digests are kept in memory
// and compared in constant time. What a principal may do is not decided
// here but by policies/authz.rego, through the oversight engine.
package auth
