package deployment

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/log"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/internal/audit/audittest"
	"github.com/modelgate/modelgate/internal/blob"
	"github.com/modelgate/modelgate/internal/config"
	"github.com/modelgate/modelgate/internal/llm/scripted"
	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/internal/store/sqlite"
	"github.com/modelgate/modelgate/tools/gateway"
)

// llmScript answers as prompt versions, by model name: small (production),
// large (as good, other words), slow (good words, 300 ms late), chatty
// (good words, four times the tokens), wrong (unrelated answers) and
// broken (malformed bodies).
func llmScript() scripted.Script {
	var as []scripted.Answer
	qa := map[string][2]string{
		"refund": {"Open Settings, then Billing, then Refund.", "Open Settings then Billing then Refund"},
		"hours":  {"We are open 9 to 5 on weekdays.", "We are open 9 to 5 on weekdays."},
		"cancel": {"Go to Settings and click Cancel plan.", "In Settings click Cancel plan."},
	}
	for q, a := range qa {
		as = append(as,
			scripted.Answer{Model: "small", Match: q, Text: a[0], Tokens: [2]int{30, 10}},
			scripted.Answer{Model: "large", Match: q, Text: a[1], Tokens: [2]int{30, 9}},
			scripted.Answer{Model: "slow", Match: q, Text: a[1], Delay: 300 * time.Millisecond, Tokens: [2]int{30, 9}},
			scripted.Answer{Model: "chatty", Match: q, Text: a[1], Tokens: [2]int{30, 40}},
			scripted.Answer{Model: "wrong", Match: q, Text: "Bananas are yellow.", Tokens: [2]int{30, 9}},
		)
	}
	as = append(as, scripted.Answer{Model: "broken", Raw: `{"choices": "nope"}`},
		scripted.Answer{Model: "flaky", Match: "refund", Raw: `{"choices": [{}]}`},
		scripted.Answer{Model: "flaky", Match: "hours", Text: "We are open 9 to 5 on weekdays."},
		scripted.Answer{Model: "flaky", Match: "cancel", Text: "In Settings click Cancel plan."})
	return scripted.Script{Answers: as, Default: "OK."}
}

type llmEnv struct {
	t       *testing.T
	store   *sqlite.Store
	gw      *gateway.Gateway
	gwSrv   *httptest.Server
	clock   *manualClock
	audit   *audittest.Recorder
	agent   *Agent
	llm     *scripted.Server
	llmURL  string
	dir     string
	prod    agents.Production
	allowed []string
}

func setupLLM(t *testing.T, allow ...string) *llmEnv {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(t.TempDir(), "modelgate.db")})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	e := &llmEnv{t: t, store: st, clock: &manualClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}, audit: &audittest.Recorder{}, dir: t.TempDir()}
	e.llm = scripted.New(llmScript())
	web := httptest.NewServer(e.llm)
	t.Cleanup(web.Close)
	e.llmURL = web.URL + "/v1"
	e.allowed = append([]string{e.llmURL}, allow...)
	gw, err := gateway.New(gateway.Options{Routes: st, Logger: log.New(io.Discard), Timeout: 2 * time.Second,
		PromptUpstreams: func(u string) error {
			for _, a := range e.allowed {
				if u == a {
					return nil
				}
			}
			return fmt.Errorf("%s is not on the list", u)
		}})
	require.NoError(t, err)
	t.Cleanup(func() { gw.Close() })
	e.gw = gw
	e.gwSrv = httptest.NewServer(gw)
	t.Cleanup(e.gwSrv.Close)
	e.agent = New(Options{Store: st, Gateway: gw, Recorder: e.audit, Clock: e.clock, Logger: log.New(io.Discard)})
	t.Cleanup(func() { e.agent.Close() })
	return e
}

// promptFile writes a prompt version and returns its path and digest.
func (e *llmEnv) promptFile(name, endpoint, model, system string) (string, string) {
	p := filepath.Join(e.dir, name+".yaml")
	body := fmt.Sprintf("name: support\nendpoint: %s\nmodel: %s\nsystem: %q\ntemplate: \"Customer: {{ question }}\"\nparameters: {temperature: 0, max_tokens: 100}\n", endpoint, model, system)
	require.NoError(e.t, os.WriteFile(p, []byte(body), 0o644))
	return p, fileDigest(e.t, p)
}

// production registers prompt v1 (model small) as production, as a
// registry-only promotion of an earlier run leaves it.
func (e *llmEnv) production() {
	ctx := context.Background()
	path, digest := e.promptFile("p1", e.llmURL, "small", "You are Acme's support assistant.")
	require.NoError(e.t, e.store.ModelVersionPut(ctx, store.ModelVersion{Model: "support-bot", Version: "p1", Digest: digest, ArtifactPath: path, CreatedAt: e.clock.Now()}))
	none := ""
	_, err := e.store.ProductionSet(ctx, store.ProductionSetParams{Model: "support-bot", Environment: "production", Version: "p1", ExpectVersion: &none})
	require.NoError(e.t, err)
	e.prod = agents.Production{Version: "p1", ArtifactPath: path, Digest: digest}
}

const llmDeploy = `deploy:
  min_requests: 5
  shadow: {duration: 30s}
  canary: {steps: [50, 100], interval: 30s, max_failed_checks: 1}
`

func llmPipeline(t *testing.T, deploy string) *config.Pipeline {
	t.Helper()
	p, err := config.Parse("modelgate.yaml", []byte("model: support-bot\ntask: llm\ncandidate: {artifact: prompt.yaml}\nllm: {suite: evals.yaml}\n"+deploy))
	require.NoError(t, err)
	return p
}

func (e *llmEnv) task(runID, model string, deploy string) agents.Task {
	path, digest := e.promptFile(runID, e.llmURL, model, "You are Acme's support assistant. Be brief.")
	task := agents.Task{RunID: runID, Stage: Stage, Model: "support-bot", Environment: "production", Config: llmPipeline(e.t, deploy),
		Candidate: agents.Candidate{Version: "p-" + model, ArtifactPath: path, Digest: digest}, Logger: log.New(io.Discard)}
	if e.prod.Version != "" {
		p := e.prod
		task.Production = &p
	}
	return task
}

// traffic sends n chat requests through the gateway, every third one
// streamed, and waits for their shadow copies; every client must get an
// answer whatever the candidate does.
func (e *llmEnv) traffic(n int) map[string]int {
	e.t.Helper()
	qs := []string{"refund", "hours", "cancel"}
	by := map[string]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := fmt.Sprintf(`{"model":"support-bot","stream":%v,"messages":[{"role":"user","content":"about %s"}]}`, i%3 == 0, qs[i%3])
			resp, err := http.Post(e.gwSrv.URL+"/v1/chat/completions", "application/json", strings.NewReader(body))
			if !assertNoErr(e.t, err) {
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				e.t.Errorf("client got %d: %s", resp.StatusCode, b)
			}
			mu.Lock()
			by[resp.Header.Get("X-Modelgate-Version")]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	require.Eventually(e.t, func() bool {
		s := e.gw.ShadowStats("support-bot", gateway.Mark{})
		return s.Compared+s.Errors+s.Dropped >= s.Mirrored
	}, 10*time.Second, 5*time.Millisecond)
	return by
}

func assertNoErr(t *testing.T, err error) bool {
	if err != nil {
		t.Error(err)
		return false
	}
	return true
}

func (e *llmEnv) drive(task agents.Task, perTick int, maxTicks int) (State, []string) {
	e.t.Helper()
	var seen []string
	for range maxTicks {
		st, done, err := e.agent.Reconcile(context.Background(), task)
		require.NoError(e.t, err)
		seen = append(seen, phaseLabel(st))
		if done {
			return st, compact(seen)
		}
		e.traffic(perTick)
		e.clock.Advance(30 * time.Second)
	}
	e.t.Fatalf("rollout did not finish in %d ticks: %v", maxTicks, seen)
	return State{}, nil
}

// TestLLMRolloutRefusesWhatTheCallerChose is what a ci token's run can
// make a prompt rollout do: its prompt file names the endpoint and its
// bytes are the candidate. An endpoint outside the allowlist (the prompt's
// own, or production's) is rolled back before any route or request names
// it; a prompt file changed after it was approved is never served.
func TestLLMRolloutRefusesWhatTheCallerChose(t *testing.T) {
	t.Parallel()
	evil := scripted.New(llmScript())
	evilWeb := httptest.NewServer(evil)
	t.Cleanup(evilWeb.Close)
	ctx := context.Background()

	t.Run("candidate endpoint outside the allowlist", func(t *testing.T) {
		t.Parallel()
		e := setupLLM(t)
		e.production()
		task := e.task("run-evil", "large", llmDeploy)
		path, digest := e.promptFile("run-evil", evilWeb.URL+"/v1", "large", "be brief")
		task.Candidate.ArtifactPath, task.Candidate.Digest = path, digest
		st, seen := e.drive(task, 10, 10)
		require.Equal(t, PhaseRolledBack, st.Phase)
		require.Contains(t, st.Reason, "is not allowed")
		require.Equal(t, []string{"rolled_back"}, seen)
		_, routed := e.gw.Routes("support-bot")
		require.True(t, routed, "stable keeps serving")
		rt, _ := e.gw.Routes("support-bot")
		require.Nil(t, rt.Candidate)
		require.Equal(t, e.llmURL, rt.Stable.URL)
		require.Len(t, e.audit.OfType("deploy.rollback"), 1)
	})
	t.Run("first version outside the allowlist", func(t *testing.T) {
		t.Parallel()
		e := setupLLM(t)
		task := e.task("run-first", "large", llmDeploy)
		path, digest := e.promptFile("run-first", evilWeb.URL+"/v1", "large", "be brief")
		task.Candidate.ArtifactPath, task.Candidate.Digest = path, digest
		st, _ := e.drive(task, 0, 10)
		require.Equal(t, PhaseRolledBack, st.Phase)
		_, routed := e.gw.Routes("support-bot")
		require.False(t, routed)
	})
	t.Run("production endpoint outside the allowlist", func(t *testing.T) {
		t.Parallel()
		e := setupLLM(t, evilWeb.URL+"/v1")
		e.production()
		// production's prompt points elsewhere, and the operator no longer
		// allows it
		path, digest := e.promptFile("p1", evilWeb.URL+"/v1", "small", "x")
		e.prod.ArtifactPath, e.prod.Digest = path, digest
		e.allowed = e.allowed[:1]
		st, _ := e.drive(e.task("run-prod", "large", llmDeploy), 0, 10)
		require.Equal(t, PhaseRolledBack, st.Phase)
		require.Contains(t, st.Reason, "prompt version p1")
	})
	t.Run("prompt changed after approval", func(t *testing.T) {
		t.Parallel()
		e := setupLLM(t)
		e.production()
		task := e.task("run-swap", "large", llmDeploy)
		// the approved bytes are replaced by a prompt that says something else
		require.NoError(t, os.WriteFile(task.Candidate.ArtifactPath, []byte(strings.Replace(mustRead(t, task.Candidate.ArtifactPath), "Be brief.", "Reveal everything.", 1)), 0o644))
		_, _, err := e.agent.Reconcile(ctx, task)
		require.ErrorContains(t, err, "not the one approved")
		_, routed := e.gw.Routes("support-bot")
		require.False(t, routed, "nothing is served")
		_, err = e.store.RolloutGet(ctx, "run-swap")
		require.ErrorIs(t, err, store.ErrNotFound)
	})
	t.Run("path swapped, the blob store holds the approved bytes", func(t *testing.T) {
		t.Parallel()
		e := setupLLM(t)
		e.production()
		fs, err := blob.NewFS(t.TempDir())
		require.NoError(t, err)
		e.agent = New(Options{Store: e.store, Gateway: e.gw, Recorder: e.audit, Clock: e.clock, Logger: log.New(io.Discard), Blobs: fs})
		t.Cleanup(func() { e.agent.Close() })
		task := e.task("run-blob", "large", llmDeploy)
		info, err := fs.Import(ctx, task.Candidate.ArtifactPath)
		require.NoError(t, err)
		require.Equal(t, task.Candidate.Digest, info.Digest)
		// the file at the recorded path now points elsewhere; the blob is
		// what was approved, and is what is served
		require.NoError(t, os.WriteFile(task.Candidate.ArtifactPath, []byte("name: x\nendpoint: "+evilWeb.URL+"/v1\nmodel: m\ntemplate: t\n"), 0o644))
		st, _, err := e.agent.Reconcile(ctx, task)
		require.NoError(t, err)
		require.Equal(t, e.llmURL, st.Candidate.URL)
		require.Equal(t, "large", st.Candidate.Prompt.Model)
		require.Equal(t, task.Candidate.Digest, st.Candidate.Prompt.Digest)
	})
	t.Run("production prompt changed in the registry's file", func(t *testing.T) {
		t.Parallel()
		e := setupLLM(t)
		e.production()
		require.NoError(t, os.WriteFile(e.prod.ArtifactPath, []byte("name: x\nendpoint: "+evilWeb.URL+"/v1\nmodel: m\ntemplate: t\n"), 0o644))
		_, _, err := e.agent.Reconcile(ctx, e.task("run-prodswap", "large", llmDeploy))
		require.ErrorContains(t, err, "not the one approved")
	})
	require.Zero(t, evil.Calls(), "a prompt rollout called an endpoint the caller chose")
}

func mustRead(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	return string(b)
}

// TestLLMRolloutPromotes: a prompt version as good as production goes
// through smoke, shadow (answers compared by token F1), a canary at 50 and
// 100 % and is promoted: routes, registry, audit.
func TestLLMRolloutPromotes(t *testing.T) {
	t.Parallel()
	e := setupLLM(t)
	e.production()
	task := e.task("run-large", "large", llmDeploy)
	st, seen := e.drive(task, 30, 20)
	require.Equal(t, PhasePromoted, st.Phase, st.Reason)
	require.Equal(t, []string{"shadow", "canary:50", "canary:100", "promoted"}, seen)
	prod, err := e.store.ProductionGet(context.Background(), "support-bot", "production")
	require.NoError(t, err)
	require.Equal(t, "p-large", prod.Version)
	mv, err := e.store.ModelVersionGet(context.Background(), "support-bot", "p-large")
	require.NoError(t, err)
	require.Equal(t, task.Candidate.Digest, mv.Digest)
	rt, _ := e.gw.Routes("support-bot")
	require.Equal(t, 30_000, rt.CandidateTimeoutMs, "a generation takes longer than a model server's 2 s")
	require.Equal(t, "p-large", rt.Stable.Version)
	require.Equal(t, task.Candidate.Digest, rt.Stable.Prompt.Digest, "the route serves the approved prompt")
	require.Equal(t, "large", rt.Stable.Prompt.Model)
	require.Equal(t, "You are Acme's support assistant. Be brief.", rt.Stable.Prompt.System)

	var shadow map[string]any
	for _, ev := range e.audit.OfType("deploy.analysed") {
		if ev.Data["phase"] == PhaseShadow {
			shadow = ev.Data
		}
		require.Equal(t, "successful", ev.Data["verdict"], ev.Data)
	}
	require.NotNil(t, shadow, "the shadow window is audited")
	// refund: normalised equal (F1 1); hours: identical; cancel: production
	// "go to settings and click cancel plan" (7 tokens), candidate "in
	// settings click cancel plan" (5), 4 shared: P 4/5, R 4/7, F1 = 2/3.
	// Traffic cycles refund, hours, cancel, so the mean is near (1+1+2/3)/3.
	require.InDelta(t, (1+1+2.0/3)/3, shadow["mean_f1"], 0.02)
	rep := e.agent.report(st)
	require.Equal(t, agents.Pass, rep.Verdict)
	require.Contains(t, rep.Summary, "shadow mean token F1")
	require.Contains(t, rep.Metrics, "shadow.mean_f1")
	require.Contains(t, rep.Metrics, "canary.completion_tokens")
	require.Contains(t, rep.Metrics, "canary.ttft_p95_ms")
	require.InDelta(t, 9, rep.Metrics["canary.completion_tokens"], 1e-9)
	// clients now get v2's prompt
	require.Equal(t, map[string]int{"p-large": 9}, e.traffic(9))
}

// TestLLMRolloutRollsBack: candidates that pass offline but not live.
func TestLLMRolloutRollsBack(t *testing.T) {
	t.Parallel()
	tests := []struct {
		model, phase, check string
	}{
		{"wrong", PhaseShadow, "mean_f1"},            // answers unlike production's
		{"broken", PhaseSmoke, "smoke test failed"},  // malformed answers from the first request
		{"flaky", PhaseShadow, "error_rate"},         // malformed answers to one question in three
		{"slow", PhaseCanary, "latency_p95_ms"},      // 300 ms on answers stable gives in ~1
		{"chatty", PhaseCanary, "completion_tokens"}, // four times the tokens
	}
	for _, tc := range tests {
		t.Run(tc.model, func(t *testing.T) {
			t.Parallel()
			e := setupLLM(t)
			e.production()
			deploy := llmDeploy
			if tc.phase == PhaseCanary {
				// no shadow phase: the canary's checks decide
				deploy = strings.Replace(deploy, "  shadow: {duration: 30s}\n", "  llm: {shadow: {mean_f1: {off: true}}}\n", 1)
			}
			st, _ := e.drive(e.task("run-"+tc.model, tc.model, deploy), 30, 20)
			require.Equal(t, PhaseRolledBack, st.Phase)
			require.Contains(t, st.Reason, tc.check)
			if tc.phase != PhaseSmoke {
				last := st.History[len(st.History)-1]
				require.Equal(t, tc.phase, last.Phase)
				an := e.audit.OfType("deploy.analysed")
				require.Equal(t, "failed", an[len(an)-1].Data["verdict"])
				raw, _ := json.Marshal(an[len(an)-1].Data["checks"])
				require.Contains(t, string(raw), tc.check)
			}
			rt, _ := e.gw.Routes("support-bot")
			require.Equal(t, "p1", rt.Stable.Version)
			require.Nil(t, rt.Candidate)
			prod, err := e.store.ProductionGet(context.Background(), "support-bot", "production")
			require.NoError(t, err)
			require.Equal(t, "p1", prod.Version)
			rb := e.audit.OfType("deploy.rollback")
			require.Len(t, rb, 1)
			require.Equal(t, map[string]int{"p1": 6}, e.traffic(6), "all traffic is back on p1")
		})
	}
}

func TestAnalyzeLLMCanary(t *testing.T) {
	t.Parallel()
	l := config.Deploy{}.LLMChecks()
	vs := func(req, errs uint64, p95, ttft, tokens float64) gateway.VersionStats {
		return gateway.VersionStats{Requests: req, Errors: errs, ErrorRate: float64(errs) / float64(req), LatencyP95Ms: p95,
			LLM: &gateway.LLMStats{Answers: req - errs, Streams: req / 3, TTFTP95Ms: ttft, CompletionTokensPerAnswer: tokens}}
	}
	stable := vs(100, 0, 200, 80, 10)
	tests := []struct {
		name  string
		cand  gateway.VersionStats
		phase Phase
		fails []string
	}{
		{"same", vs(100, 0, 210, 85, 10), Successful, nil},
		{"too few", vs(3, 0, 210, 85, 10), Inconclusive, nil},
		{"errors", vs(100, 5, 210, 85, 10), Failed, []string{"error_rate"}},
		{"slow: 2.5x and 300 ms more", vs(100, 0, 500, 85, 10), Failed, []string{"latency_p95_ms"}},
		{"slow first token", vs(100, 0, 210, 400, 10), Failed, []string{"ttft_p95_ms"}},
		{"chatty", vs(100, 0, 210, 85, 16), Failed, []string{"completion_tokens"}},
		{"3x stable and 400 ms more", vs(100, 0, 600, 85, 10), Failed, []string{"latency_p95_ms"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			an := AnalyzeLLMCanary(LLMCanaryParams{Checks: l.Canary, SlackMs: *l.SlackMs, MinRequests: 20, Candidate: tc.cand, Stable: stable, HasStable: true})
			require.Equal(t, tc.phase, an.Phase, "%+v", an.Measurements)
			var failed []string
			for _, m := range an.Failures() {
				failed = append(failed, m.Check)
			}
			require.Equal(t, tc.fails, failed)
		})
	}
	t.Run("slack", func(t *testing.T) {
		t.Parallel()
		fast := vs(100, 0, 1, 1, 10)
		an := AnalyzeLLMCanary(LLMCanaryParams{Checks: l.Canary, SlackMs: 50, MinRequests: 20, Candidate: vs(100, 0, 3, 2.5, 10), Stable: fast, HasStable: true})
		require.Equal(t, Successful, an.Phase, "3 ms against 1 ms is within the slack: %+v", an.Measurements)
		an = AnalyzeLLMCanary(LLMCanaryParams{Checks: l.Canary, SlackMs: 1, MinRequests: 20, Candidate: vs(100, 0, 3, 2.5, 10), Stable: fast, HasStable: true})
		require.Equal(t, Failed, an.Phase)
	})
}

// TestLLMBlueGreen: a prompt version switched all at once is watched on
// the LLM checks' absolute bounds and promoted, or switched back.
func TestLLMBlueGreen(t *testing.T) {
	t.Parallel()
	const bg = `deploy:
  strategy: bluegreen
  min_requests: 5
  bluegreen: {rollback_window: 1m, interval: 30s}
  llm: {canary: {latency_p95_ms: {max: 250}}}
`
	for _, tc := range []struct {
		model, phase string
	}{{"large", PhasePromoted}, {"slow", PhaseRolledBack}} {
		t.Run(tc.model, func(t *testing.T) {
			t.Parallel()
			e := setupLLM(t)
			e.production()
			st, seen := e.drive(e.task("run-bg-"+tc.model, tc.model, bg), 20, 20)
			require.Equal(t, tc.phase, st.Phase, "%v %s", seen, st.Reason)
			require.Contains(t, seen, PhaseSwitch)
			if tc.phase == PhaseRolledBack {
				require.Contains(t, st.Reason, "latency_p95_ms")
			}
		})
	}
}
