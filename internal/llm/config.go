package llm

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/modelgate/modelgate/internal/config"
)

// EnvAPIKey names the environment variable the key is read from, so that it
// never appears in a command line, a config file or a process listing.
const EnvAPIKey = "MODELGATE_LLM_API_KEY"

// Defaults, chosen for a local model on a laptop (Ollama answers a brief in
// seconds, a cold load can take tens of seconds) and a cap on what one run
// may spend: a brief and a triage fit in a few thousand tokens.
const (
	DefaultTimeout     = 60 * time.Second
	DefaultMaxRetries  = 3
	DefaultBackoff     = 500 * time.Millisecond
	DefaultRunBudget   = 20000
	DefaultMaxTokens   = 800
	maxRetryAfter      = 30 * time.Second
	maxResponseBodyLen = 4 << 20
)

var (
	// ErrDisabled is returned by a nil *Client: no LLM is configured.
	ErrDisabled = errors.New("llm: no LLM configured")
	// ErrBudget is returned when a call would take a run over its token budget.
	ErrBudget = errors.New("llm: the run's token budget is spent")
	// ErrEgress is returned when a request body still holds something that
	// looks like a credential after masking; it is never sent.
	ErrEgress = errors.New("llm: request refused: it would carry a credential")
	// ErrEmpty is returned when the model answered nothing usable (no text,
	// no tool call: a refusal, a filter, an empty choice list).
	ErrEmpty = errors.New("llm: empty answer")
)

// Config says where the model is and what the client may spend. The zero
// value (no BaseURL) means no LLM.
type Config struct {
	BaseURL string // e.g. http://localhost:11434/v1 (Ollama), https://api.openai.com/v1
	Model   string // e.g. llama3.1:8b, gpt-4o-mini
	APIKey  string // from MODELGATE_LLM_API_KEY; local servers accept any value
	// Timeout bounds one HTTP attempt, including reading the answer.
	Timeout    time.Duration
	MaxRetries int           // attempts after the first on 429, 5xx and network errors
	Backoff    time.Duration // first wait; doubles per attempt, with jitter
	// RunTokenBudget caps prompt+completion tokens one run may use over all
	// its calls (brief, triage, ask).
	RunTokenBudget int
	MaxTokens      int // completion tokens asked for per call
	// Prices in US dollars per million tokens, for the cost shown per run;
	// zero means unknown (a local model), and cost stays 0.
	PromptPricePerMTok     float64
	CompletionPricePerMTok float64
	HTTPClient             *http.Client
	Registerer             prometheus.Registerer
	// Sleep waits between retries; tests replace it to run without waiting.
	Sleep func(time.Duration)
}

// Enabled reports whether the config names an endpoint.
func (c Config) Enabled() bool { return c.BaseURL != "" }

func (c Config) withDefaults() (Config, error) {
	if c.Model == "" {
		return c, errors.New("llm: --llm-model is required with --llm-base-url")
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c, fmt.Errorf("llm: base URL %q: want http(s)://host[:port]/path", c.BaseURL)
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxRetries < 0 {
		c.MaxRetries = 0
	} else if c.MaxRetries == 0 {
		c.MaxRetries = DefaultMaxRetries
	}
	if c.Backoff <= 0 {
		c.Backoff = DefaultBackoff
	}
	if c.RunTokenBudget <= 0 {
		c.RunTokenBudget = DefaultRunBudget
	}
	if c.MaxTokens <= 0 {
		c.MaxTokens = DefaultMaxTokens
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	if c.Sleep == nil {
		c.Sleep = time.Sleep
	}
	if c.APIKey == "" {
		// langchaingo refuses an empty token; local servers ignore it.
		c.APIKey = "none"
	}
	return c, nil
}

// FromAssist is the client config of a pipeline's `assist:` section (run
// --local), with the key from the environment.
func FromAssist(a *config.Assist, apiKey string) Config {
	if a == nil {
		return Config{}
	}
	return Config{BaseURL: a.BaseURL, Model: a.Model, APIKey: apiKey, Timeout: a.Timeout.Duration,
		MaxRetries: a.MaxRetries, RunTokenBudget: a.TokenBudget,
		PromptPricePerMTok: a.PromptPrice, CompletionPricePerMTok: a.OutputPrice}
}
