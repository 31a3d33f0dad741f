package coordinator

import (
	"context"
	"errors"
	"fmt"

	"github.com/modelgate/modelgate/internal/store"
)

// RepromoteParams promotes a registered version again: the run that
// produced it is replayed with its stored evidence, and judged anew.
type RepromoteParams struct {
	Model     string
	Version   string
	Requester string
	Reason    string
}

// ErrNotRepromotable is returned for a version whose producing run cannot
// be replayed (it is gone, did not succeed, or made another artifact).
var ErrNotRepromotable = errors.New("version cannot be promoted again")

// Repromote starts a run for an earlier version of a model as for a new
// candidate, except that the stages that measured it are not run again:
// their stored reports are the evidence. The policy the server runs now
// decides it (with today's rules, approvals and rollout), the commit
// author of the version still may not approve it, and the deploy stage
// serves the very artifact the version's digest names. It returns the new
// run, queued.
func (c *Coordinator) Repromote(ctx context.Context, p RepromoteParams) (store.Run, error) {
	v, err := c.o.Store.ModelVersionGet(ctx, p.Model, p.Version)
	if err != nil {
		return store.Run{}, fmt.Errorf("version %s of %s: %w", p.Version, p.Model, err)
	}
	if v.RunID == "" {
		return store.Run{}, fmt.Errorf("%w: version %s of %s was registered without a run", ErrNotRepromotable, p.Version, p.Model)
	}
	orig, err := c.o.Store.RunGet(ctx, v.RunID)
	if err != nil {
		return store.Run{}, fmt.Errorf("%w: the run %s that produced %s: %v", ErrNotRepromotable, v.RunID, p.Version, err)
	}
	if orig.Model != p.Model || orig.Candidate.Digest == "" || orig.Candidate.Digest != v.Digest {
		return store.Run{}, fmt.Errorf("%w: run %s recorded candidate %q, the registry holds %q", ErrNotRepromotable, orig.ID, orig.Candidate.Digest, v.Digest)
	}
	stages, err := c.o.Store.StageList(ctx, orig.ID)
	if err != nil {
		return store.Run{}, err
	}
	var evidence []store.Stage
	for _, st := range stages {
		switch st.Name {
		case StageDecide, StageDeploy, StageAssist:
			continue // decided again, rolled out again, explained again
		}
		if st.State != store.StageSucceeded && st.State != store.StageSkipped {
			return store.Run{}, fmt.Errorf("%w: its %s stage ended %s", ErrNotRepromotable, st.Name, st.State)
		}
		evidence = append(evidence, st)
	}
	labels := map[string]string{}
	for k, val := range orig.Labels {
		labels[k] = val
	}
	labels["registry.version"] = p.Version
	labels["registry.evidence_run"] = orig.ID
	if p.Reason != "" {
		labels["registry.reason"] = p.Reason
	}
	run, _, err := c.Submit(ctx, SubmitParams{Config: orig.Config, File: "config", BaseDir: orig.BaseDir, Trigger: "registry",
		Requester: p.Requester, CommitAuthor: orig.CommitAuthor, Labels: labels, Evidence: evidence})
	return run, err
}
