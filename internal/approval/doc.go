// Package approval is the queue of human decisions a run waits for.
//
// # What it holds
//
// When the policy asks for reviewers, the coordinator opens an approval
// request: which groups may decide, how many approvals it needs, when it
// expires. Reviewers approve or reject it from the web page, Slack or the
// CLI; every decision is authorized by policies/authz.rego, the requester
// and the commit author may not approve their own candidate, and a
// decision is counted once however many arrive at the same time (the
// store's compare-and-swap).
//
// # Ending
//
// An approval ends with its run (a cancelled run's request cannot be
// approved later) and expires when listed past its deadline, so the queue
// never shows as pending what can no longer be decided.
package approval
