// Package demo is `modelgate demo`: the whole pipeline on a bundled
// example (a breast-cancer classifier, XGBoost, from scikit-learn's UCI
// data) with no set-up. It starts a real modelgate server in-process,
// serves the production model behind the gateway, replays the holdout as
// live traffic, and takes two candidates through it:
//
//  1. a better model: validated, tested, scanned, evaluated against
//     production, judged high-risk by the policies, approved by two
//     reviewers, then shadowed, canaried 5/25/50/100 % and promoted;
//  2. the same model with a broken serving upstream (half its answers
//     are 500s): it passes every offline check, is canaried at 5 %, and
//     rolled back automatically with the reason.
//
// Finally it verifies the audit trail.
package demo
