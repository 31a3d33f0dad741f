// Package config parses and validates the pipeline file, modelgate.yaml,
// and the server's settings.
//
// Parsing is strict: every key is checked against the Go types before
// decoding, so a misspelt key is an error naming its line and column rather
// than a silently ignored setting. Validation collects every problem in one
// pass so that a user fixes the file once, not once per error.
//
// Each section of the pipeline file lives in its own file here
// (validation.go, evaluation.go, security.go, deploy.go) next to the
// defaults and checks that belong to it.
package config
