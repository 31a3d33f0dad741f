// Package demo is `modelgate demo`: the whole pipeline on a bundled
// example (a breast-cancer classifier, XGBoost, from scikit-learn's UCI
// data) with no set-up. It starts a real modelgate server in-process,
// serves the production model behind the gateway, replays the holdout as
// live traffic, and takes two candidates through it:
//
//  1. a better model: validated, tested, scanned, evaluated against
//     production, judged high-risk by the policies, approved by one
//     reviewer (the commit author's own approval is refused), then
//     shadowed, canaried 5/25/50/100 % and promoted;
//  2. a model whose serving upstream reads the features in the wrong
//     order: it passes every offline check, agrees with production on
//     about half the shadowed rows, and is rolled back automatically,
//     with the reason, before any client sees one of its answers.
//
// Finally it verifies the audit trail.
package demo
