package coordinator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/internal/config"
	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/tools/redact"
	"github.com/modelgate/modelgate/tools/sign"
)

// stage runs one agent stage unless it already succeeded in an earlier
// life of this run, or is skipped.
func (c *Coordinator) stage(ctx context.Context, run store.Run, done map[string]store.Stage, name string, cfg *config.Pipeline, t agents.Task) error {
	if s, ok := done[name]; ok && (s.State == store.StageSucceeded || s.State == store.StageSkipped) {
		return nil
	}
	agent, ok := c.o.Agents[name]
	if !ok || cfg.Skips(name) {
		s := store.Stage{RunID: run.ID, Name: name, State: store.StageSkipped}
		c.putStage(ctx, s)
		done[name] = s
		c.publish(Event{RunID: run.ID, Type: "stage", Stage: name, StageState: store.StageSkipped})
		return nil
	}
	timeout := cfg.Stages.Timeout.Duration
	if name == StageTrain {
		timeout = 0 // the training agent enforces train.timeout and kills the process group itself
	}
	rep, err := c.runAgent(ctx, run, name, agent, t, timeout, done[name].Attempt)
	if err != nil {
		return err
	}
	raw, _ := json.Marshal(rep)
	done[name] = store.Stage{RunID: run.ID, Name: name, State: store.StageSucceeded, Verdict: string(rep.Verdict), Report: raw}
	return nil
}

// parallel runs the independent stages side by side. The first agent
// that cannot run cancels its siblings: the run fails either way and
// there is no point spending their time.
func (c *Coordinator) parallel(ctx context.Context, run store.Run, done map[string]store.Stage, cfg *config.Pipeline, task func(string) agents.Task) error {
	parent := ctx
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	local := map[string]store.Stage{}
	for _, name := range ParallelStages {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := map[string]store.Stage{}
			mu.Lock()
			if s, ok := done[name]; ok {
				mine[name] = s
			}
			mu.Unlock()
			if err := c.stage(ctx, run, mine, name, cfg, task(name)); err != nil {
				mu.Lock()
				// a sibling's cancellation is not news; the sibling's error is
				if !errors.Is(err, context.Canceled) || parent.Err() != nil {
					errs = append(errs, err)
				}
				mu.Unlock()
				cancel(err)
				return
			}
			mu.Lock()
			local[name] = mine[name]
			mu.Unlock()
		}()
	}
	wg.Wait()
	for k, v := range local {
		done[k] = v
	}
	return errors.Join(errs...)
}

// runAgent calls an agent with a per-attempt timeout (0 = none), retrying
// retriable errors with exponential backoff, and persists each attempt.
// attempt is the number of attempts already recorded (before a crash):
// they count, so attempt numbers stay unique across lives of a run.
func (c *Coordinator) runAgent(ctx context.Context, run store.Run, name string, agent agents.Agent, t agents.Task, timeout time.Duration, attempt int) (agents.Report, error) {
	cfg := t.Config
	retries, backoff := cfg.Stages.Retries, cfg.Stages.Backoff.Duration
	lg := t.Log()
	for try := 0; ; try++ {
		attempt++
		start := c.o.Now()
		c.putStage(ctx, store.Stage{RunID: run.ID, Name: name, State: store.StageRunning, Attempt: attempt, StartedAt: start.UTC()})
		c.publish(Event{RunID: run.ID, Type: "stage", Stage: name, StageState: store.StageRunning})
		c.record(ctx, "stage.started", run.ID, agent.Name(), map[string]any{"stage": name, "attempt": attempt})
		lg.Info("stage started", "attempt", attempt)

		actx, cancel := ctx, context.CancelFunc(func() {})
		if timeout > 0 {
			actx, cancel = context.WithTimeout(ctx, timeout)
		}
		t.Attempt = attempt
		rep, err := callAgent(actx, agent, t)
		timedOut := actx.Err() == context.DeadlineExceeded && ctx.Err() == nil
		cancel()
		elapsed := c.o.Now().Sub(start)
		if timedOut && err != nil {
			err = agents.Retriable(fmt.Errorf("%s agent timed out after %s: %w", agent.Name(), timeout, err))
		}
		if err == nil {
			if rep.Agent == "" {
				rep.Agent = agent.Name()
			}
			rep.Stage = name
			if rep.Verdict == "" {
				rep.Verdict = agents.Pass
			}
			raw, merr := json.Marshal(rep)
			if merr != nil {
				return rep, fmt.Errorf("%s report is not serialisable: %w", agent.Name(), merr)
			}
			c.putStage(ctx, store.Stage{RunID: run.ID, Name: name, State: store.StageSucceeded, Attempt: attempt,
				Verdict: string(rep.Verdict), Report: raw, StartedAt: start.UTC(), FinishedAt: c.o.Now().UTC()})
			c.record(ctx, "stage.finished", run.ID, agent.Name(), map[string]any{"stage": name, "attempt": attempt,
				"verdict": rep.Verdict, "findings": len(rep.Findings), "seconds": elapsed.Seconds()})
			c.metrics.stageDone(name, elapsed)
			c.publish(Event{RunID: run.ID, Type: "stage", Stage: name, StageState: store.StageSucceeded, Verdict: string(rep.Verdict), Message: rep.Summary})
			lg.Info("stage finished", "verdict", rep.Verdict, "seconds", elapsed.Round(time.Millisecond).Seconds())
			return rep, nil
		}
		if ctx.Err() != nil {
			return rep, ctx.Err() // cancelled or stopping, not the agent's fault
		}
		c.metrics.agentError(agent.Name())
		retry := agents.IsRetriable(err) && try < retries
		c.putStage(ctx, store.Stage{RunID: run.ID, Name: name, State: store.StageFailed, Attempt: attempt,
			Error: redact.String(err.Error()), StartedAt: start.UTC(), FinishedAt: c.o.Now().UTC()})
		c.record(ctx, "stage.failed", run.ID, agent.Name(), map[string]any{"stage": name, "attempt": attempt, "error": err.Error(), "will_retry": retry})
		c.publish(Event{RunID: run.ID, Type: "stage", Stage: name, StageState: store.StageFailed, Message: err.Error()})
		if !retry {
			return rep, fmt.Errorf("%s stage: %w", name, err)
		}
		wait := backoff << try
		wait += time.Duration(rand.Int64N(int64(wait)/4 + 1)) // jitter so retries of many runs do not align
		lg.Warn("stage failed, retrying", "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return rep, ctx.Err()
		case <-time.After(wait):
		}
	}
}

// callAgent turns an agent's panic into an error: one bad agent must not
// take the coordinator, and every other run, down with it.
func callAgent(ctx context.Context, a agents.Agent, t agents.Task) (rep agents.Report, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s agent panicked: %v", a.Name(), r)
		}
	}()
	return a.Run(ctx, t)
}

func (c *Coordinator) putStage(ctx context.Context, s store.Stage) {
	if err := c.stagePut(context.WithoutCancel(ctx), s); err != nil {
		c.log.Error("persist stage", "run", s.RunID, "stage", s.Name, "err", err)
	}
}

// hashFile names an artifact: a file by the SHA-256 of its bytes, a folder
// by its signing manifest (the definitions the security agent checks).
func hashFile(path string) (string, int64, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", 0, err
	}
	if st.IsDir() {
		return hashDir(path)
	}
	return sign.FileDigest(path)
}
