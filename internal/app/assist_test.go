package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/log"
	openai "github.com/sashabaranov/go-openai"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/coordinator"
	"github.com/modelgate/modelgate/internal/app"
	"github.com/modelgate/modelgate/internal/auth"
	"github.com/modelgate/modelgate/internal/llm"
	"github.com/modelgate/modelgate/internal/llm/llmtest"
	"github.com/modelgate/modelgate/internal/store"
)

// TestBriefEndToEnd runs the bundled example on a real server whose LLM is
// the scripted local endpoint: the first run's grounded brief is shown as
// the LLM's, the second run's brief (a number not in the evidence) is
// rejected, counted, and replaced by the template, and neither changes the
// approval the policy asked for.
func TestBriefEndToEnd(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	briefs := []llmtest.Responder{
		llmtest.Text("Candidate v2 of tumor-classifier awaits review [change:candidate].\nThe policy asks reviewers because of the risk [policy:decision]."),
		llmtest.Text("roc_auc improved by 0.25 [metric:roc_auc]."),
	}
	var mu sync.Mutex
	// Briefs come without tools, in order; a triage (tools offered) first
	// compares with the earlier run, then reports.
	endpoint := llmtest.New(t, func(r openai.ChatCompletionRequest) llmtest.Reply {
		mu.Lock()
		defer mu.Unlock()
		if len(r.Tools) == 0 {
			next := briefs[0]
			if len(briefs) > 1 {
				briefs = briefs[1:]
			}
			return next(r)
		}
		if r.Messages[len(r.Messages)-1].Role != "tool" {
			return llmtest.Call("compare_run", `{}`)(r)
		}
		return llmtest.Call("report_causes", `{"causes":[{"cause":"a reviewer rejected the candidate","citations":["policy:decision"]}]}`)(r)
	})
	s, err := app.Build(ctx, app.Options{DataDir: t.TempDir(), NoDeploy: true, Logger: log.NewWithOptions(io.Discard, log.Options{}),
		LLM: llm.Config{BaseURL: endpoint.BaseURL(), Model: "test-model", MaxRetries: -1}})
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.Start(ctx))
	var token string
	for _, tk := range s.Tokens {
		if slices.Contains(tk.Roles, "admin") {
			token = tk.Token
		}
	}
	get := func(path string, out any) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, "GET", path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		rec := &recorder{header: http.Header{}}
		s.Handler.ServeHTTP(rec, req)
		require.Equal(t, 200, rec.status, rec.body.String())
		if out != nil {
			require.NoError(t, json.Unmarshal([]byte(rec.body.String()), out))
		}
	}
	example, err := filepath.Abs("demo/example")
	require.NoError(t, err)
	cfg, err := os.ReadFile(filepath.Join(example, "modelgate.yaml"))
	require.NoError(t, err)

	for i, want := range []struct{ source, rejected string }{{"llm", ""}, {"template", "ungrounded_number: states 0.25"}} {
		run, _, err := s.Coordinator.Submit(ctx, coordinator.SubmitParams{Config: cfg, BaseDir: example, Requester: "ci-bot", CommitAuthor: "dev-dana",
			Labels: map[string]string{"n": string(rune('0' + i))}})
		require.NoError(t, err)
		run, err = s.Coordinator.Wait(ctx, run.ID, true)
		require.NoError(t, err)
		require.Equal(t, store.RunAwaitingApproval, run.State, run.Error)
		var approvals struct {
			Approvals []struct {
				ID    string `json:"id"`
				State string `json:"state"`
				Brief struct {
					Source         string `json:"source"`
					RejectedReason string `json:"rejected_reason"`
				} `json:"brief"`
			} `json:"approvals"`
		}
		require.Eventually(t, func() bool {
			approvals.Approvals = nil
			get("/v1/approvals?run_id="+run.ID, &approvals)
			for _, a := range approvals.Approvals {
				if a.Brief.Source == want.source && strings.Contains(a.Brief.RejectedReason, want.rejected) && (want.rejected != "" || a.Brief.Source == "llm") {
					return true
				}
			}
			return false
		}, 30*time.Second, 50*time.Millisecond, "run %d: %+v", i, approvals)
		var view struct {
			State string `json:"state"`
			Brief struct {
				Source string `json:"source"`
			} `json:"brief"`
			Usage struct {
				Calls int `json:"calls"`
			} `json:"assist_usage"`
		}
		get("/v1/runs/"+run.ID, &view)
		require.Equal(t, want.source, view.Brief.Source)
		require.Equal(t, "awaiting_approval", view.State, "the brief changes no state")
		require.Equal(t, 1, view.Usage.Calls)
	}
	// a rejected approval fails the run; the triage follows, from the loop
	var pending struct {
		Approvals []struct {
			ID    string `json:"id"`
			RunID string `json:"run_id"`
		} `json:"approvals"`
	}
	get("/v1/approvals?state=pending", &pending)
	require.NotEmpty(t, pending.Approvals)
	a := pending.Approvals[0]
	_, err = s.Queue.Reject(ctx, a.ID, auth.Principal{Subject: "rita", Roles: []string{"reviewer"}, Groups: []string{"ml-reviewers"}}, "not this week")
	require.NoError(t, err)
	var failed struct {
		State  string `json:"state"`
		Triage *struct {
			Source    string `json:"source"`
			ToolCalls int    `json:"tool_calls"`
			Causes    []struct {
				Cause string `json:"cause"`
			} `json:"causes"`
			Transcript []struct {
				Tool, Result string
			} `json:"transcript"`
		} `json:"triage"`
	}
	require.Eventually(t, func() bool {
		failed.Triage = nil
		get("/v1/runs/"+a.RunID, &failed)
		return failed.Triage != nil && failed.Triage.Source == "llm"
	}, 30*time.Second, 50*time.Millisecond, "%+v", failed.Triage)
	require.Equal(t, "failed", failed.State)
	require.Equal(t, "a reviewer rejected the candidate", failed.Triage.Causes[0].Cause)
	require.Equal(t, 2, failed.Triage.ToolCalls)
	require.Contains(t, failed.Triage.Transcript[1].Result, "earlier:", "compare_run read the model's earlier run")

	rec := &recorder{header: http.Header{}}
	s.Handler.ServeHTTP(rec, httptestRequest(ctx, "/metrics"))
	metrics := rec.body.String()
	require.Contains(t, metrics, `modelgate_llm_requests_total{outcome="ok",purpose="brief"} 2`)
	require.Contains(t, metrics, `modelgate_llm_output_rejected_total{kind="brief",reason="ungrounded_number"} 1`)
	require.Contains(t, metrics, `modelgate_llm_tokens_total{kind="prompt",purpose="brief"} 200`)
}

type recorder struct {
	header http.Header
	status int
	body   strings.Builder
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = 200
	}
	return r.body.Write(b)
}
func (r *recorder) WriteHeader(s int) { r.status = s }

func httptestRequest(ctx context.Context, path string) *http.Request {
	req, _ := http.NewRequestWithContext(ctx, "GET", path, nil)
	return req
}
