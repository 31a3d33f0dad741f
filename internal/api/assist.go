package api

import (
	"context"
	"errors"
	"fmt"

	"github.com/modelgate/modelgate/agents/assistant"
	"github.com/modelgate/modelgate/internal/store"
)

// ApprovalView is an approval request with its reviewer brief.
type ApprovalView struct {
	store.Approval
	Brief *assistant.Brief `json:"brief,omitempty"`
}

// withAssist adds the brief, the triage and the LLM usage to a run's view:
// what the assistant stored, else the template forms computed now, so that
// every report has a brief whether or not an LLM is configured.
func withAssist(ctx context.Context, st store.Store, v *RunView) error {
	brief, tri, usage, err := assistant.View(ctx, st, v.Run)
	if err != nil {
		return fmt.Errorf("brief of run %s: %w", v.ID, err)
	}
	v.Brief, v.Triage, v.AssistUsage = brief, tri, usage
	return nil
}

// approvalViews attaches each approval's brief (its run's). A run gone
// from the store leaves its approval without one rather than failing the
// list.
func (s *Server) approvalViews(ctx context.Context, as []store.Approval) ([]ApprovalView, error) {
	out := make([]ApprovalView, 0, len(as))
	briefs := map[string]*assistant.Brief{}
	for _, a := range as {
		b, seen := briefs[a.RunID]
		if !seen {
			run, err := s.o.Store.RunGet(ctx, a.RunID)
			switch {
			case errors.Is(err, store.ErrNotFound):
			case err != nil:
				return nil, err
			default:
				if b, _, _, err = assistant.View(ctx, s.o.Store, run); err != nil {
					return nil, fmt.Errorf("brief of approval %s: %w", a.ID, err)
				}
			}
			briefs[a.RunID] = b
		}
		out = append(out, ApprovalView{Approval: a, Brief: b})
	}
	return out, nil
}
