// Package gateway is modelgate's data plane, an HTTP proxy in front of model servers that splits, mirrors and measures each model's traffic.
//
// # Routing
//
// It splits each model's traffic between a stable and a candidate
// version, mirrors a share of it to the candidate, and measures every
// version so that the deployment agent can judge a rollout. It speaks the Open Inference Protocol V2 (/v2/models/{model}/infer) and
// OpenAI-compatible chat completions (/v1/chat/completions, routed by the
// body's "model"). Each model has an immutable RouteTable — stable and
// candidate backends, candidate weight, shadow share, mode — persisted in
// the store and swapped atomically: a request reads the current table
// once and is routed by it to the end.
//
// The split is random, or sticky by a request header (a customer id)
// hashed onto a fixed 10,000-slot ring whose first weight×100 slots
// belong to the candidate, so raising the weight only ever moves clients
// from stable to candidate. A candidate that fails (connection refused,
// 5xx, a body that is not a V2 answer) is counted against the candidate
// and the request is answered by stable instead: clients keep getting
// answers while the rollout's analysis sees the failures and rolls back.
//
// Shadow mirroring copies the request into a bounded queue served by a
// fixed pool of workers; the primary's response is written before the
// mirror is even queued, and a full queue drops the mirror (counted)
// rather than wait. Each pair is compared: same class per row (score ≥
// threshold for one output, argmax for several), |Δscore|, both latencies.
//
// # Chat completions
//
// A chat request with "stream": true is passed through event by event,
// each flushed as it arrives (stream.go), and timed to its first token;
// every chat answer's usage is counted, and a malformed one is the
// version's error. Shadow copies ask for the whole answer, which is
// compared with production's: exact, normalised and token F1 (the eval
// suite's llmeval functions). A backend may be a prompt version
// (prompt.go): the approved prompt's model, system message and
// parameters are applied to every request, and it is served only when
// Options.PromptUpstreams allows its URL.
//
// # Measurements
//
// Measurements are kept per version as exact counters plus the most
// recent 32,768 latencies and scores. A Mark is a point in those counters
// as plain data; Stats(model, version, mark) measures from it, which is
// how a rollout measures "this step's window" and keeps doing so after a
// restart. A reservoir keeps a uniform sample of request rows for drift
// monitoring, parsing only the requests that may enter it.
//
// Stats are per gateway process. To judge a rollout on several replicas,
// each publishes a Window (Publish, into a WindowStore): exact counters,
// a log-linear latency Histogram (16 buckets per power of two, so within
// 6.25 %) and its most recent scores, all cumulative since it started.
// Windows of one gateway subtract to the traffic between them; windows of
// several gateways merge (MergeVersion, MergeShadow) by summing counts and
// histograms and pooling samples, never by averaging per-gateway figures.
// The request path only adds to a fixed array under the lock it already
// holds: publishing costs the request path no allocation.
package gateway
