// Package prompt runs the validate, test, scan and evaluate stages for a
// prompt candidate (task: llm): an OpenAI-compatible endpoint plus a
// prompt file, judged on an eval suite against the prompt in production.
//
// Wrap puts it in front of each stage's tabular agent, so a pipeline's
// task decides which runs and the coordinator needs no second stage graph.
// Every endpoint (the prompt's, production's, the judge's) must be on the
// operator's allowlist: the prompt file and the suite are the submitter's.
package prompt
