package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/modelgate/modelgate/agents/assistant"
	"github.com/modelgate/modelgate/internal/auth"
	"github.com/modelgate/modelgate/internal/llm"
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

// ask proposes the command a sentence means; it never runs it. Reading a
// proposal needs only the read right: running it goes through the
// action's own endpoint and its authorization.
func (s *Server) ask(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	if err := s.authorize(r.Context(), p, "read", "", ""); err != nil {
		return err
	}
	var body struct {
		Text string `json:"text"`
	}
	if err := decode(r, &body); err != nil {
		return err
	}
	known, err := assistant.KnownFrom(r.Context(), s.o.Store)
	if err != nil {
		return err
	}
	var c *llm.Client
	if s.o.Assistant != nil {
		c = s.o.Assistant.LLM()
	}
	if c != nil {
		if wait, ok := s.asks.Take(p.Subject, time.Now()); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
			return errorf(http.StatusTooManyRequests, "rate_limited",
				fmt.Sprintf("%s asked %d sentences in the last minute, the most one identity may send to the LLM; try again in %s", p.Subject, assistant.AskPerMinute, wait.Round(time.Second)))
		}
	}
	prop, err := assistant.Ask(r.Context(), c, body.Text, known, time.Now())
	if err != nil {
		return errorf(http.StatusUnprocessableEntity, "not_understood", err.Error())
	}
	writeJSON(w, http.StatusOK, prop)
	return nil
}
