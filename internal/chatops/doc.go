// Package chatops is modelgate in Slack: the /modelgate slash command
// (POST /slack/commands), the Approve / Reject / Open buttons of approval
// messages (POST /slack/interactions), and the notifications of run events
// to a model's channel and outgoing webhooks.
//
// Every request is checked in the same order, and nothing after a failed
// step runs:
//
//	signature (v0 HMAC-SHA256 of v0:timestamp:body, 5-minute window)
//	  → replay (the signature claimed once in the store)
//	  → parse (form, command text or interaction payload)
//	  → identity (the Slack user id must be in the tokens file)
//	  → acknowledge (within Slack's 3 s) → authorize (policies/authz.rego)
//	  → act (the same queue, coordinator and deployment agent the API uses)
//	  → reply (response_url, or chat.update of the approval message)
//
// A Slack user acts as the modelgate principal the tokens file maps them
// to, with that principal's roles and groups; chat-ops grants nothing the
// API would not. Every accepted command and every refusal is audited.
package chatops
