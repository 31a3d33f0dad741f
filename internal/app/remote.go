package app

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/charmbracelet/log"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/agents/evaluation"
	"github.com/modelgate/modelgate/agents/prompt"
	"github.com/modelgate/modelgate/agents/security"
	testagent "github.com/modelgate/modelgate/agents/testing"
	"github.com/modelgate/modelgate/agents/training"
	"github.com/modelgate/modelgate/agents/validation"
	"github.com/modelgate/modelgate/coordinator"
	"github.com/modelgate/modelgate/internal/sandbox"
	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/internal/taskq"
	"github.com/modelgate/modelgate/internal/taskq/work"
)

// RemoteOptions sends stages to workers (`modelgate worker`) instead of
// running their agents in the server (docs/scale-out.md).
type RemoteOptions struct {
	// Stages go to workers (--remote-stages); empty = every agent runs in
	// the server, the default. Only validate, test, scan and evaluate may.
	Stages []string
	// ClaimIdle is how long a task handed to a worker may go unreported
	// before another worker may take it (--task-claim-idle); default 2 min.
	ClaimIdle time.Duration
	// MaxDeliveries is how often a task may be handed out before it is
	// dead-lettered and its stage fails (--task-max-deliveries); default 5.
	MaxDeliveries int64
}

// RemoteCapable are the stages a worker can run. Deployment stays on the
// server: it drives the routes and holds the deploy lease
// (docs/scale-out.md says why).
var RemoteCapable = []string{coordinator.StageValidate, coordinator.StageTrain, coordinator.StageTest, coordinator.StageScan, coordinator.StageEvaluate}

// StageAgents are the agents of the stages a worker can run, built as the
// server builds them: a worker runs the very same code.
// task: llm stages get the prompt agents with po (a worker calls the
// endpoints its own operator allowed, not the server's).
func StageAgents(lg *log.Logger, po prompt.Options) map[string]agents.Agent {
	as := map[string]agents.Agent{
		coordinator.StageValidate: validation.New(),
		coordinator.StageTest:     testagent.New(testagent.Options{Predictor: predictorForTask}),
		coordinator.StageScan:     security.New(security.Options{Logger: lg}),
		coordinator.StageEvaluate: evaluation.New(evaluation.Options{}),
	}
	wrapPromptStages(as, po)
	return as
}

// WorkerTraining is the training agent of a worker: inside bubblewrap as
// on a server (ro are extra read-only folders, --train-ro-bind), its
// output lines in the worker's log. A worker without a working bwrap
// cannot train.
func WorkerTraining(ctx context.Context, lg *log.Logger, ro []string) (agents.Agent, error) {
	b, err := sandbox.Find(ctx, ro)
	if err != nil {
		return nil, fmt.Errorf("training on a worker runs in bubblewrap, as on a server: %w", err)
	}
	return training.New(training.Options{Runner: b, Logs: logLines{lg}, Logger: lg}), nil
}

// logLines writes a training command's output to a worker's log (the
// server's `modelgate logs` does not see a worker's training output).
type logLines struct{ lg *log.Logger }

func (l logLines) LogAppend(_ context.Context, p store.LogAppendParams) error {
	for _, line := range p.Lines {
		l.lg.Info("train", "run", p.RunID, "line", line)
	}
	return nil
}

// remoteStages replaces the agents of the remote stages with ones that
// publish tasks; a store that is not Redis cannot carry them.
func (s *Server) remoteStages(ctx context.Context, o Options, as map[string]agents.Agent) error {
	r := o.Remote
	if len(r.Stages) == 0 {
		return nil
	}
	if !sharedStore(o.StoreURL) {
		return fmt.Errorf("--remote-stages needs a Redis store (--store redis://…): workers take their tasks from Redis Streams")
	}
	for _, st := range r.Stages {
		if !slices.Contains(RemoteCapable, st) {
			return fmt.Errorf("--remote-stages: %q cannot run on a worker (these can: %v)", st, RemoteCapable)
		}
	}
	if r.ClaimIdle <= 0 {
		r.ClaimIdle = 2 * time.Minute
	}
	q, err := taskq.Open(ctx, taskq.Options{URL: o.StoreURL, Prefix: o.StorePrefix, ClaimIdle: r.ClaimIdle, MaxDeliveries: r.MaxDeliveries,
		Alert: s.deadLettered})
	if err != nil {
		return fmt.Errorf("task queue: %w", err)
	}
	s.closers = append(s.closers, q.Close)
	s.Tasks = q
	inputs := &coordinator.InputDigests{}
	for _, st := range r.Stages {
		a, ok := as[st]
		if !ok {
			continue
		}
		rem, err := coordinator.NewRemote(coordinator.RemoteOptions{Name: a.Name(), Queue: q, Store: s.Store, Blobs: s.Blobs, Inputs: inputs})
		if err != nil {
			return err
		}
		as[st] = rem
	}
	s.log.Info("stages run on workers", "stages", r.Stages, "claim_idle", r.ClaimIdle)
	return nil
}

// deadLettered hears of a task given up on: it is audited, and its stage
// gets a result saying so (first-write-wins, like a worker's), so the
// coordinator waiting on it fails the stage with the reason instead of
// waiting for its timeout.
func (s *Server) deadLettered(ctx context.Context, d taskq.DeadLetter) {
	s.log.Error("stage task given up on (dead-lettered)", "stage", d.Stage, "run", d.Task.RunID, "deliveries", d.Deliveries, "reason", d.Reason)
	if err := s.Trail.Record(ctx, "task.dead_lettered", d.Task.RunID, "modelgate", map[string]any{
		"stage": d.Stage, "attempt": d.Task.Attempt, "entry": d.EntryID, "deliveries": d.Deliveries, "reason": d.Reason}); err != nil {
		s.log.Error("audit record failed", "type", "task.dead_lettered", "err", err)
	}
	if d.Task.RunID == "" || s.Tasks == nil {
		return // an entry that did not decode names no stage to fail
	}
	raw, _ := json.Marshal(work.Result{DeadLetter: true, Worker: "modelgate",
		Error: fmt.Sprintf("%s (entry %s of the %s stream)", d.Reason, d.EntryID, d.Stage)})
	if err := s.Tasks.ResultPut(ctx, d.Task.Key(), raw); err != nil && err != taskq.ErrReported {
		s.log.Error("record dead-lettered task's result", "err", err)
	}
}
