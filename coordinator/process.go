package coordinator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/charmbracelet/log"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/agents/training"
	"github.com/modelgate/modelgate/internal/auth"
	"github.com/modelgate/modelgate/internal/config"
	"github.com/modelgate/modelgate/internal/oversight"
	"github.com/modelgate/modelgate/internal/release"
	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/tools/redact"
)

// process advances a run until it is terminal or has to wait for someone
// (an approval). Every step re-reads the run from the store, so a run
// resumed after a crash takes exactly the same path as one that never
// stopped.
func (c *Coordinator) process(ctx context.Context, id string) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		run, err := c.o.Store.RunGet(ctx, id)
		if err != nil {
			return fmt.Errorf("load run %s: %w", id, err)
		}
		if run.State.Terminal() {
			return nil
		}
		lg := c.log.With("run", run.ID, "model", run.Model)
		var next bool
		switch run.State {
		case store.RunQueued:
			_, err = c.transition(ctx, run, []store.RunState{store.RunQueued}, store.RunRunning, "", "coordinator")
			next = err == nil
		case store.RunRunning:
			next, err = c.runStages(ctx, run, lg)
		case store.RunAwaitingApproval:
			next, err = c.checkApproval(ctx, run)
		case store.RunDeploying:
			next, err = c.deploy(ctx, run, lg)
		default:
			return fmt.Errorf("run %s: unknown state %q", id, run.State)
		}
		if errors.Is(err, store.ErrConflict) {
			continue // someone else moved the run (a cancel); look again
		}
		if errors.Is(err, store.ErrFenced) {
			lg.Warn("run lease lost; another server drives the run now", "err", err)
			return nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err() // stopping: the run resumes on the next start
			}
			lg.Error("run failed", "err", err)
			if _, terr := c.transition(ctx, run, nil, store.RunFailed, err.Error(), "coordinator"); terr != nil && !errors.Is(terr, store.ErrConflict) {
				return terr
			}
			return nil
		}
		if !next {
			return nil
		}
	}
}

// transition persists a state change, then audits and publishes it.
func (c *Coordinator) transition(ctx context.Context, run store.Run, from []store.RunState, to store.RunState, reason, actor string) (store.Run, error) {
	if from == nil {
		from = []store.RunState{store.RunQueued, store.RunRunning, store.RunAwaitingApproval, store.RunDeploying}
	}
	reason = redact.String(reason) // may quote a command's output
	updated, fence, err := c.runTransition(context.WithoutCancel(ctx), store.RunTransitionParams{ID: run.ID, From: from, To: to, Error: reason})
	if err != nil {
		return run, err
	}
	c.record(ctx, "run."+string(to), run.ID, actor, map[string]any{"from": run.State, "to": to, "reason": reason, "fence": fence})
	c.metrics.transition(run.State, to)
	c.publish(Event{RunID: run.ID, Type: "state", State: to, Message: reason})
	c.log.Info("run "+string(to), "run", run.ID, "model", run.Model, "reason", reason)
	return updated, nil
}

// pipeline loads the run's config and its stages so far.
func (c *Coordinator) pipeline(ctx context.Context, run store.Run) (*config.Pipeline, map[string]store.Stage, error) {
	cfg, err := config.Parse("run "+run.ID+" config", run.Config)
	if err != nil {
		return nil, nil, err
	}
	stages, err := c.o.Store.StageList(ctx, run.ID)
	if err != nil {
		return nil, nil, fmt.Errorf("load stages: %w", err)
	}
	m := make(map[string]store.Stage, len(stages))
	for _, s := range stages {
		m[s.Name] = s
	}
	return cfg, m, nil
}

// runStages walks the stage graph of a running run. It returns next=true
// when the run changed state.
func (c *Coordinator) runStages(ctx context.Context, run store.Run, lg *log.Logger) (bool, error) {
	cfg, done, err := c.pipeline(ctx, run)
	if err != nil {
		return false, err
	}
	prod, err := c.production(ctx, run, cfg)
	if err != nil {
		return false, err
	}
	p := c.newPass(run, cfg, done, prod, lg)

	// 1. validate the data before anything is trained or scored on it.
	if err := c.stage(ctx, run, done, StageValidate, cfg, p.task(StageValidate)); err != nil {
		return false, err
	}
	p.refresh()
	// 2. obtain the candidate: train it, or hash the artifact given.
	if run, err = c.obtainCandidate(ctx, run, cfg, done, p.task(StageTrain)); err != nil {
		return false, err
	}
	p.run = run
	// 3. test, scan and evaluate in parallel.
	if err := c.parallel(ctx, run, done, cfg, p.task); err != nil {
		return false, err
	}
	p.refresh()
	// 4. decide.
	return c.decide(ctx, run, cfg, prod, p.reports, done)
}

func reportsOf(done map[string]store.Stage) map[string]agents.Report {
	out := map[string]agents.Report{}
	for name, s := range done {
		// StageAssist holds the assistant's brief and triage: LLM text, which
		// must never reach a policy or an agent.
		if s.State != store.StageSucceeded || len(s.Report) == 0 || name == StageDecide || name == StageAssist {
			continue
		}
		if r, err := s.AgentReport(); err == nil {
			out[name] = r
		}
	}
	return out
}

func candidateOf(r store.Run) agents.Candidate {
	return agents.Candidate{Version: r.Candidate.Version, ArtifactPath: r.Candidate.ArtifactPath, Digest: r.Candidate.Digest, Endpoint: r.Candidate.Endpoint}
}

// production finds what serves the run's environment now: the registry
// first, then the config's baseline for a model the registry has not seen.
func (c *Coordinator) production(ctx context.Context, run store.Run, cfg *config.Pipeline) (*agents.Production, error) {
	p, err := c.o.Store.ProductionGet(ctx, run.Model, run.Environment)
	switch {
	case err == nil:
		v, err := c.o.Store.ModelVersionGet(ctx, run.Model, p.Version)
		if err != nil {
			return nil, fmt.Errorf("production version %s of %s: %w", p.Version, run.Model, err)
		}
		return &agents.Production{Version: v.Version, ArtifactPath: v.ArtifactPath, Digest: v.Digest, Endpoint: v.Endpoint}, nil
	case !errors.Is(err, store.ErrNotFound):
		return nil, fmt.Errorf("look up production of %s: %w", run.Model, err)
	}
	if cfg.Baseline != nil && (cfg.Baseline.Artifact != "" || cfg.Baseline.Endpoint != "") {
		b := &agents.Production{Version: cfg.Baseline.Version, Endpoint: cfg.Baseline.Endpoint}
		if cfg.Baseline.Artifact != "" {
			b.ArtifactPath = config.Resolve(run.BaseDir, cfg.Baseline.Artifact)
			d, _, err := hashFile(b.ArtifactPath)
			if err != nil {
				return nil, fmt.Errorf("baseline.artifact: %w", err)
			}
			b.Digest = d
			if b.Version == "" {
				b.Version = versionOf(d)
			}
		}
		if b.Version == "" {
			b.Version = "baseline"
		}
		return b, nil
	}
	return nil, nil
}

// obtainCandidate runs training when configured, or records the given
// artifact's digest. Either way the candidate is persisted on the run
// before any agent sees it.
func (c *Coordinator) obtainCandidate(ctx context.Context, run store.Run, cfg *config.Pipeline, done map[string]store.Stage, task agents.Task) (store.Run, error) {
	if cfg.Train != nil {
		if s, ok := done[StageTrain]; ok && s.State == store.StageSucceeded && run.Candidate.Digest != "" {
			return run, nil
		}
		return c.trained(ctx, run, cfg, done, task)
	}
	if run.Candidate.Digest != "" || cfg.Candidate.Artifact == "" {
		return run, nil
	}
	path, digest, err := c.snapshot(ctx, run.ID, config.Resolve(run.BaseDir, cfg.Candidate.Artifact))
	if err != nil {
		return run, fmt.Errorf("candidate.artifact: %w", err)
	}
	cand := run.Candidate
	cand.ArtifactPath, cand.Digest = path, digest
	if cand.Version == "" {
		cand.Version = versionOf(digest)
	}
	updated, err := c.o.Store.RunUpdate(ctx, store.RunUpdateParams{ID: run.ID, Candidate: &cand})
	if err != nil {
		return run, fmt.Errorf("record candidate: %w", err)
	}
	c.record(ctx, "candidate.recorded", run.ID, "coordinator", cand)
	return updated, nil
}

// trained runs the train stage (or takes its stored report, when a
// restart came between the stage and recording its artifact) and records
// the artifact it reports as the run's candidate.
func (c *Coordinator) trained(ctx context.Context, run store.Run, cfg *config.Pipeline, done map[string]store.Stage, t agents.Task) (store.Run, error) {
	if err := c.stage(ctx, run, done, StageTrain, cfg, t); err != nil {
		return run, err
	}
	var rep struct {
		Details training.Details `json:"details"`
	}
	if err := json.Unmarshal(done[StageTrain].Report, &rep); err != nil || rep.Details.Digest == "" {
		return run, fmt.Errorf("train stage: report names no artifact")
	}
	path, digest, err := c.snapshot(ctx, run.ID, rep.Details.ArtifactPath)
	if err != nil {
		return run, fmt.Errorf("trained artifact: %w", err)
	}
	if digest != rep.Details.Digest {
		// The training process (or something else) changed the file after
		// the agent hashed it: neither digest is trustworthy.
		return run, fmt.Errorf("trained artifact %s changed after training ended (%s, then %s)", rep.Details.ArtifactPath, rep.Details.Digest, digest)
	}
	cand := store.Candidate{Version: cfg.Candidate.Version, ArtifactPath: path, Digest: digest}
	if cand.Version == "" {
		cand.Version = versionOf(cand.Digest)
	}
	updated, err := c.o.Store.RunUpdate(ctx, store.RunUpdateParams{ID: run.ID, Candidate: &cand})
	if err != nil {
		return run, fmt.Errorf("record trained candidate: %w", err)
	}
	c.record(ctx, "candidate.trained", run.ID, training.Name, map[string]any{"digest": cand.Digest, "size": rep.Details.Size, "path": cand.ArtifactPath})
	return updated, nil
}

// versionOf names a version after its digest, so the same artifact is
// the same version wherever it comes from.
func versionOf(digest string) string {
	d := strings.TrimPrefix(digest, "sha256:")
	if len(d) > 12 {
		d = d[:12]
	}
	return d
}

// decide asks the oversight layer and acts on its answer. The decision is
// stored before it is acted on; on resume a stored decision is reused,
// never re-evaluated, so an approval stays bound to the decision that
// asked for it.
func (c *Coordinator) decide(ctx context.Context, run store.Run, cfg *config.Pipeline, prod *agents.Production, reports map[string]agents.Report, done map[string]store.Stage) (bool, error) {
	var d oversight.Decision
	if s, ok := done[StageDecide]; ok && s.State == store.StageSucceeded && len(run.Decision) > 0 {
		if err := json.Unmarshal(run.Decision, &d); err != nil {
			return false, fmt.Errorf("stored decision: %w", err)
		}
	} else {
		if c.o.Decider == nil {
			return false, errors.New("no policy engine configured: nothing may be promoted without a decision")
		}
		start := c.o.Now()
		c.putStage(ctx, store.Stage{RunID: run.ID, Name: StageDecide, State: store.StageRunning, Attempt: 1, StartedAt: start.UTC()})
		in := decisionInput(run, cfg, prod, reports)
		var err error
		d, err = c.o.Decider.Decide(ctx, in)
		if err != nil {
			return false, fmt.Errorf("policy decision: %w", err)
		}
		raw, _ := json.Marshal(d)
		if _, err := c.o.Store.RunUpdate(ctx, store.RunUpdateParams{ID: run.ID, Decision: raw}); err != nil {
			return false, fmt.Errorf("record decision: %w", err)
		}
		verdict := "allow"
		switch {
		case d.RequireApproval && len(d.Deny) == 0:
			verdict = "approval_required"
		case !d.Allow:
			verdict = "deny"
		}
		c.putStage(ctx, store.Stage{RunID: run.ID, Name: StageDecide, State: store.StageSucceeded, Attempt: 1, Verdict: verdict,
			Report: raw, StartedAt: start.UTC(), FinishedAt: c.o.Now().UTC()})
		c.metrics.stageDone(StageDecide, c.o.Now().Sub(start))
	}
	switch {
	case len(d.Deny) > 0 || (!d.Allow && !d.RequireApproval):
		return true, c.failRun(ctx, run, "denied by policy: "+denyText(d))
	case d.RequireApproval:
		if c.o.RequestApproval == nil {
			return true, c.failRun(ctx, run, "policy requires approval but no approval queue is configured")
		}
		existing, err := c.o.Store.ApprovalList(ctx, store.ApprovalListParams{RunID: run.ID})
		if err != nil {
			return false, err
		}
		if !hasApprovalFor(existing, d.ID) {
			if _, err := c.o.RequestApproval(ctx, run, d); err != nil {
				return false, fmt.Errorf("request approval: %w", err)
			}
		}
		_, err = c.transition(ctx, run, []store.RunState{store.RunRunning}, store.RunAwaitingApproval,
			fmt.Sprintf("risk %s: %d approval(s) from %s required", d.Risk, d.Approvers.Min, strings.Join(d.Approvers.Groups, ", ")), "policy")
		return false, err // park until an approval wakes the run
	default:
		_, err := c.transition(ctx, run, []store.RunState{store.RunRunning}, store.RunDeploying, "allowed by policy (risk "+d.Risk+")", "policy")
		return err == nil, err
	}
}

func hasApprovalFor(as []store.Approval, decisionID string) bool {
	for _, a := range as {
		if a.DecisionID == decisionID {
			return true
		}
	}
	return false
}

func denyText(d oversight.Decision) string {
	if len(d.Deny) == 0 {
		return "no rule allowed the promotion"
	}
	parts := make([]string, 0, len(d.Deny))
	for _, r := range d.Deny {
		parts = append(parts, r.Code+": "+r.Message)
	}
	return strings.Join(parts, "; ")
}

// failRun moves a running run to failed without treating it as an error
// of the coordinator (a denied candidate is the system working).
func (c *Coordinator) failRun(ctx context.Context, run store.Run, reason string) error {
	_, err := c.transition(ctx, run, nil, store.RunFailed, reason, "policy")
	return err
}

func decisionInput(run store.Run, cfg *config.Pipeline, prod *agents.Production, reports map[string]agents.Report) oversight.Input {
	// The largest share of live traffic the candidate will get: the last
	// canary step, or all of it for blue-green and for a registry-only
	// promotion (whatever reads the registry switches at once).
	share := 1.0
	if cfg.Deploy.Strategy == "canary" && !cfg.Skips(StageDeploy) && len(cfg.Deploy.Canary.Steps) > 0 {
		max := 0
		for _, s := range cfg.Deploy.Canary.Steps {
			if s > max {
				max = s
			}
		}
		share = float64(max) / 100
	}
	return oversight.Input{
		Run:         oversight.RunInfo{ID: run.ID, Trigger: run.Trigger, CommitAuthor: run.CommitAuthor, Labels: run.Labels},
		Model:       run.Model,
		Environment: run.Environment,
		Task:        cfg.Task,
		Candidate:   candidateOf(run),
		Production:  prod,
		Reports:     reports,
		Deploy:      deployInfo(cfg, run, share),
		Requester:   auth.Principal{Subject: run.Requester},
	}
}

func deployInfo(cfg *config.Pipeline, run store.Run, share float64) oversight.DeployInfo {
	rolls := !cfg.Skips(StageDeploy)
	d := oversight.DeployInfo{Strategy: cfg.Deploy.Strategy, MaxTrafficShare: share, Shadow: cfg.Deploy.Shadow != nil && rolls,
		RegistryOnly: !rolls}
	// Served from a server modelgate does not start: the deploy target's
	// upstream, or the candidate's own endpoint when nothing else is named
	// (the order agents/deployment picks a backend in).
	t := cfg.Deploy.Target
	d.Upstream = rolls && (t.Upstream != "" || (t.Local == nil && run.Candidate.Endpoint != ""))
	d.Unverified = d.Upstream && t.AllowUnverified
	return d
}

// checkApproval moves a parked run on once its approval is decided.
func (c *Coordinator) checkApproval(ctx context.Context, run store.Run) (bool, error) {
	as, err := c.o.Store.ApprovalList(ctx, store.ApprovalListParams{RunID: run.ID})
	if err != nil {
		return false, err
	}
	if len(as) == 0 {
		return false, errors.New("run awaits approval but has no approval request")
	}
	a := as[0] // newest
	switch a.State {
	case store.ApprovalPending:
		return false, nil
	case store.ApprovalApproved:
		var who []string
		for _, v := range a.Votes {
			if v.Decision == "approve" {
				who = append(who, v.Reviewer)
			}
		}
		_, err := c.transition(ctx, run, []store.RunState{store.RunAwaitingApproval}, store.RunDeploying, "approved by "+strings.Join(who, ", "), strings.Join(who, ","))
		return err == nil, err
	default:
		reason := "approval " + string(a.State)
		if a.Reason != "" {
			reason += ": " + a.Reason
		}
		for _, v := range a.Votes {
			if v.Decision == "reject" {
				reason += " by " + v.Reviewer
				if v.Comment != "" {
					reason += " (" + v.Comment + ")"
				}
			}
		}
		_, err := c.transition(ctx, run, []store.RunState{store.RunAwaitingApproval}, store.RunFailed, reason, "approval")
		return err == nil, err
	}
}

// deploy hands the run to the deployment agent, or, with no deployment
// configured, promotes the candidate in the registry directly.
func (c *Coordinator) deploy(ctx context.Context, run store.Run, lg *log.Logger) (bool, error) {
	cfg, done, err := c.pipeline(ctx, run)
	if err != nil {
		return false, err
	}
	agent, ok := c.o.Agents[StageDeploy]
	if !ok || cfg.Skips(StageDeploy) {
		if err := c.promote(ctx, run); err != nil {
			return false, err
		}
		c.putStage(ctx, store.Stage{RunID: run.ID, Name: StageDeploy, State: store.StageSkipped})
		_, err = c.transition(ctx, run, []store.RunState{store.RunDeploying}, store.RunSucceeded, "promoted in the registry (no rollout configured)", "coordinator")
		return err == nil, err
	}
	// One rollout per model and environment at a time: two would fight
	// over the same route table. Later runs wait their turn here.
	unlock, err := c.lockDeploy(ctx, run.Model+"\x00"+run.Environment)
	if err != nil {
		return false, err
	}
	defer unlock()
	prod, err := c.production(ctx, run, cfg)
	if err != nil {
		return false, err
	}
	t := c.newPass(run, cfg, done, prod, lg).task(StageDeploy)
	rep, err := c.runAgent(ctx, run, StageDeploy, agent, t, 0, done[StageDeploy].Attempt)
	if err != nil {
		return false, err
	}
	if rep.Verdict == agents.Fail {
		_, err = c.transition(ctx, run, []store.RunState{store.RunDeploying}, store.RunRolledBack, "rolled back: "+rep.Summary, "deployment")
		return err == nil, err
	}
	_, err = c.transition(ctx, run, []store.RunState{store.RunDeploying}, store.RunSucceeded, rep.Summary, "deployment")
	return err == nil, err
}

// lockDeploy takes the per-model deploy lock, or gives up when ctx ends.
func (c *Coordinator) lockDeploy(ctx context.Context, key string) (func(), error) {
	c.mu.Lock()
	if c.deploys == nil {
		c.deploys = map[string]chan struct{}{}
	}
	ch, ok := c.deploys[key]
	if !ok {
		ch = make(chan struct{}, 1)
		c.deploys[key] = ch
	}
	c.mu.Unlock()
	select {
	case ch <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	// and across servers sharing the store (ownership.go)
	release, err := c.deployLease(ctx, key)
	if err != nil {
		<-ch
		return nil, err
	}
	return func() { release(); <-ch }, nil
}

// promote registers the candidate and points the environment at it
// (a run with no rollout: the registry is the release).
func (c *Coordinator) promote(ctx context.Context, run store.Run) error {
	v := store.ModelVersion{Model: run.Model, Version: run.Candidate.Version, Digest: run.Candidate.Digest,
		ArtifactPath: run.Candidate.ArtifactPath, Endpoint: run.Candidate.Endpoint, RunID: run.ID, CreatedAt: c.o.Now().UTC()}
	if v.Version == "" {
		v.Version = versionOf(v.Digest)
	}
	lin, err := release.LineageOf(ctx, c.o.Store, run.ID)
	if err != nil {
		return err
	}
	v.Lineage = lin
	p, changed, err := release.Promote(ctx, c.o.Store, release.PromoteParams{Version: v, Environment: run.Environment,
		Reason: "promoted by run " + run.ID})
	if err != nil {
		return err
	}
	if changed {
		c.record(ctx, "model.promoted", run.ID, "coordinator", p)
	}
	return nil
}
