package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/store"
)

// racers is how many goroutines each race test starts.
const racers = 16

// Exercise runs the conformance suite against stores made by newStore,
// which must return a fresh, empty store and close it in t.Cleanup.
func Exercise(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Helper()
	groups := []struct {
		name  string
		tests []test
	}{
		{"runs", runTests},
		{"stages", stageTests},
		{"logs", logTests},
		{"approvals", approvalTests},
		{"audit", auditTests},
		{"registry", registryTests},
		{"registry notes and aliases", registryNoteTests}, // registry_notes.go
		{"registry imports", registryImportTests},         // registry_import.go
		{"routes", routeTests},
		{"rollouts", rolloutTests},
		{"sessions", sessionTests},
		{"short ids", shortIDTests},
		{"claims", claimTests},
		{"model settings", modelSettingsTests},
		{"gateway windows", windowTests},
		{"leases", leaseTests}, // leases.go
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					defer cancel()
					s := newStore(t)
					require.NoError(t, s.Ping(ctx))
					tc.run(ctx, t, s)
				})
			}
		})
	}
}

type test struct {
	name string
	run  func(ctx context.Context, t *testing.T, s store.Store)
}

// base is a fixed instant with a nanosecond part, so that drivers that
// lose precision fail.
var base = time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.UTC)

func newRun(id string, at time.Time) store.Run {
	return store.Run{
		ID: id, Model: "fraud", Environment: "production", Trigger: "api", Requester: "ci-bot",
		CommitAuthor: "alice", Config: []byte("model: fraud\n"), BaseDir: "/srv/fraud",
		Candidate: store.Candidate{Version: "v2", ArtifactPath: "model.json", Digest: "sha256:abc"},
		Labels:    map[string]string{"team": "risk"}, CreatedAt: at,
	}
}

func mustCreateRun(ctx context.Context, t *testing.T, s store.Store, id string) store.Run {
	t.Helper()
	r, created, err := s.RunCreate(ctx, store.RunCreateParams{Run: newRun(id, base)})
	require.NoError(t, err)
	require.True(t, created)
	return r
}

// race runs f from racers goroutines at once and returns the errors.
func race(f func(i int) error) []error {
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		errs  = make([]error, racers)
	)
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = f(i)
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

// requireOneWinner checks that exactly one racer succeeded and every
// other one got ErrConflict.
func requireOneWinner(t *testing.T, errs []error) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		if err == nil {
			require.Equal(t, -1, winner, "racers %d and %d both won", winner, i)
			winner = i
			continue
		}
		require.ErrorIs(t, err, store.ErrConflict, "racer %d", i)
	}
	require.NotEqual(t, -1, winner, "no racer won")
	return winner
}

var runTests = []test{
	{"create and get round-trip every field", func(ctx context.Context, t *testing.T, s store.Store) {
		in := newRun("run-1", base.In(time.FixedZone("CET", 3600)))
		in.Decision = json.RawMessage(`{"allow":true}`)
		got, created, err := s.RunCreate(ctx, store.RunCreateParams{Run: in})
		require.NoError(t, err)
		require.True(t, created)
		require.Equal(t, store.RunQueued, got.State, "state defaults to queued")
		require.Positive(t, got.Version)
		back, err := s.RunGet(ctx, "run-1")
		require.NoError(t, err)
		for _, r := range []store.Run{got, back} {
			require.Equal(t, in.ID, r.ID)
			require.Equal(t, in.Model, r.Model)
			require.Equal(t, in.Environment, r.Environment)
			require.Equal(t, in.Trigger, r.Trigger)
			require.Equal(t, in.Requester, r.Requester)
			require.Equal(t, in.CommitAuthor, r.CommitAuthor)
			require.Equal(t, in.Config, r.Config)
			require.Equal(t, in.BaseDir, r.BaseDir)
			require.Equal(t, in.Candidate, r.Candidate)
			require.JSONEq(t, `{"allow":true}`, string(r.Decision))
			require.Equal(t, in.Labels, r.Labels)
			require.True(t, base.Equal(r.CreatedAt), "created_at %s, want %s", r.CreatedAt, base)
			require.False(t, r.UpdatedAt.IsZero())
		}
		require.Equal(t, got.Version, back.Version)
	}},
	{"create fills id state and time", func(ctx context.Context, t *testing.T, s store.Store) {
		a, _, err := s.RunCreate(ctx, store.RunCreateParams{Run: store.Run{Model: "m"}})
		require.NoError(t, err)
		b, _, err := s.RunCreate(ctx, store.RunCreateParams{Run: store.Run{Model: "m"}})
		require.NoError(t, err)
		require.NotEmpty(t, a.ID)
		require.NotEqual(t, a.ID, b.ID)
		require.Equal(t, store.RunQueued, a.State)
		require.False(t, a.CreatedAt.IsZero())
		got, err := s.RunGet(ctx, a.ID)
		require.NoError(t, err)
		require.True(t, a.CreatedAt.Equal(got.CreatedAt))
	}},
	{"create with an existing id conflicts", func(ctx context.Context, t *testing.T, s store.Store) {
		mustCreateRun(ctx, t, s, "dup")
		_, _, err := s.RunCreate(ctx, store.RunCreateParams{Run: newRun("dup", base)})
		require.ErrorIs(t, err, store.ErrConflict)
	}},
	{"get unknown run is not found", func(ctx context.Context, t *testing.T, s store.Store) {
		_, err := s.RunGet(ctx, "nope")
		require.ErrorIs(t, err, store.ErrNotFound)
	}},
	{"idempotency key replays or conflicts", func(ctx context.Context, t *testing.T, s store.Store) {
		p := store.RunCreateParams{Run: newRun("", base), IdempotencyKey: "key-1", RequestDigest: "d1"}
		first, created, err := s.RunCreate(ctx, p)
		require.NoError(t, err)
		require.True(t, created)
		again, created, err := s.RunCreate(ctx, p)
		require.NoError(t, err)
		require.False(t, created, "same key and digest is a replay")
		require.Equal(t, first.ID, again.ID)
		require.Equal(t, first.Version, again.Version)

		other := p
		other.RequestDigest = "d2"
		_, _, err = s.RunCreate(ctx, other)
		require.ErrorIs(t, err, store.ErrConflict, "same key, another request")

		fresh := p
		fresh.IdempotencyKey = "key-2"
		third, created, err := s.RunCreate(ctx, fresh)
		require.NoError(t, err)
		require.True(t, created)
		require.NotEqual(t, first.ID, third.ID)
		runs, err := s.RunList(ctx, store.RunListParams{})
		require.NoError(t, err)
		require.Len(t, runs, 2)
	}},
	{"idempotency keys are scoped by requester", func(ctx context.Context, t *testing.T, s store.Store) {
		// Two principals who pick the same key (a CI build number) must
		// each get their own run, and neither may replay the other's.
		mine := store.RunCreateParams{Run: newRun("", base), IdempotencyKey: "build-1", RequestDigest: "d1"}
		first, created, err := s.RunCreate(ctx, mine)
		require.NoError(t, err)
		require.True(t, created)
		theirs := mine
		theirs.Run.Requester = "mallory"
		theirs.RequestDigest = "d2"
		other, created, err := s.RunCreate(ctx, theirs)
		require.NoError(t, err, "another requester's same key is another key")
		require.True(t, created)
		require.NotEqual(t, first.ID, other.ID)
		require.Equal(t, "mallory", other.Requester)
		again, created, err := s.RunCreate(ctx, theirs)
		require.NoError(t, err)
		require.False(t, created)
		require.Equal(t, other.ID, again.ID, "each requester replays its own run")
		// "a:b" with key "c" and "a" with key "b:c" are different keys: the
		// scope is length-prefixed, not a plain join.
		ab := store.RunCreateParams{Run: newRun("", base), IdempotencyKey: "c", RequestDigest: "d3"}
		ab.Run.Requester = "a:b"
		a := store.RunCreateParams{Run: newRun("", base), IdempotencyKey: "b:c", RequestDigest: "d4"}
		a.Run.Requester = "a"
		r1, created1, err := s.RunCreate(ctx, ab)
		require.NoError(t, err)
		r2, created2, err := s.RunCreate(ctx, a)
		require.NoError(t, err)
		require.True(t, created1 && created2)
		require.NotEqual(t, r1.ID, r2.ID)
	}},
	{"idempotent creates racing make one run", func(ctx context.Context, t *testing.T, s store.Store) {
		ids := make([]string, racers)
		createdBy := make([]bool, racers)
		errs := race(func(i int) error {
			r, created, err := s.RunCreate(ctx, store.RunCreateParams{
				Run: newRun("", base), IdempotencyKey: "same", RequestDigest: "digest",
			})
			ids[i], createdBy[i] = r.ID, created
			return err
		})
		n := 0
		for i, err := range errs {
			require.NoError(t, err, "racer %d", i)
			require.Equal(t, ids[0], ids[i])
			if createdBy[i] {
				n++
			}
		}
		require.Equal(t, 1, n, "exactly one racer creates the run")
		runs, err := s.RunList(ctx, store.RunListParams{})
		require.NoError(t, err)
		require.Len(t, runs, 1)
	}},
	{"list is newest first and filters", func(ctx context.Context, t *testing.T, s store.Store) {
		for i := range 6 {
			r := newRun(fmt.Sprintf("r%d", i), base.Add(time.Duration(i)*time.Minute))
			if i%2 == 1 {
				r.Model = "recsys"
			}
			_, _, err := s.RunCreate(ctx, store.RunCreateParams{Run: r})
			require.NoError(t, err)
		}
		_, err := s.RunTransition(ctx, store.RunTransitionParams{ID: "r4", To: store.RunRunning})
		require.NoError(t, err)

		cases := []struct {
			name string
			p    store.RunListParams
			want []string
		}{
			{"all", store.RunListParams{}, []string{"r5", "r4", "r3", "r2", "r1", "r0"}},
			{"limit", store.RunListParams{Limit: 2}, []string{"r5", "r4"}},
			{"model", store.RunListParams{Model: "recsys"}, []string{"r5", "r3", "r1"}},
			{"states", store.RunListParams{States: []store.RunState{store.RunRunning}}, []string{"r4"}},
			{"two states", store.RunListParams{States: []store.RunState{store.RunRunning, store.RunQueued}, Limit: 3}, []string{"r5", "r4", "r3"}},
			{"before", store.RunListParams{Before: base.Add(3 * time.Minute)}, []string{"r2", "r1", "r0"}},
			{"before and model", store.RunListParams{Before: base.Add(3 * time.Minute), Model: "fraud"}, []string{"r2", "r0"}},
			{"no match", store.RunListParams{Model: "other"}, []string{}},
		}
		for _, c := range cases {
			runs, err := s.RunList(ctx, c.p)
			require.NoError(t, err, c.name)
			got := []string{}
			for _, r := range runs {
				got = append(got, r.ID)
			}
			require.Equal(t, c.want, got, c.name)
		}
	}},
	{"list defaults to 100", func(ctx context.Context, t *testing.T, s store.Store) {
		for i := range 105 {
			_, _, err := s.RunCreate(ctx, store.RunCreateParams{Run: newRun(fmt.Sprintf("r%03d", i), base.Add(time.Duration(i)*time.Second))})
			require.NoError(t, err)
		}
		runs, err := s.RunList(ctx, store.RunListParams{})
		require.NoError(t, err)
		require.Len(t, runs, 100)
		require.Equal(t, "r104", runs[0].ID)
	}},
	{"transition moves state and bumps version", func(ctx context.Context, t *testing.T, s store.Store) {
		r := mustCreateRun(ctx, t, s, "run")
		got, err := s.RunTransition(ctx, store.RunTransitionParams{ID: "run", From: []store.RunState{store.RunQueued}, To: store.RunRunning})
		require.NoError(t, err)
		require.Equal(t, store.RunRunning, got.State)
		require.Greater(t, got.Version, r.Version)
		require.Empty(t, got.Error)
		back, err := s.RunGet(ctx, "run")
		require.NoError(t, err)
		require.Equal(t, store.RunRunning, back.State)
		require.Equal(t, got.Version, back.Version)

		got, err = s.RunTransition(ctx, store.RunTransitionParams{ID: "run", From: []store.RunState{store.RunQueued, store.RunRunning}, To: store.RunFailed, Error: "agent crashed"})
		require.NoError(t, err)
		require.Equal(t, store.RunFailed, got.State)
		require.Equal(t, "agent crashed", got.Error)
		back, err = s.RunGet(ctx, "run")
		require.NoError(t, err)
		require.Equal(t, "agent crashed", back.Error)
	}},
	{"transition from the wrong state conflicts and writes nothing", func(ctx context.Context, t *testing.T, s store.Store) {
		r := mustCreateRun(ctx, t, s, "run")
		_, err := s.RunTransition(ctx, store.RunTransitionParams{ID: "run", From: []store.RunState{store.RunRunning}, To: store.RunSucceeded, Error: "x"})
		require.ErrorIs(t, err, store.ErrConflict)
		back, err := s.RunGet(ctx, "run")
		require.NoError(t, err)
		require.Equal(t, store.RunQueued, back.State)
		require.Equal(t, r.Version, back.Version)
		require.Empty(t, back.Error)
	}},
	{"transition with no from refuses terminal runs", func(ctx context.Context, t *testing.T, s store.Store) {
		mustCreateRun(ctx, t, s, "run")
		for _, to := range []store.RunState{store.RunRunning, store.RunAwaitingApproval, store.RunDeploying, store.RunCancelled} {
			got, err := s.RunTransition(ctx, store.RunTransitionParams{ID: "run", To: to})
			require.NoError(t, err, "to %s", to)
			require.Equal(t, to, got.State)
		}
		_, err := s.RunTransition(ctx, store.RunTransitionParams{ID: "run", To: store.RunRunning})
		require.ErrorIs(t, err, store.ErrConflict, "a cancelled run never moves again")
	}},
	{"transition of unknown run is not found", func(ctx context.Context, t *testing.T, s store.Store) {
		_, err := s.RunTransition(ctx, store.RunTransitionParams{ID: "nope", To: store.RunRunning})
		require.ErrorIs(t, err, store.ErrNotFound)
	}},
	{"transitions racing from the same state: one wins", func(ctx context.Context, t *testing.T, s store.Store) {
		mustCreateRun(ctx, t, s, "run")
		errs := race(func(i int) error {
			_, err := s.RunTransition(ctx, store.RunTransitionParams{ID: "run", From: []store.RunState{store.RunQueued}, To: store.RunRunning})
			return err
		})
		requireOneWinner(t, errs)
		back, err := s.RunGet(ctx, "run")
		require.NoError(t, err)
		require.Equal(t, store.RunRunning, back.State)
	}},
	{"update sets only the given fields", func(ctx context.Context, t *testing.T, s store.Store) {
		r := mustCreateRun(ctx, t, s, "run")
		cand := store.Candidate{Version: "v3", Digest: "sha256:def", Endpoint: "http://127.0.0.1:9001"}
		got, err := s.RunUpdate(ctx, store.RunUpdateParams{ID: "run", Candidate: &cand})
		require.NoError(t, err)
		require.Equal(t, cand, got.Candidate)
		require.Greater(t, got.Version, r.Version)
		require.Empty(t, got.Decision)

		msg := "denied by policy"
		got, err = s.RunUpdate(ctx, store.RunUpdateParams{ID: "run", Decision: json.RawMessage(`{"allow":false}`), Error: &msg})
		require.NoError(t, err)
		require.Equal(t, cand, got.Candidate, "candidate kept")
		require.JSONEq(t, `{"allow":false}`, string(got.Decision))
		require.Equal(t, msg, got.Error)

		back, err := s.RunGet(ctx, "run")
		require.NoError(t, err)
		require.Equal(t, cand, back.Candidate)
		require.JSONEq(t, `{"allow":false}`, string(back.Decision))
		require.Equal(t, msg, back.Error)
		require.Equal(t, store.RunQueued, back.State)
		require.Equal(t, r.Labels, back.Labels)

		empty := ""
		got, err = s.RunUpdate(ctx, store.RunUpdateParams{ID: "run", Error: &empty})
		require.NoError(t, err)
		require.Empty(t, got.Error, "a set empty error clears it")
	}},
	{"update of unknown run is not found", func(ctx context.Context, t *testing.T, s store.Store) {
		msg := "x"
		_, err := s.RunUpdate(ctx, store.RunUpdateParams{ID: "nope", Error: &msg})
		require.ErrorIs(t, err, store.ErrNotFound)
	}},
}

var stageTests = []test{
	{"put list and replace", func(ctx context.Context, t *testing.T, s store.Store) {
		mustCreateRun(ctx, t, s, "run")
		stages := []store.Stage{
			{RunID: "run", Name: "validate", State: store.StageRunning, Attempt: 1, StartedAt: base},
			{RunID: "run", Name: "test", State: store.StagePending},
			{RunID: "run", Name: "scan", State: store.StagePending},
		}
		for _, st := range stages {
			require.NoError(t, s.StagePut(ctx, st))
		}
		done := store.Stage{RunID: "run", Name: "validate", State: store.StageSucceeded, Attempt: 2, Verdict: "pass",
			Report: json.RawMessage(`{"agent":"testing","verdict":"pass"}`), StartedAt: base, FinishedAt: base.Add(time.Second)}
		require.NoError(t, s.StagePut(ctx, done))

		got, err := s.StageList(ctx, "run")
		require.NoError(t, err)
		require.Len(t, got, 3)
		require.Equal(t, []string{"validate", "test", "scan"}, []string{got[0].Name, got[1].Name, got[2].Name}, "order of first put")
		v := got[0]
		require.Equal(t, store.StageSucceeded, v.State)
		require.Equal(t, 2, v.Attempt)
		require.Equal(t, "pass", v.Verdict)
		require.JSONEq(t, string(done.Report), string(v.Report))
		require.True(t, done.StartedAt.Equal(v.StartedAt))
		require.True(t, done.FinishedAt.Equal(v.FinishedAt))
		require.True(t, got[1].StartedAt.IsZero(), "zero times stay zero")
		require.True(t, got[1].FinishedAt.IsZero())
	}},
	{"list of a run without stages is empty", func(ctx context.Context, t *testing.T, s store.Store) {
		mustCreateRun(ctx, t, s, "run")
		got, err := s.StageList(ctx, "run")
		require.NoError(t, err)
		require.Empty(t, got)
	}},
	{"put on unknown run is not found", func(ctx context.Context, t *testing.T, s store.Store) {
		err := s.StagePut(ctx, store.Stage{RunID: "nope", Name: "test", State: store.StagePending})
		require.ErrorIs(t, err, store.ErrNotFound)
	}},
	{"stages are per run", func(ctx context.Context, t *testing.T, s store.Store) {
		mustCreateRun(ctx, t, s, "a")
		mustCreateRun(ctx, t, s, "b")
		require.NoError(t, s.StagePut(ctx, store.Stage{RunID: "a", Name: "test", State: store.StagePending}))
		require.NoError(t, s.StagePut(ctx, store.Stage{RunID: "b", Name: "test", State: store.StageSkipped}))
		got, err := s.StageList(ctx, "a")
		require.NoError(t, err)
		require.Len(t, got, 1)
		require.Equal(t, store.StagePending, got[0].State)
	}},
}

var logTests = []test{
	{"append and list in order", func(ctx context.Context, t *testing.T, s store.Store) {
		mustCreateRun(ctx, t, s, "run")
		require.NoError(t, s.LogAppend(ctx, store.LogAppendParams{RunID: "run", Stage: "train", Lines: []string{"epoch 1", "epoch 2"}}))
		require.NoError(t, s.LogAppend(ctx, store.LogAppendParams{RunID: "run", Stage: "test", Lines: []string{"ok"}}))
		got, err := s.LogList(ctx, "run")
		require.NoError(t, err)
		require.Len(t, got, 3)
		for i, want := range []struct {
			stage, text string
		}{{"train", "epoch 1"}, {"train", "epoch 2"}, {"test", "ok"}} {
			require.Equal(t, int64(i+1), got[i].Seq)
			require.Equal(t, "run", got[i].RunID)
			require.Equal(t, want.stage, got[i].Stage)
			require.Equal(t, want.text, got[i].Text)
			require.False(t, got[i].Time.IsZero())
		}
	}},
	{"append to unknown run is not found", func(ctx context.Context, t *testing.T, s store.Store) {
		err := s.LogAppend(ctx, store.LogAppendParams{RunID: "nope", Lines: []string{"x"}})
		require.ErrorIs(t, err, store.ErrNotFound)
		got, err := s.LogList(ctx, "nope")
		require.NoError(t, err)
		require.Empty(t, got)
	}},
	{"concurrent appends keep seq gap-free", func(ctx context.Context, t *testing.T, s store.Store) {
		mustCreateRun(ctx, t, s, "run")
		errs := race(func(i int) error {
			return s.LogAppend(ctx, store.LogAppendParams{RunID: "run", Stage: "train", Lines: []string{fmt.Sprintf("a%d", i), fmt.Sprintf("b%d", i)}})
		})
		for _, err := range errs {
			require.NoError(t, err)
		}
		got, err := s.LogList(ctx, "run")
		require.NoError(t, err)
		require.Len(t, got, 2*racers)
		for i, l := range got {
			require.Equal(t, int64(i+1), l.Seq)
		}
		// Lines of one append stay together.
		for i := 0; i < len(got); i += 2 {
			require.Equal(t, "a", got[i].Text[:1])
			require.Equal(t, "b"+got[i].Text[1:], got[i+1].Text)
		}
	}},
}

func newApproval(id, runID string, at time.Time) store.Approval {
	return store.Approval{
		ID: id, RunID: runID, Model: "fraud", Environment: "production", CandidateDigest: "sha256:abc",
		PolicyRevision: "rev-1", DecisionID: "dec-1", Requester: "ci-bot", Groups: []string{"ml-leads"}, Min: 1,
		Risk: "high", Reasons: []string{"roc_auc dropped"}, CreatedAt: at, ExpiresAt: at.Add(24 * time.Hour),
		Extra: json.RawMessage(`{"ticket":"OPS-1"}`),
	}
}

var approvalTests = []test{
	{"create and get", func(ctx context.Context, t *testing.T, s store.Store) {
		in := newApproval("ap-1", "run-1", base)
		got, err := s.ApprovalCreate(ctx, in)
		require.NoError(t, err)
		require.Equal(t, int64(1), got.Version)
		require.Equal(t, store.ApprovalPending, got.State)
		back, err := s.ApprovalGet(ctx, "ap-1")
		require.NoError(t, err)
		for _, a := range []store.Approval{got, back} {
			require.Equal(t, in.RunID, a.RunID)
			require.Equal(t, in.CandidateDigest, a.CandidateDigest)
			require.Equal(t, in.PolicyRevision, a.PolicyRevision)
			require.Equal(t, in.DecisionID, a.DecisionID)
			require.Equal(t, in.Groups, a.Groups)
			require.Equal(t, in.Min, a.Min)
			require.Equal(t, in.Reasons, a.Reasons)
			require.True(t, in.CreatedAt.Equal(a.CreatedAt))
			require.True(t, in.ExpiresAt.Equal(a.ExpiresAt))
			require.JSONEq(t, string(in.Extra), string(a.Extra))
			require.Empty(t, a.Votes)
		}
		_, err = s.ApprovalCreate(ctx, in)
		require.ErrorIs(t, err, store.ErrConflict, "same id twice")
	}},
	{"create fills the id", func(ctx context.Context, t *testing.T, s store.Store) {
		a, err := s.ApprovalCreate(ctx, newApproval("", "run-1", base))
		require.NoError(t, err)
		require.NotEmpty(t, a.ID)
		_, err = s.ApprovalGet(ctx, a.ID)
		require.NoError(t, err)
	}},
	{"get unknown is not found", func(ctx context.Context, t *testing.T, s store.Store) {
		_, err := s.ApprovalGet(ctx, "nope")
		require.ErrorIs(t, err, store.ErrNotFound)
	}},
	{"list newest first and filters", func(ctx context.Context, t *testing.T, s store.Store) {
		for i := range 4 {
			_, err := s.ApprovalCreate(ctx, newApproval(fmt.Sprintf("ap%d", i), fmt.Sprintf("run%d", i%2), base.Add(time.Duration(i)*time.Minute)))
			require.NoError(t, err)
		}
		_, err := s.ApprovalDecide(ctx, store.ApprovalDecideParams{ID: "ap2", ExpectVersion: 1, State: store.ApprovalApproved})
		require.NoError(t, err)
		cases := []struct {
			name string
			p    store.ApprovalListParams
			want []string
		}{
			{"all", store.ApprovalListParams{}, []string{"ap3", "ap2", "ap1", "ap0"}},
			{"pending", store.ApprovalListParams{States: []store.ApprovalState{store.ApprovalPending}}, []string{"ap3", "ap1", "ap0"}},
			{"run", store.ApprovalListParams{RunID: "run0"}, []string{"ap2", "ap0"}},
			{"run and state", store.ApprovalListParams{RunID: "run0", States: []store.ApprovalState{store.ApprovalPending}}, []string{"ap0"}},
			{"limit", store.ApprovalListParams{Limit: 1}, []string{"ap3"}},
		}
		for _, c := range cases {
			got, err := s.ApprovalList(ctx, c.p)
			require.NoError(t, err, c.name)
			ids := []string{}
			for _, a := range got {
				ids = append(ids, a.ID)
			}
			require.Equal(t, c.want, ids, c.name)
		}
	}},
	{"decide is a compare-and-swap on version", func(ctx context.Context, t *testing.T, s store.Store) {
		_, err := s.ApprovalCreate(ctx, newApproval("ap", "run", base))
		require.NoError(t, err)
		vote := store.Vote{Reviewer: "bob", Groups: []string{"ml-leads"}, Decision: "approve", Comment: "lgtm", At: base.Add(time.Minute)}
		got, err := s.ApprovalDecide(ctx, store.ApprovalDecideParams{ID: "ap", ExpectVersion: 1, State: store.ApprovalApproved,
			Votes: []store.Vote{vote}, DecidedAt: base.Add(time.Minute)})
		require.NoError(t, err)
		require.Equal(t, int64(2), got.Version)
		require.Equal(t, store.ApprovalApproved, got.State)
		require.Len(t, got.Votes, 1)
		require.Equal(t, "bob", got.Votes[0].Reviewer)
		require.True(t, vote.At.Equal(got.Votes[0].At))
		require.True(t, base.Add(time.Minute).Equal(got.DecidedAt))

		_, err = s.ApprovalDecide(ctx, store.ApprovalDecideParams{ID: "ap", ExpectVersion: 1, State: store.ApprovalRejected})
		require.ErrorIs(t, err, store.ErrConflict, "stale version")
		back, err := s.ApprovalGet(ctx, "ap")
		require.NoError(t, err)
		require.Equal(t, store.ApprovalApproved, back.State, "the loser wrote nothing")
		require.Equal(t, int64(2), back.Version)

		got, err = s.ApprovalDecide(ctx, store.ApprovalDecideParams{ID: "ap", ExpectVersion: 2, State: store.ApprovalVoided, Reason: "new candidate"})
		require.NoError(t, err)
		require.Equal(t, "new candidate", got.Reason)
		require.Len(t, got.Votes, 1, "votes kept when not given")
		_, err = s.ApprovalDecide(ctx, store.ApprovalDecideParams{ID: "nope", ExpectVersion: 1, State: store.ApprovalApproved})
		require.ErrorIs(t, err, store.ErrNotFound)
	}},
	{"decisions racing on the same version: one wins", func(ctx context.Context, t *testing.T, s store.Store) {
		_, err := s.ApprovalCreate(ctx, newApproval("ap", "run", base))
		require.NoError(t, err)
		errs := race(func(i int) error {
			_, err := s.ApprovalDecide(ctx, store.ApprovalDecideParams{ID: "ap", ExpectVersion: 1, State: store.ApprovalApproved,
				Votes: []store.Vote{{Reviewer: fmt.Sprintf("r%d", i), Decision: "approve", At: base}}})
			return err
		})
		w := requireOneWinner(t, errs)
		back, err := s.ApprovalGet(ctx, "ap")
		require.NoError(t, err)
		require.Equal(t, int64(2), back.Version)
		require.Equal(t, fmt.Sprintf("r%d", w), back.Votes[0].Reviewer, "the winner's vote is stored")
	}},
}

func entry(seq int64) store.AuditEntry {
	return store.AuditEntry{
		Seq: seq, Time: base.Add(time.Duration(seq) * time.Nanosecond), Type: "run.created", RunID: "run-1", Actor: "ci-bot",
		Data: json.RawMessage(`{"b":1,"a":[true,null]}`), Hash: fmt.Sprintf("%064x", seq),
	}
}

var auditTests = []test{
	{"append list and last", func(ctx context.Context, t *testing.T, s store.Store) {
		_, err := s.AuditLast(ctx)
		require.ErrorIs(t, err, store.ErrNotFound, "empty trail")
		for seq := int64(1); seq <= 5; seq++ {
			e := entry(seq)
			if seq%2 == 0 {
				e.RunID, e.Type = "run-2", "stage.finished"
			}
			if seq == 5 {
				e.Data, e.RunID, e.Actor = nil, "", ""
			}
			require.NoError(t, s.AuditAppend(ctx, e))
		}
		last, err := s.AuditLast(ctx)
		require.NoError(t, err)
		require.Equal(t, int64(5), last.Seq)
		require.Empty(t, last.Data)

		all, err := s.AuditList(ctx, store.AuditListParams{})
		require.NoError(t, err)
		require.Len(t, all, 5)
		got := all[0]
		want := entry(1)
		require.Equal(t, want.Seq, got.Seq)
		require.Equal(t, want.Type, got.Type)
		require.Equal(t, want.RunID, got.RunID)
		require.Equal(t, want.Actor, got.Actor)
		require.Equal(t, want.Hash, got.Hash)
		require.Equal(t, string(want.Data), string(got.Data), "data kept byte for byte: the hash covers it")
		require.True(t, want.Time.Equal(got.Time), "nanoseconds kept: %s vs %s", got.Time, want.Time)

		seqs := func(es []store.AuditEntry) []int64 {
			out := []int64{}
			for _, e := range es {
				out = append(out, e.Seq)
			}
			return out
		}
		cases := []struct {
			name string
			p    store.AuditListParams
			want []int64
		}{
			{"all", store.AuditListParams{}, []int64{1, 2, 3, 4, 5}},
			{"after", store.AuditListParams{AfterSeq: 2}, []int64{3, 4, 5}},
			{"limit", store.AuditListParams{AfterSeq: 1, Limit: 2}, []int64{2, 3}},
			{"run", store.AuditListParams{RunID: "run-2"}, []int64{2, 4}},
			{"type", store.AuditListParams{Type: "run.created"}, []int64{1, 3, 5}},
			{"run after", store.AuditListParams{RunID: "run-1", AfterSeq: 1}, []int64{3}},
			{"past the end", store.AuditListParams{AfterSeq: 5}, []int64{}},
		}
		for _, c := range cases {
			got, err := s.AuditList(ctx, c.p)
			require.NoError(t, err, c.name)
			require.Equal(t, c.want, seqs(got), c.name)
		}
	}},
	{"append refuses anything but the next seq", func(ctx context.Context, t *testing.T, s store.Store) {
		require.ErrorIs(t, s.AuditAppend(ctx, entry(2)), store.ErrConflict, "must start at 1")
		require.ErrorIs(t, s.AuditAppend(ctx, entry(0)), store.ErrConflict)
		require.NoError(t, s.AuditAppend(ctx, entry(1)))
		require.ErrorIs(t, s.AuditAppend(ctx, entry(1)), store.ErrConflict, "repeat")
		require.ErrorIs(t, s.AuditAppend(ctx, entry(3)), store.ErrConflict, "gap")
		require.NoError(t, s.AuditAppend(ctx, entry(2)))
		all, err := s.AuditList(ctx, store.AuditListParams{})
		require.NoError(t, err)
		require.Len(t, all, 2)
	}},
	{"list pages through many entries", func(ctx context.Context, t *testing.T, s store.Store) {
		for seq := int64(1); seq <= 1205; seq++ {
			require.NoError(t, s.AuditAppend(ctx, entry(seq)))
		}
		def, err := s.AuditList(ctx, store.AuditListParams{})
		require.NoError(t, err)
		require.Len(t, def, 1000, "default limit")
		var after, n int64
		for {
			page, err := s.AuditList(ctx, store.AuditListParams{AfterSeq: after, Limit: 500})
			require.NoError(t, err)
			if len(page) == 0 {
				break
			}
			for _, e := range page {
				n++
				require.Equal(t, n, e.Seq)
			}
			after = page[len(page)-1].Seq
		}
		require.Equal(t, int64(1205), n)
	}},
	{"appends racing on the same seq: one wins", func(ctx context.Context, t *testing.T, s store.Store) {
		require.NoError(t, s.AuditAppend(ctx, entry(1)))
		errs := race(func(i int) error {
			e := entry(2)
			e.Hash = fmt.Sprintf("%064x", 1000+i)
			return s.AuditAppend(ctx, e)
		})
		w := requireOneWinner(t, errs)
		last, err := s.AuditLast(ctx)
		require.NoError(t, err)
		require.Equal(t, int64(2), last.Seq)
		require.Equal(t, fmt.Sprintf("%064x", 1000+w), last.Hash)
	}},
	{"checkpoints", func(ctx context.Context, t *testing.T, s store.Store) {
		got, err := s.AuditCheckpointList(ctx)
		require.NoError(t, err)
		require.Empty(t, got)
		cps := []store.Checkpoint{
			{Seq: 2000, Hash: "bb", Time: base.Add(time.Second), KeyID: "k1", Signature: "c2ln"},
			{Seq: 1000, Hash: "aa", Time: base, KeyID: "k1", Signature: "c2lnMQ=="},
		}
		for _, c := range cps {
			require.NoError(t, s.AuditCheckpointPut(ctx, c))
		}
		require.NoError(t, s.AuditCheckpointPut(ctx, cps[0]), "the identical checkpoint again is a no-op")
		forged := cps[1]
		forged.Hash = "ff"
		require.ErrorIs(t, s.AuditCheckpointPut(ctx, forged), store.ErrConflict)
		got, err = s.AuditCheckpointList(ctx)
		require.NoError(t, err)
		require.Len(t, got, 2)
		require.Equal(t, int64(1000), got[0].Seq, "by seq")
		require.Equal(t, "aa", got[0].Hash)
		require.Equal(t, "k1", got[0].KeyID)
		require.Equal(t, "c2lnMQ==", got[0].Signature)
		require.True(t, base.Equal(got[0].Time))
		require.Equal(t, int64(2000), got[1].Seq)
	}},
}

var registryTests = []test{
	{"model versions", func(ctx context.Context, t *testing.T, s store.Store) {
		_, err := s.ModelVersionGet(ctx, "fraud", "v1")
		require.ErrorIs(t, err, store.ErrNotFound)
		v1 := store.ModelVersion{Model: "fraud", Version: "v1", Digest: "sha256:1", ArtifactPath: "a/model.json", RunID: "run-1",
			Metrics: map[string]float64{"roc_auc": 0.93}, CreatedAt: base}
		v2 := store.ModelVersion{Model: "fraud", Version: "v2", Digest: "sha256:2", Endpoint: "http://m:9001", CreatedAt: base.Add(time.Hour)}
		require.NoError(t, s.ModelVersionPut(ctx, v1))
		require.NoError(t, s.ModelVersionPut(ctx, v2))
		require.NoError(t, s.ModelVersionPut(ctx, store.ModelVersion{Model: "recsys", Version: "v1", Digest: "sha256:9", CreatedAt: base}))
		require.NoError(t, s.ModelVersionPut(ctx, v1), "same digest again is a no-op")
		other := v1
		other.Digest = "sha256:evil"
		require.ErrorIs(t, s.ModelVersionPut(ctx, other), store.ErrConflict)

		got, err := s.ModelVersionGet(ctx, "fraud", "v1")
		require.NoError(t, err)
		require.Equal(t, "sha256:1", got.Digest)
		require.Equal(t, v1.ArtifactPath, got.ArtifactPath)
		require.Equal(t, v1.RunID, got.RunID)
		require.Equal(t, v1.Metrics, got.Metrics)
		require.True(t, base.Equal(got.CreatedAt))

		list, err := s.ModelVersionList(ctx, "fraud")
		require.NoError(t, err)
		require.Len(t, list, 2)
		require.Equal(t, "v2", list[0].Version, "newest first")
		require.Equal(t, "http://m:9001", list[0].Endpoint)
		none, err := s.ModelVersionList(ctx, "nope")
		require.NoError(t, err)
		require.Empty(t, none)

		models, err := s.ModelList(ctx)
		require.NoError(t, err)
		require.Equal(t, []string{"fraud", "recsys"}, models)
	}},
	{"production keeps previous and honours expect version", func(ctx context.Context, t *testing.T, s store.Store) {
		_, err := s.ProductionGet(ctx, "fraud", "production")
		require.ErrorIs(t, err, store.ErrNotFound)
		v := func(s string) *string { return &s }

		_, err = s.ProductionSet(ctx, store.ProductionSetParams{Model: "fraud", Environment: "production", Version: "v1", ExpectVersion: v("v0")})
		require.ErrorIs(t, err, store.ErrConflict, "nothing is in production yet")
		p, err := s.ProductionSet(ctx, store.ProductionSetParams{Model: "fraud", Environment: "production", Version: "v1", ExpectVersion: v(""), RunID: "run-1", Reason: "promoted"})
		require.NoError(t, err)
		require.Equal(t, "v1", p.Version)
		require.Empty(t, p.Previous)
		require.Equal(t, "run-1", p.RunID)
		require.False(t, p.UpdatedAt.IsZero())

		p, err = s.ProductionSet(ctx, store.ProductionSetParams{Model: "fraud", Environment: "production", Version: "v2", ExpectVersion: v("v1"), RunID: "run-2"})
		require.NoError(t, err)
		require.Equal(t, "v2", p.Version)
		require.Equal(t, "v1", p.Previous)

		_, err = s.ProductionSet(ctx, store.ProductionSetParams{Model: "fraud", Environment: "production", Version: "v3", ExpectVersion: v("v1")})
		require.ErrorIs(t, err, store.ErrConflict, "stale expectation")
		got, err := s.ProductionGet(ctx, "fraud", "production")
		require.NoError(t, err)
		require.Equal(t, "v2", got.Version, "the loser wrote nothing")
		require.Equal(t, "v1", got.Previous)
		require.Equal(t, "run-2", got.RunID)

		p, err = s.ProductionSet(ctx, store.ProductionSetParams{Model: "fraud", Environment: "production", Version: "v2", Reason: "re-pinned"})
		require.NoError(t, err)
		require.Equal(t, "v1", p.Previous, "setting the same version keeps the rollback target")

		p, err = s.ProductionSet(ctx, store.ProductionSetParams{Model: "fraud", Environment: "production", Version: "v1", Reason: "rollback"})
		require.NoError(t, err, "no expectation: unconditional")
		require.Equal(t, "v2", p.Previous)
		require.Equal(t, "rollback", p.Reason)

		_, err = s.ProductionSet(ctx, store.ProductionSetParams{Model: "fraud", Environment: "staging", Version: "v9"})
		require.NoError(t, err)
		_, err = s.ProductionSet(ctx, store.ProductionSetParams{Model: "recsys", Environment: "production", Version: "v1"})
		require.NoError(t, err)
		list, err := s.ProductionList(ctx, "fraud")
		require.NoError(t, err)
		require.Len(t, list, 2)
		require.Equal(t, []string{"production", "staging"}, []string{list[0].Environment, list[1].Environment})
		all, err := s.ProductionList(ctx, "")
		require.NoError(t, err)
		require.Len(t, all, 3)
		models, err := s.ModelList(ctx)
		require.NoError(t, err)
		require.Equal(t, []string{"fraud", "recsys"}, models)
	}},
	{"production sets racing on the same expectation: one wins", func(ctx context.Context, t *testing.T, s store.Store) {
		_, err := s.ProductionSet(ctx, store.ProductionSetParams{Model: "m", Environment: "prod", Version: "v1"})
		require.NoError(t, err)
		errs := race(func(i int) error {
			expect := "v1"
			_, err := s.ProductionSet(ctx, store.ProductionSetParams{Model: "m", Environment: "prod", Version: fmt.Sprintf("v%d", i+2), ExpectVersion: &expect})
			return err
		})
		w := requireOneWinner(t, errs)
		got, err := s.ProductionGet(ctx, "m", "prod")
		require.NoError(t, err)
		require.Equal(t, fmt.Sprintf("v%d", w+2), got.Version)
		require.Equal(t, "v1", got.Previous)
	}},
}

var routeTests = []test{
	{"set get list replace", func(ctx context.Context, t *testing.T, s store.Store) {
		_, err := s.RouteGet(ctx, "fraud")
		require.ErrorIs(t, err, store.ErrNotFound)
		all, err := s.RouteList(ctx)
		require.NoError(t, err)
		require.Empty(t, all)
		require.NoError(t, s.RouteSet(ctx, "fraud", json.RawMessage(`{"routes":[{"name":"stable","weight":100}]}`)))
		require.NoError(t, s.RouteSet(ctx, "recsys", json.RawMessage(`{"routes":[]}`)))
		require.NoError(t, s.RouteSet(ctx, "fraud", json.RawMessage(`{"routes":[{"name":"stable","weight":95},{"name":"canary","weight":5}]}`)))
		got, err := s.RouteGet(ctx, "fraud")
		require.NoError(t, err)
		require.JSONEq(t, `{"routes":[{"name":"stable","weight":95},{"name":"canary","weight":5}]}`, string(got))
		all, err = s.RouteList(ctx)
		require.NoError(t, err)
		require.Equal(t, []string{"fraud", "recsys"}, slices.Sorted(maps.Keys(all)))
		require.JSONEq(t, `{"routes":[]}`, string(all["recsys"]))
	}},
}

var rolloutTests = []test{
	{"save is a compare-and-swap on version", func(ctx context.Context, t *testing.T, s store.Store) {
		_, err := s.RolloutGet(ctx, "run")
		require.ErrorIs(t, err, store.ErrNotFound)
		r, err := s.RolloutSave(ctx, store.Rollout{RunID: "run", Model: "fraud", Data: json.RawMessage(`{"step":0}`)})
		require.NoError(t, err)
		require.Equal(t, int64(1), r.Version)
		require.False(t, r.UpdatedAt.IsZero())
		_, err = s.RolloutSave(ctx, store.Rollout{RunID: "run", Model: "fraud", Data: json.RawMessage(`{"step":9}`)})
		require.ErrorIs(t, err, store.ErrConflict, "new when one exists")

		r.Data = json.RawMessage(`{"step":1}`)
		r2, err := s.RolloutSave(ctx, r)
		require.NoError(t, err)
		require.Equal(t, int64(2), r2.Version)
		_, err = s.RolloutSave(ctx, r)
		require.ErrorIs(t, err, store.ErrConflict, "stale version")
		_, err = s.RolloutSave(ctx, store.Rollout{RunID: "other", Version: 3, Data: json.RawMessage(`{}`)})
		require.ErrorIs(t, err, store.ErrConflict, "expecting a version of a rollout that does not exist")

		got, err := s.RolloutGet(ctx, "run")
		require.NoError(t, err)
		require.Equal(t, int64(2), got.Version)
		require.Equal(t, "fraud", got.Model)
		require.JSONEq(t, `{"step":1}`, string(got.Data))
	}},
	{"saves racing on the same version: one wins", func(ctx context.Context, t *testing.T, s store.Store) {
		r, err := s.RolloutSave(ctx, store.Rollout{RunID: "run", Model: "m", Data: json.RawMessage(`{"step":0}`)})
		require.NoError(t, err)
		errs := race(func(i int) error {
			next := r
			next.Data = json.RawMessage(fmt.Sprintf(`{"step":%d}`, i+1))
			_, err := s.RolloutSave(ctx, next)
			return err
		})
		w := requireOneWinner(t, errs)
		got, err := s.RolloutGet(ctx, "run")
		require.NoError(t, err)
		require.Equal(t, int64(2), got.Version)
		require.JSONEq(t, fmt.Sprintf(`{"step":%d}`, w+1), string(got.Data))
	}},
	{"new rollouts racing: one wins", func(ctx context.Context, t *testing.T, s store.Store) {
		errs := race(func(i int) error {
			_, err := s.RolloutSave(ctx, store.Rollout{RunID: "run", Model: "m", Data: json.RawMessage(`{}`)})
			return err
		})
		requireOneWinner(t, errs)
	}},
}

var sessionTests = []test{
	{"a session is live until ended", func(ctx context.Context, t *testing.T, s store.Store) {
		st, err := s.SessionState(ctx, "sess-1")
		require.NoError(t, err)
		require.Equal(t, store.SessionState{}, st, "unknown sessions are live at epoch 0")
		until := time.Now().Add(time.Hour)
		require.NoError(t, s.SessionEnd(ctx, "sess-1", until))
		require.NoError(t, s.SessionEnd(ctx, "sess-1", until), "ending twice is fine")
		st, err = s.SessionState(ctx, "sess-1")
		require.NoError(t, err)
		require.True(t, st.Ended)
		other, err := s.SessionState(ctx, "sess-2")
		require.NoError(t, err)
		require.False(t, other.Ended, "ending one session ends no other")
		require.Error(t, s.SessionEnd(ctx, "", until))
	}},
	{"an ended session stays ended past a short expiry", func(ctx context.Context, t *testing.T, s store.Store) {
		// A zero or past expiry still ends the session now: the cookie may
		// be checked against a slightly different clock.
		require.NoError(t, s.SessionEnd(ctx, "old", time.Time{}))
		st, err := s.SessionState(ctx, "old")
		require.NoError(t, err)
		require.True(t, st.Ended)
	}},
	{"the epoch counts up and is shared", func(ctx context.Context, t *testing.T, s store.Store) {
		e1, err := s.SessionEpochBump(ctx)
		require.NoError(t, err)
		require.Equal(t, int64(1), e1)
		var wg sync.WaitGroup
		for range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.SessionEpochBump(ctx)
				require.NoError(t, err)
			}()
		}
		wg.Wait()
		st, err := s.SessionState(ctx, "any")
		require.NoError(t, err)
		require.Equal(t, int64(1+racers), st.Epoch, "every bump counts once")
		require.False(t, st.Ended)
	}},
}

var claimTests = []test{
	{"a claim is taken once", func(ctx context.Context, t *testing.T, s store.Store) {
		took, err := s.ClaimTake(ctx, store.ClaimTakeParams{Key: "k", Owner: "a", Until: time.Now().Add(time.Hour)})
		require.NoError(t, err)
		require.True(t, took)
		took, err = s.ClaimTake(ctx, store.ClaimTakeParams{Key: "k", Owner: "b", Until: time.Now().Add(time.Hour)})
		require.NoError(t, err)
		require.False(t, took, "a live claim holds its key")
		took, err = s.ClaimTake(ctx, store.ClaimTakeParams{Key: "other", Owner: "b"})
		require.NoError(t, err)
		require.True(t, took, "another key is another claim")
		took, err = s.ClaimTake(ctx, store.ClaimTakeParams{Key: "other", Owner: "c"})
		require.NoError(t, err)
		require.False(t, took, "a claim without expiry holds for ever")
		_, err = s.ClaimTake(ctx, store.ClaimTakeParams{Owner: "a"})
		require.Error(t, err, "a key is required")
	}},
	{"an expired claim can be taken again", func(ctx context.Context, t *testing.T, s store.Store) {
		took, err := s.ClaimTake(ctx, store.ClaimTakeParams{Key: "k", Owner: "a", Until: time.Now().Add(1500 * time.Millisecond)})
		require.NoError(t, err)
		require.True(t, took)
		// Redis expires keys on its own clock with millisecond precision;
		// wait comfortably past it.
		time.Sleep(1700 * time.Millisecond)
		took, err = s.ClaimTake(ctx, store.ClaimTakeParams{Key: "k", Owner: "b", Until: time.Now().Add(time.Hour)})
		require.NoError(t, err)
		require.True(t, took)
	}},
	{"racers for one key: one wins", func(ctx context.Context, t *testing.T, s store.Store) {
		var won atomic.Int32
		errs := race(func(i int) error {
			took, err := s.ClaimTake(ctx, store.ClaimTakeParams{Key: "tick", Owner: fmt.Sprint(i), Until: time.Now().Add(time.Hour)})
			if took {
				won.Add(1)
			}
			return err
		})
		for _, err := range errs {
			require.NoError(t, err)
		}
		require.Equal(t, int32(1), won.Load())
	}},
}

var modelSettingsTests = []test{
	{"settings round-trip and list", func(ctx context.Context, t *testing.T, s store.Store) {
		_, err := s.ModelSettingsGet(ctx, "m")
		require.ErrorIs(t, err, store.ErrNotFound)
		require.NoError(t, s.ModelSettingsSet(ctx, "m", json.RawMessage(`{"a":1}`)))
		require.NoError(t, s.ModelSettingsSet(ctx, "m", json.RawMessage(`{"a":2}`)))
		require.NoError(t, s.ModelSettingsSet(ctx, "n", json.RawMessage(`{}`)))
		got, err := s.ModelSettingsGet(ctx, "m")
		require.NoError(t, err)
		require.JSONEq(t, `{"a":2}`, string(got))
		all, err := s.ModelSettingsList(ctx)
		require.NoError(t, err)
		require.Len(t, all, 2)
		require.JSONEq(t, `{}`, string(all["n"]))
		require.Error(t, s.ModelSettingsSet(ctx, "m", json.RawMessage(`{`)))
		require.Error(t, s.ModelSettingsSet(ctx, "", json.RawMessage(`{}`)))
	}},
}
