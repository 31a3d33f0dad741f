// Package llmeval runs eval suites (promptfoo-style YAML cases with
// variables, tags and assertions) against a prompt template and compares
// a candidate's results with production's, case by case.
//
// It is pure: it calls models only through the Completer it is given, so
// every number it reports can be checked against a hand-computed oracle.
// The judge of llm-rubric assertions is asked k times per case; its own
// noise (agreement, variance) is reported, and a verdict the noise cannot
// separate is inconclusive rather than pass or fail.
package llmeval
