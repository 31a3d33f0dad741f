// Package training is the training agent: it runs a pipeline's training
// command and reports the artifact it wrote as the run's candidate.
//
// The command is an argv (never a shell) with placeholders
// ({{.ArtifactDir}}, {{.RunID}}, {{.Reference}}, {{.Holdout}},
// {{.BaseDir}}). Each attempt writes into its own folder under the run's
// work dir; output is streamed line by line into the run's log; the
// process group is killed at train.timeout and dies with the server.
package training
