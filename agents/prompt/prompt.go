package prompt

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/internal/config"
	"github.com/modelgate/modelgate/internal/llm"
	"github.com/modelgate/modelgate/tools/llmeval"
)

// Options configure the prompt stages.
type Options struct {
	// Allow lists the endpoints that may be called (--llm-endpoint-allow);
	// Allow.Any for run --local.
	Allow llm.Allowlist
	// Prices by model name, per million tokens: the operator's table
	// (--llm-price). run --local passes the pipeline's llm.prices.
	Prices     map[string]llmeval.Price
	APIKey     string // sent to every allowed endpoint (MODELGATE_LLM_API_KEY)
	HTTPClient *http.Client
	Sleep      func(time.Duration) // between retries; tests skip the wait
	Resamples  int                 // bootstrap resamples; default 2000
	Metrics    *llm.Metrics
}

// Wrap returns an agent that runs the prompt stage of stage for task: llm
// pipelines and next for every other task. Its name is next's, so reports
// and policies address the stage as before.
func Wrap(stage string, next agents.Agent, o Options) agents.Agent {
	return &wrapped{stage: stage, next: next, o: o}
}

type wrapped struct {
	stage string
	next  agents.Agent
	o     Options
}

func (w *wrapped) Name() string { return w.next.Name() }

func (w *wrapped) Run(ctx context.Context, task agents.Task) (agents.Report, error) {
	if task.Config == nil || task.Config.Task != "llm" {
		return w.next.Run(ctx, task)
	}
	r := &runner{o: w.o, task: task, cfg: task.Config, llm: task.Config.LLMDefaults()}
	rep := agents.Report{Agent: w.next.Name(), Stage: w.stage, Verdict: agents.Pass, Metrics: map[string]float64{}, Findings: []agents.Finding{}}
	var err error
	switch w.stage {
	case "validate":
		err = r.validate(ctx, &rep)
	case "test":
		err = r.test(ctx, &rep)
	case "scan":
		err = r.scan(ctx, &rep)
	case "evaluate":
		err = r.evaluate(ctx, &rep)
	default:
		return w.next.Run(ctx, task)
	}
	if err != nil {
		return agents.Report{}, err
	}
	for _, f := range rep.Findings {
		switch f.Severity {
		case agents.Critical, agents.High:
			rep.Verdict = agents.Fail
		case agents.Medium:
			rep.Verdict = agents.Worst(rep.Verdict, agents.Warn)
		}
	}
	return rep, nil
}

// runner holds one stage's inputs.
type runner struct {
	o    Options
	task agents.Task
	cfg  *config.Pipeline
	llm  config.LLM
}

// file is an input read with its digest.
type file struct {
	Field  string `json:"field"`
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	data   []byte
}

func readFile(field, path string) (file, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return file{}, fmt.Errorf("%s: %w", field, err)
	}
	sum := sha256.Sum256(b)
	return file{Field: field, Path: path, SHA256: "sha256:" + hex.EncodeToString(sum[:]), data: b}, nil
}

func (r *runner) promptPath() string {
	if p := r.task.Candidate.ArtifactPath; p != "" {
		return p
	}
	return r.task.Path(r.cfg.Candidate.Artifact)
}

func (r *runner) loadPrompt() (*llmeval.Prompt, file, error) {
	f, err := readFile("candidate.artifact", r.promptPath())
	if err != nil {
		return nil, f, err
	}
	p, err := llmeval.ParsePrompt(r.cfg.Candidate.Artifact, f.data)
	return p, f, err
}

func (r *runner) loadSuite(field, path string) (*llmeval.Suite, file, error) {
	f, err := readFile(field, r.task.Path(path))
	if err != nil {
		return nil, f, err
	}
	s, err := llmeval.ParseSuite(path, f.data)
	return s, f, err
}

// chat builds the client of an endpoint, or the finding that it may not be called.
func (r *runner) chat(role, endpoint string) (llmeval.Completer, *agents.Finding) {
	c, err := llm.NewChat(llm.ChatConfig{BaseURL: endpoint, APIKey: r.o.APIKey, Allow: r.o.Allow, Timeout: r.llm.Timeout.Duration,
		MaxRetries: retries(r.llm.Retries), HTTPClient: r.o.HTTPClient, Sleep: r.o.Sleep, Metrics: r.o.Metrics})
	if err != nil {
		return nil, &agents.Finding{ID: "llm-endpoint-" + role, Severity: agents.Critical, Code: "llm.endpoint_not_allowed", Subject: role,
			Message: fmt.Sprintf("the %s endpoint may not be called: %v", role, err), Evidence: map[string]any{"endpoint": endpoint}}
	}
	return c.Complete, nil
}

func retries(n int) int {
	if n == 0 {
		return 0 // the client's default
	}
	return n
}

// judgeEndpoint is where llm-rubric assertions are judged.
func judgeOf(s *llmeval.Suite, p *llmeval.Prompt) (endpoint, model string) {
	endpoint, model = s.Judge.Endpoint, s.Judge.Model
	if endpoint == "" {
		endpoint = p.Endpoint
	}
	if model == "" {
		model = p.Model
	}
	return endpoint, model
}

func needsJudge(suites ...*llmeval.Suite) bool {
	for _, s := range suites {
		if s == nil {
			continue
		}
		for _, c := range append(s.Tests, s.DefaultTest) {
			for _, a := range c.Assert {
				if a.Type == "llm-rubric" {
					return true
				}
			}
		}
	}
	return false
}

func badInput(id, code, subject string, err error) agents.Finding {
	return agents.Finding{ID: id, Severity: agents.High, Code: code, Subject: subject, Message: err.Error()}
}
