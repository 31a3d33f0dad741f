package coordinator_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/charmbracelet/log"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/coordinator"
	"github.com/modelgate/modelgate/internal/audit/audittest"
	"github.com/modelgate/modelgate/internal/oversight"
	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/internal/store/sqlite"
)

// funcAgent is an agent whose behaviour a test writes inline.
type funcAgent struct {
	name  string
	calls atomic.Int64
	mu    sync.Mutex
	runs  map[string]int
	fn    func(ctx context.Context, t agents.Task, call int64) (agents.Report, error)
}

func (a *funcAgent) Name() string { return a.name }
func (a *funcAgent) Run(ctx context.Context, t agents.Task) (agents.Report, error) {
	n := a.calls.Add(1)
	a.mu.Lock()
	if a.runs == nil {
		a.runs = map[string]int{}
	}
	a.runs[t.RunID]++
	a.mu.Unlock()
	if a.fn == nil {
		return agents.Report{Verdict: agents.Pass, Metrics: map[string]float64{t.Stage + ".ok": 1}}, nil
	}
	return a.fn(ctx, t, n)
}

// deciderFunc adapts a function to oversight.Decider.
type deciderFunc func(ctx context.Context, in oversight.Input) (oversight.Decision, error)

func (f deciderFunc) Decide(ctx context.Context, in oversight.Input) (oversight.Decision, error) {
	return f(ctx, in)
}

func allow(context.Context, oversight.Input) (oversight.Decision, error) {
	return oversight.Decision{ID: "d-allow", Allow: true, Risk: "low"}, nil
}

type bundle struct {
	store  store.Store
	coord  *coordinator.Coordinator
	rec    *audittest.Recorder
	agents map[string]*funcAgent
	dir    string
}

type setupOpts struct {
	decider  oversight.Decider
	fns      map[string]func(ctx context.Context, t agents.Task, call int64) (agents.Report, error)
	approval coordinator.ApprovalRequester
	workers  int
}

func setup(t *testing.T, o setupOpts) *bundle {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(dir, "modelgate.db")})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	b := &bundle{store: st, rec: &audittest.Recorder{}, agents: map[string]*funcAgent{}, dir: dir}
	as := map[string]agents.Agent{}
	stages := []string{"validate", "test", "scan", "evaluate"}
	if o.fns["deploy"] != nil {
		stages = append(stages, "deploy")
	}
	for _, s := range stages {
		a := &funcAgent{name: s + "-agent", fn: o.fns[s]}
		b.agents[s] = a
		as[s] = a
	}
	if o.decider == nil {
		o.decider = deciderFunc(allow)
	}
	c, err := coordinator.New(coordinator.Options{Store: st, Recorder: b.rec, Agents: as, Decider: o.decider,
		RequestApproval: o.approval, DataDir: dir, Workers: o.workers,
		Logger: log.NewWithOptions(os.Stderr, log.Options{Level: log.ErrorLevel})})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, c.Start(ctx))
	t.Cleanup(func() { cancel(); c.Stop() })
	b.coord = c
	return b
}

// pipelineYAML writes a candidate artifact and returns a config using it.
func (b *bundle) pipelineYAML(t *testing.T, extra string) []byte {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(b.dir, "model.json"), []byte(`{"learner":{}}`), 0o644))
	return []byte("model: fraud\ntask: binary\ncandidate: {artifact: model.json}\nstages: {backoff: 10ms}\n" + extra)
}

func (b *bundle) submit(t *testing.T, cfg []byte) store.Run {
	t.Helper()
	run, created, err := b.coord.Submit(context.Background(), coordinator.SubmitParams{Config: cfg, File: "modelgate.yaml", BaseDir: b.dir, Requester: "ci-bot"})
	require.NoError(t, err)
	require.True(t, created)
	return run
}

func (b *bundle) wait(t *testing.T, id string, atApproval bool) store.Run {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	run, err := b.coord.Wait(ctx, id, atApproval)
	require.NoError(t, err)
	return run
}

func TestRunLifecycle(t *testing.T) {
	t.Parallel()
	fail := func(context.Context, agents.Task, int64) (agents.Report, error) {
		return agents.Report{}, errors.New("holdout file is unreadable")
	}
	cases := []struct {
		name      string
		opts      setupOpts
		want      store.RunState
		wantError string
		check     func(t *testing.T, b *bundle, run store.Run)
	}{
		{
			name: "all agents pass and policy allows: promoted",
			want: store.RunSucceeded,
			check: func(t *testing.T, b *bundle, run store.Run) {
				p, err := b.store.ProductionGet(context.Background(), "fraud", "production")
				require.NoError(t, err)
				require.Equal(t, run.Candidate.Version, p.Version)
				require.True(t, strings.HasPrefix(run.Candidate.Digest, "sha256:"))
				stages, err := b.store.StageList(context.Background(), run.ID)
				require.NoError(t, err)
				got := map[string]store.StageState{}
				for _, s := range stages {
					got[s.Name] = s.State
				}
				require.Equal(t, store.StageSucceeded, got["validate"])
				require.Equal(t, store.StageSucceeded, got["evaluate"])
				require.Equal(t, store.StageSucceeded, got["decide"])
				require.True(t, b.rec.Has("run.accepted"))
				require.True(t, b.rec.Has("model.promoted"))
			},
		},
		{
			name: "policy denies: failed with the reason",
			opts: setupOpts{decider: deciderFunc(func(context.Context, oversight.Input) (oversight.Decision, error) {
				return oversight.Decision{ID: "d1", Deny: []oversight.Reason{{Code: "security.critical", Message: "pickle calls posix.system"}}}, nil
			})},
			want:      store.RunFailed,
			wantError: "security.critical",
		},
		{
			name:      "an agent that cannot run fails the run",
			opts:      setupOpts{fns: map[string]func(context.Context, agents.Task, int64) (agents.Report, error){"scan": fail}},
			want:      store.RunFailed,
			wantError: "holdout file is unreadable",
		},
		{
			name: "retriable errors are retried with backoff",
			opts: setupOpts{fns: map[string]func(context.Context, agents.Task, int64) (agents.Report, error){
				"evaluate": func(_ context.Context, _ agents.Task, n int64) (agents.Report, error) {
					if n < 3 {
						return agents.Report{}, agents.Retriable(errors.New("endpoint 503"))
					}
					return agents.Report{Verdict: agents.Pass}, nil
				}}},
			want: store.RunSucceeded,
			check: func(t *testing.T, b *bundle, run store.Run) {
				require.EqualValues(t, 3, b.agents["evaluate"].calls.Load())
				stages, _ := b.store.StageList(context.Background(), run.ID)
				for _, s := range stages {
					if s.Name == "evaluate" {
						require.Equal(t, 3, s.Attempt)
					}
				}
			},
		},
		{
			name: "retries run out",
			opts: setupOpts{fns: map[string]func(context.Context, agents.Task, int64) (agents.Report, error){
				"test": func(context.Context, agents.Task, int64) (agents.Report, error) {
					return agents.Report{}, agents.Retriable(errors.New("connection refused"))
				}}},
			want:      store.RunFailed,
			wantError: "connection refused",
			check: func(t *testing.T, b *bundle, run store.Run) {
				require.EqualValues(t, 3, b.agents["test"].calls.Load()) // 1 + 2 retries
			},
		},
		{
			name: "a panicking agent fails its run, not the coordinator",
			opts: setupOpts{fns: map[string]func(context.Context, agents.Task, int64) (agents.Report, error){
				"validate": func(context.Context, agents.Task, int64) (agents.Report, error) { panic("boom") }}},
			want:      store.RunFailed,
			wantError: "panicked",
		},
		{
			name: "agents see the reports of earlier stages and the candidate",
			opts: setupOpts{fns: map[string]func(context.Context, agents.Task, int64) (agents.Report, error){
				"evaluate": func(_ context.Context, task agents.Task, _ int64) (agents.Report, error) {
					if _, ok := task.Reports["validate"]; !ok {
						return agents.Report{}, errors.New("no validate report")
					}
					if task.Candidate.Digest == "" || !filepath.IsAbs(task.Candidate.ArtifactPath) {
						return agents.Report{}, fmt.Errorf("candidate not resolved: %+v", task.Candidate)
					}
					return agents.Report{Verdict: agents.Warn}, nil
				}}},
			want: store.RunSucceeded,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tc.opts)
			run := b.submit(t, b.pipelineYAML(t, ""))
			run = b.wait(t, run.ID, false)
			require.Equal(t, tc.want, run.State, "error: %s", run.Error)
			if tc.wantError != "" {
				require.Contains(t, run.Error, tc.wantError)
			}
			if tc.check != nil {
				tc.check(t, b, run)
			}
		})
	}
}

func TestApprovalFlow(t *testing.T) {
	t.Parallel()
	needApproval := deciderFunc(func(context.Context, oversight.Input) (oversight.Decision, error) {
		return oversight.Decision{ID: "d-approve", RequireApproval: true, Risk: "high", Approvers: oversight.Approvers{Groups: []string{"ml-reviewers"}, Min: 1}}, nil
	})
	for _, decision := range []store.ApprovalState{store.ApprovalApproved, store.ApprovalRejected} {
		t.Run(string(decision), func(t *testing.T) {
			t.Parallel()
			var b *bundle
			b = setup(t, setupOpts{decider: needApproval, approval: func(ctx context.Context, run store.Run, d oversight.Decision) (store.Approval, error) {
				return b.store.ApprovalCreate(ctx, store.Approval{ID: "a-" + run.ID, RunID: run.ID, Model: run.Model, DecisionID: d.ID,
					CandidateDigest: run.Candidate.Digest, State: store.ApprovalPending, Groups: d.Approvers.Groups, Min: d.Approvers.Min,
					CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)})
			}})
			run := b.submit(t, b.pipelineYAML(t, ""))
			run = b.wait(t, run.ID, true)
			require.Equal(t, store.RunAwaitingApproval, run.State)

			a, err := b.store.ApprovalGet(context.Background(), "a-"+run.ID)
			require.NoError(t, err)
			vote := "approve"
			if decision == store.ApprovalRejected {
				vote = "reject"
			}
			_, err = b.store.ApprovalDecide(context.Background(), store.ApprovalDecideParams{ID: a.ID, ExpectVersion: a.Version, State: decision,
				Votes: []store.Vote{{Reviewer: "alice", Decision: vote, Comment: "looks fine", At: time.Now()}}, DecidedAt: time.Now()})
			require.NoError(t, err)
			b.coord.Wake(run.ID)
			run = b.wait(t, run.ID, false)
			if decision == store.ApprovalApproved {
				require.Equal(t, store.RunSucceeded, run.State, run.Error)
			} else {
				require.Equal(t, store.RunFailed, run.State)
				require.Contains(t, run.Error, "alice")
			}
			// the decision was made once, before the approval, and not again after it
			require.EqualValues(t, 1, b.agents["evaluate"].calls.Load())
		})
	}
}

func TestStageTimeout(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{fns: map[string]func(context.Context, agents.Task, int64) (agents.Report, error){
		"scan": func(ctx context.Context, _ agents.Task, _ int64) (agents.Report, error) {
			<-ctx.Done() // hangs until its deadline
			return agents.Report{}, ctx.Err()
		}}})
	cfg := []byte("model: fraud\ntask: binary\ncandidate: {artifact: model.json}\nstages: {timeout: 50ms, retries: 1, backoff: 10ms}\n")
	require.NoError(t, os.WriteFile(filepath.Join(b.dir, "model.json"), []byte(`{}`), 0o644))
	run := b.submit(t, cfg)
	run = b.wait(t, run.ID, false)
	require.Equal(t, store.RunFailed, run.State)
	require.Contains(t, run.Error, "timed out")
	require.EqualValues(t, 2, b.agents["scan"].calls.Load())
}

func TestCancel(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	b := setup(t, setupOpts{fns: map[string]func(context.Context, agents.Task, int64) (agents.Report, error){
		"validate": func(ctx context.Context, _ agents.Task, _ int64) (agents.Report, error) {
			select {
			case <-ctx.Done():
				return agents.Report{}, ctx.Err()
			case <-release:
				return agents.Report{Verdict: agents.Pass}, nil
			}
		}}})
	defer close(release)
	run := b.submit(t, b.pipelineYAML(t, ""))
	require.Eventually(t, func() bool { return b.agents["validate"].calls.Load() == 1 }, 10*time.Second, 5*time.Millisecond)
	got, err := b.coord.Cancel(context.Background(), run.ID, "alice", "wrong data")
	require.NoError(t, err)
	require.Equal(t, store.RunCancelled, got.State)
	run = b.wait(t, run.ID, false)
	require.Equal(t, store.RunCancelled, run.State)
	require.Equal(t, "wrong data", run.Error)
	_, err = b.coord.Cancel(context.Background(), run.ID, "alice", "again")
	require.ErrorIs(t, err, store.ErrConflict)
	require.EqualValues(t, 0, b.agents["evaluate"].calls.Load())
}

func TestIdempotency(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	cfg := b.pipelineYAML(t, "")
	p := coordinator.SubmitParams{Config: cfg, BaseDir: b.dir, IdempotencyKey: "ci-build-42"}
	r1, created, err := b.coord.Submit(context.Background(), p)
	require.NoError(t, err)
	require.True(t, created)
	r2, created, err := b.coord.Submit(context.Background(), p)
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, r1.ID, r2.ID)
	p.Config = append([]byte{}, cfg...)
	p.Config = append(p.Config, "environment: staging\n"...)
	_, _, err = b.coord.Submit(context.Background(), p)
	require.ErrorIs(t, err, coordinator.ErrIdempotencyMismatch)
}

func TestBadConfigRejectedAtSubmit(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	cases := map[string]string{
		"unknown key":  "model: m\ntask: binary\ncandidate: {artifact: x}\nthreshold: 3\n",
		"bad task":     "model: m\ntask: clustering\ncandidate: {artifact: x}\n",
		"not yaml":     "model: [\n",
		"no candidate": "model: m\ntask: binary\n",
		"empty":        "",
		"bad timeout":  "model: m\ntask: binary\ncandidate: {artifact: x}\nstages: {timeout: soon}\n",
	}
	// The group returns only when its parallel subtests have finished, so
	// the check after it sees every submission.
	t.Run("cases", func(t *testing.T) {
		for name, cfg := range cases {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				_, _, err := b.coord.Submit(context.Background(), coordinator.SubmitParams{Config: []byte(cfg), File: "modelgate.yaml"})
				require.Error(t, err)
				require.Contains(t, err.Error(), "modelgate.yaml")
			})
		}
	})
	runs, err := b.store.RunList(context.Background(), store.RunListParams{})
	require.NoError(t, err)
	require.Empty(t, runs)
}

func TestManyConcurrentRuns(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{workers: 16})
	cfg := b.pipelineYAML(t, "")
	const n = 300
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, _, err := b.coord.Submit(context.Background(), coordinator.SubmitParams{Config: cfg, BaseDir: b.dir})
			if err == nil {
				ids[i] = r.ID
			}
		}()
	}
	wg.Wait()
	for _, id := range ids {
		require.NotEmpty(t, id)
		run := b.wait(t, id, false)
		require.Equal(t, store.RunSucceeded, run.State, run.Error)
	}
	for _, s := range []string{"validate", "test", "scan", "evaluate"} {
		a := b.agents[s]
		a.mu.Lock()
		require.Len(t, a.runs, n, s)
		for id, k := range a.runs {
			require.Equal(t, 1, k, "%s ran twice for %s", s, id)
		}
		a.mu.Unlock()
	}
}
