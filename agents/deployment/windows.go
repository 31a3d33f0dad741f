package deployment

import (
	"context"
	"fmt"
	"math"
	"strings"
)

// windowKeyPrefix names the Done entry of the last audited analysis
// window; only the latest is kept, since windows follow one another and a
// resumed rollout can only repeat the one it was judging.
const windowKeyPrefix = "audit.window."

// recordWindow audits one analysis window's verdict (deploy.analysed), so
// that whoever follows the run (--wait, the event stream, the trail) sees
// every window as it is judged, not only the steps and the final outcome.
// It must be called after addHistory and before the state is saved; the
// Done entry keeps a resumed rollout from auditing the same window twice.
func (r *rollout) recordWindow(ctx context.Context, res StepResult) error {
	st := r.st()
	key := fmt.Sprintf("%s%s.%d.%d", windowKeyPrefix, res.Phase, res.Step, st.WindowStart.UnixNano())
	if st.Done[key] {
		return nil
	}
	an := res.Analysis
	checks := make([]map[string]any, 0, len(an.Measurements))
	for _, m := range an.Measurements {
		c := map[string]any{"check": m.Check, "phase": m.Phase.String(), "value": finiteOrNil(m.Value)}
		if m.Limit != "" {
			c["limit"] = m.Limit
		}
		checks = append(checks, c)
	}
	data := map[string]any{
		"model": st.Model, "candidate": st.Candidate.Version, "phase": res.Phase,
		"step": res.Step, "weight": res.Weight, "verdict": an.Phase.String(),
		"candidate_requests": an.Candidate.Requests, "candidate_errors": an.Candidate.Errors,
		"stable_requests": an.Stable.Requests, "checks": checks,
	}
	if res.Shadow != nil {
		data["compared"] = res.Shadow.Compared
		data["agreement"] = res.Shadow.Agreement
		if c := res.Shadow.Chat; c != nil {
			data["mean_f1"], data["exact_share"], data["normalised_share"] = c.MeanF1, c.ExactShare, c.NormalisedShare
		}
	}
	if err := r.a.record(ctx, "deploy.analysed", st.RunID, r.a.opts.Actor, data); err != nil {
		return err
	}
	for k := range st.Done {
		if strings.HasPrefix(k, windowKeyPrefix) {
			delete(st.Done, k)
		}
	}
	st.Done[key] = true
	return nil
}

// finiteOrNil keeps NaN and infinities out of the audit entry, which is
// JSON (a check that could not be computed says so in its phase).
func finiteOrNil(v float64) any {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return v
}
