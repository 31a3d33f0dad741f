// Package llm is modelgate's one way out to a language model: an
// OpenAI-compatible chat-completions client (OpenAI, vLLM, Ollama,
// llama.cpp server, LM Studio) built on langchaingo, with what a pipeline
// needs around it: a timeout per request, retries with backoff that honour
// Retry-After, a token budget per run, token and cost accounting per run
// and in Prometheus, and an egress guard that masks credentials in every
// message and refuses a request body that still looks like it carries one.
//
// The package never decides anything. Callers (agents/assistant) build the
// messages from aggregates and ids only, and treat everything that comes
// back as untrusted text to be checked against the evidence. A nil *Client
// is valid and means "no LLM configured": every method then returns
// ErrDisabled, and callers fall back to their deterministic templates.
package llm
