package app

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/modelgate/modelgate/agents/assistant"
	"github.com/modelgate/modelgate/internal/llm"
	"github.com/modelgate/modelgate/internal/store"
)

func buildAssistant(o Options, st store.Store, reg prometheus.Registerer) (*assistant.Service, error) {
	cfg := o.LLM
	cfg.Registerer = reg
	client, err := llm.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("assistant: %w", err)
	}
	if client != nil {
		o.Logger.Info("assistant uses an LLM", "base_url", cfg.BaseURL, "model", cfg.Model)
	}
	return assistant.New(assistant.Options{Store: st, LLM: client, Logger: o.Logger}), nil
}

// startAssistant writes a brief when a run starts waiting for reviewers and
// a triage when one fails or rolls back. It works off the coordinator's
// events, after the fact: the run never waits for the assistant, and a
// slow or failing LLM cannot hold up a pipeline. Runs whose event was
// missed show the template forms, computed when read.
func (s *Server) startAssistant(ctx context.Context) {
	if s.o.AssistInline {
		return // run --local calls Assist itself, before it prints the run
	}
	events, done := s.Coordinator.Subscribe("*")
	runs := make(chan string, 256)
	go func() {
		defer done()
		defer close(runs)
		for {
			select {
			case <-ctx.Done():
				return
			case e := <-events:
				if e.Type != "state" || !assistant.Wants(e.State) {
					continue
				}
				select {
				case runs <- e.RunID:
				default:
					s.log.Warn("assistant queue full; the run shows its template brief", "run", e.RunID)
				}
			}
		}
	}()
	go s.Assistant.Watch(ctx, runs)
}
