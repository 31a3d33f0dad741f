// Package ui is the reviewers' web page that `modelgate server` serves at
// /ui: the runs and their state, each run's reports (metrics against
// production with confidence intervals, drift per column, findings by
// severity), the policy decision with its reasons and revision, and the
// approval queue with Approve / Reject and a comment.
//
// It is server-rendered with html/template (contextual escaping everywhere)
// and uses no JavaScript, so the Content-Security-Policy forbids scripts
// outright. A reviewer signs in with an API token; the page then keeps a
// session in an HMAC-signed cookie (HttpOnly, SameSite=Strict, Secure over
// TLS) that carries the principal, an expiry and a per-session CSRF token
// that every form must echo. The sign-in form itself is protected by a
// double-submit token. Who may read and vote is decided by the policy
// engine (authz.rego); the approval queue enforces the approval rules.
package ui
