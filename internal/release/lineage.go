package release

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"runtime"
	"runtime/debug"
	"slices"

	"github.com/modelgate/modelgate/internal/config"
	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/tools/redact"
	"github.com/modelgate/modelgate/tools/sign"
)

// commitLabels are the run labels a CI job or a GitHub push uses for the
// commit SHA, in the order they are trusted.
var commitLabels = []string{"commit", "sha", "git_sha", "git_commit"}

// LineageOf gathers, from what the store holds of the producing run, where
// a version came from: the digests of the data files it read and of its
// config, the commit and who made it, the training command and
// environment (masked), the toolchain, every stage's metrics, and the
// policy decision and approvals that let it in. It is called when the
// version is registered, so the files hashed are the ones the run read.
func LineageOf(ctx context.Context, s store.Store, runID string) (*store.Lineage, error) {
	run, err := s.RunGet(ctx, runID)
	if err != nil {
		return nil, fmt.Errorf("lineage of run %s: %w", runID, err)
	}
	l := &store.Lineage{CommitAuthor: run.CommitAuthor, Requester: run.Requester, Trigger: run.Trigger,
		Decision: run.Decision, Toolchain: map[string]string{"go": runtime.Version()}}
	if bi, ok := debug.ReadBuildInfo(); ok {
		l.Toolchain["modelgate"] = bi.Main.Version
	}
	for _, k := range commitLabels {
		if v := run.Labels[k]; v != "" {
			l.Commit = v
			break
		}
	}
	if v := run.Labels["image"]; v != "" {
		l.Toolchain["image"] = v
	}
	if len(run.Config) > 0 {
		sum := sha256.Sum256(run.Config)
		l.ConfigDigest = "sha256:" + hex.EncodeToString(sum[:])
		if cfg, err := config.Parse("modelgate.yaml", run.Config); err == nil {
			l.Data = dataDigests(run.BaseDir, cfg.Data)
			if cfg.Train != nil && len(cfg.Train.Env) > 0 {
				l.Env = make(map[string]string, len(cfg.Train.Env))
				for k, v := range cfg.Train.Env {
					l.Env[k] = maskEnv(k, v)
				}
			}
		}
	}
	if len(run.Decision) > 0 {
		var d struct {
			PolicyRevision string `json:"policy_revision"`
		}
		if json.Unmarshal(run.Decision, &d) == nil {
			l.PolicyRevision = d.PolicyRevision
		}
	}
	stages, err := s.StageList(ctx, runID)
	if err != nil {
		return nil, fmt.Errorf("lineage of run %s: %w", runID, err)
	}
	for _, st := range stages {
		if len(st.Report) == 0 {
			continue
		}
		var rep struct {
			Metrics map[string]float64 `json:"metrics"`
			Details struct {
				Argv    []string `json:"argv"`
				Sandbox string   `json:"sandbox"`
			} `json:"details"`
		}
		if json.Unmarshal(st.Report, &rep) != nil {
			continue
		}
		for k, v := range rep.Metrics {
			if l.Evidence == nil {
				l.Evidence = map[string]float64{}
			}
			l.Evidence[st.Name+"."+k] = v
		}
		if st.Name == "train" && len(rep.Details.Argv) > 0 {
			l.Command = make([]string, len(rep.Details.Argv))
			for i, a := range rep.Details.Argv {
				l.Command[i] = redact.String(a)
			}
			if rep.Details.Sandbox != "" {
				l.Toolchain["sandbox"] = rep.Details.Sandbox
			}
		}
	}
	as, err := s.ApprovalList(ctx, store.ApprovalListParams{RunID: runID})
	if err != nil {
		return nil, fmt.Errorf("lineage of run %s: %w", runID, err)
	}
	for _, a := range slices.Backward(as) { // oldest first
		l.Approvals = append(l.Approvals, store.LineageApproval{ID: a.ID, State: string(a.State), Risk: a.Risk, Votes: a.Votes, DecidedAt: a.DecidedAt})
	}
	return l, nil
}

// dataDigests hashes each dataset file the run names; one that cannot be
// read (gone, or a folder) is left out rather than given a digest it
// does not have.
func dataDigests(baseDir string, d config.Data) map[string]string {
	files := map[string]string{"reference": d.Reference, "holdout": d.Holdout, "current": d.Current}
	out := map[string]string{}
	for _, role := range slices.Sorted(maps.Keys(files)) {
		if files[role] == "" {
			continue
		}
		if digest, _, err := sign.FileDigest(config.Resolve(baseDir, files[role])); err == nil {
			out[role] = digest
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// maskEnv masks a value the way a log line "K=V" would be masked: by the
// name (API_KEY=…) or by the value (a token's shape).
func maskEnv(k, v string) string {
	if line := k + "=" + v; redact.String(line) != line || redact.String(v) != v {
		return "***"
	}
	return v
}
