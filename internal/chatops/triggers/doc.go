// Package triggers holds what an admin registers for a model so that
// something other than a caller's request can start its runs — a Slack
// deploy, a GitHub push, a schedule, a drift alert — and the one function
// that starts such a run.
//
// The server trusts nothing a trigger carries: a Slack command names a
// model and a registry version, a GitHub delivery names a commit. What the
// run reads comes only from the model's Settings, stored server-side by an
// admin: the pipeline config text and the blob digests of its files (the
// same shape as POST /v1/runs), laid out read-only in a folder the server
// chooses. A deploy swaps in the registry version's artifact blob as the
// candidate; no trigger can name a server path.
//
// Two triggers live here: GitHubHook (POST /webhooks/github: signature →
// delivery claimed once → event → models whose training-code paths
// changed → retraining runs), and Scheduler (each model's cron; every
// tick claimed in the store before its run starts, missed ticks run once
// or skipped). The production monitor, the third, is package monitor.
package triggers
