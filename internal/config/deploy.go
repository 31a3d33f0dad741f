package config

import (
	"fmt"
	"net/url"
	"time"
)

// Deploy configures the rollout (deployment agent). A rollout optionally
// starts with a shadow phase (mirrored traffic, answers compared with
// production's), then follows the strategy: canary (growing traffic
// share, analysed at every step) or bluegreen (preview smoke test, one
// atomic switch, the old version kept for instant rollback).
type Deploy struct {
	Target    Target    `yaml:"target" json:"target"`
	Strategy  string    `yaml:"strategy" json:"strategy"` // canary | bluegreen
	Shadow    *Shadow   `yaml:"shadow" json:"shadow,omitempty"`
	Canary    Canary    `yaml:"canary" json:"canary"`
	BlueGreen BlueGreen `yaml:"bluegreen" json:"bluegreen"`
	Smoke     Smoke     `yaml:"smoke" json:"smoke"`
	Sticky    string    `yaml:"sticky_header" json:"sticky_header,omitempty"` // request header whose value pins a client to one version
	Threshold float64   `yaml:"threshold" json:"threshold,omitempty"`         // class boundary for single-score agreement; default evaluation.threshold
	Tick      Duration  `yaml:"tick" json:"tick"`                             // how often the rollout loop re-reads its state; default 1s
	Timeout   Duration  `yaml:"timeout" json:"timeout"`                       // whole rollout; default 1h
	MinReqs   int       `yaml:"min_requests" json:"min_requests"`             // per version per analysis; fewer is "no data"; default 20
	Inconcl   int       `yaml:"max_inconclusive" json:"max_inconclusive"`     // no-data analyses in a row before rolling back; default 3
	// CandidateTimeout bounds each gateway call to the candidate; past it
	// stable answers and the call counts as a candidate error. 0 = the
	// gateway's default (2s).
	CandidateTimeout Duration `yaml:"candidate_timeout" json:"candidate_timeout,omitzero"`
	LLM              LLMRules `yaml:"llm" json:"llm"` // task: llm rollouts' checks (deploy_llm.go)
	// Absent is set by Parse when the file has no deploy section: such a
	// run is promoted in the registry only (Pipeline.Skips("deploy")),
	// rather than rolled out with defaults to a gateway that may have no
	// traffic for it, where it could only be rolled back.
	Absent bool `yaml:"-" json:"-"`
}

// Target is where the candidate is served from.
type Target struct {
	Upstream string       `yaml:"upstream" json:"upstream,omitempty"` // base URL of a V2 server already serving the candidate
	Name     string       `yaml:"name" json:"name,omitempty"`         // model name at the upstream; default candidate.name
	Local    *LocalTarget `yaml:"local" json:"local,omitempty"`
	// AllowUnverified serves the candidate from an upstream that does not
	// list the candidate's digest in its V2 metadata. It is a request, not
	// a permission: the promotion policy denies it unless its settings
	// allow unverified upstreams, and then lists it among its reasons.
	AllowUnverified bool `yaml:"allow_unverified" json:"allow_unverified,omitempty"`
}

// LocalTarget is a model server the coordinator starts and supervises.
type LocalTarget struct {
	Model string `yaml:"model" json:"model"`
}

// Shadow mirrors live traffic to the candidate; its answers never reach
// a client but are compared with production's.
type Shadow struct {
	Duration Duration     `yaml:"duration" json:"duration"` // default 2m
	Share    float64      `yaml:"share" json:"share"`       // share of requests mirrored; default 1.0
	Checks   ShadowChecks `yaml:"checks" json:"checks"`
}

// ShadowChecks are the pass criteria of the shadow phase.
type ShadowChecks struct {
	Agreement    Bound `yaml:"agreement" json:"agreement"`           // share of rows with the same class; default min 0.95
	ErrorRate    Bound `yaml:"error_rate" json:"error_rate"`         // shadow errors / shadow requests; default max 0.01
	LatencyP99Ms Bound `yaml:"latency_p99_ms" json:"latency_p99_ms"` // shadow p99 in ms
	ScoreDelta   Bound `yaml:"score_delta" json:"score_delta"`       // mean |Δscore| between shadow and primary
}

// Canary shifts a growing share of traffic to the candidate.
type Canary struct {
	Steps           []int        `yaml:"steps" json:"steps"`                         // percent of traffic; default [5, 25, 50, 100]
	Interval        Duration     `yaml:"interval" json:"interval"`                   // analysis window per step; default 30s
	MaxFailedChecks int          `yaml:"max_failed_checks" json:"max_failed_checks"` // failed analyses before rollback; default 2
	Checks          CanaryChecks `yaml:"checks" json:"checks"`
}

// CanaryChecks are the analyses run at each step, candidate against
// stable over the same window.
type CanaryChecks struct {
	ErrorRate    Bound        `yaml:"error_rate" json:"error_rate"`         // default max 0.01
	LatencyP99Ms Bound        `yaml:"latency_p99_ms" json:"latency_p99_ms"` // absolute max and/or max_ratio over stable
	ScorePSI     Bound        `yaml:"score_psi" json:"score_psi"`           // default max 0.2
	ScoreKS      Bound        `yaml:"score_ks" json:"score_ks"`             // KS statistic
	MannWhitney  *MannWhitney `yaml:"mann_whitney" json:"mann_whitney,omitempty"`
}

// MannWhitney fails a step when the candidate's scores differ from
// stable's significantly (p < alpha) and by more than an effect size
// (|rank-biserial correlation| > max_effect), as Kayenta's judge does.
type MannWhitney struct {
	Alpha     float64 `yaml:"alpha" json:"alpha"`           // default 0.05
	MaxEffect float64 `yaml:"max_effect" json:"max_effect"` // default 0.2
}

// BlueGreen starts the candidate beside stable, smoke-tests it through a
// preview route, switches all traffic at once and keeps stable ready.
type BlueGreen struct {
	RollbackWindow Duration     `yaml:"rollback_window" json:"rollback_window"` // watch after the switch; default 5m
	Interval       Duration     `yaml:"interval" json:"interval"`               // analysis window during it; default 30s
	Checks         CanaryChecks `yaml:"checks" json:"checks"`                   // error_rate and latency_p99_ms apply
}

// Smoke is the check every candidate passes before it sees traffic.
type Smoke struct {
	Rows int `yaml:"rows" json:"rows"` // holdout rows sent through the preview route; default 20
}

// Bound limits a measurement. MaxRatio compares with stable over the same
// window (candidate / stable); when stable's value is zero the ratio is
// undefined and only Max applies.
type Bound struct {
	Min      *float64 `yaml:"min" json:"min,omitempty"`
	Max      *float64 `yaml:"max" json:"max,omitempty"`
	MaxRatio *float64 `yaml:"max_ratio" json:"max_ratio,omitempty"`
	// Off switches a check off, defaults included ({off: true}): a
	// retrained model may legitimately move its score distribution.
	Off bool `yaml:"off" json:"off,omitempty"`
}

// Set reports whether the bound limits anything.
func (b Bound) Set() bool { return !b.Off && (b.Min != nil || b.Max != nil || b.MaxRatio != nil) }

// unset reports whether a default should fill the bound.
func (b Bound) unset() bool { return !b.Off && !b.Set() }

func ptr(f float64) *float64 { return &f }

func (c *Deploy) setDefaults() {
	if c.Strategy == "" {
		c.Strategy = "canary"
	}
	if c.Tick.Duration == 0 {
		c.Tick.Duration = time.Second
	}
	if c.Timeout.Duration == 0 {
		c.Timeout.Duration = time.Hour
	}
	if c.MinReqs == 0 {
		c.MinReqs = 20
	}
	if c.Inconcl == 0 {
		c.Inconcl = 3
	}
	if c.Smoke.Rows == 0 {
		c.Smoke.Rows = 20
	}
	if s := c.Shadow; s != nil {
		if s.Duration.Duration == 0 {
			s.Duration.Duration = 2 * time.Minute
		}
		if s.Share == 0 {
			s.Share = 1
		}
		if s.Checks.Agreement.unset() {
			s.Checks.Agreement.Min = ptr(0.95)
		}
		if s.Checks.ErrorRate.unset() {
			s.Checks.ErrorRate.Max = ptr(0.01)
		}
	}
	if len(c.Canary.Steps) == 0 {
		c.Canary.Steps = []int{5, 25, 50, 100}
	}
	if c.Canary.Interval.Duration == 0 {
		c.Canary.Interval.Duration = 30 * time.Second
	}
	if c.Canary.MaxFailedChecks == 0 {
		c.Canary.MaxFailedChecks = 2
	}
	c.Canary.Checks.setDefaults()
	if c.BlueGreen.RollbackWindow.Duration == 0 {
		c.BlueGreen.RollbackWindow.Duration = 5 * time.Minute
	}
	if c.BlueGreen.Interval.Duration == 0 {
		c.BlueGreen.Interval.Duration = 30 * time.Second
	}
	if c.BlueGreen.Checks.ErrorRate.unset() {
		c.BlueGreen.Checks.ErrorRate.Max = ptr(0.01)
	}
}

func (c *CanaryChecks) setDefaults() {
	if c.ErrorRate.unset() {
		c.ErrorRate.Max = ptr(0.01)
	}
	if c.ScorePSI.unset() {
		c.ScorePSI.Max = ptr(0.2)
	}
	if m := c.MannWhitney; m != nil {
		if m.Alpha == 0 {
			m.Alpha = 0.05
		}
		if m.MaxEffect == 0 {
			m.MaxEffect = 0.2
		}
	}
}

func (c *Deploy) validate(v *validator) {
	c.validateLLM(v)
	if c.Strategy != "canary" && c.Strategy != "bluegreen" {
		v.add("deploy.strategy", "must be canary or bluegreen")
	}
	if c.Target.Upstream != "" && c.Target.Local != nil {
		v.add("deploy.target", "give upstream or local, not both")
	}
	if u := c.Target.Upstream; u != "" {
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			v.add("deploy.target.upstream", fmt.Sprintf("must be an http(s) URL such as http://127.0.0.1:9001, got %q", u))
		}
	}
	if c.Target.AllowUnverified && c.Target.Local != nil {
		v.add("deploy.target.allow_unverified", "applies to an upstream; a local target is always served from the verified candidate")
	}
	if c.Target.Local != nil && c.Target.Local.Model == "" {
		v.add("deploy.target.local.model", "is required (path of the model file to serve)")
	}
	if c.Sticky != "" && !validHeader(c.Sticky) {
		v.add("deploy.sticky_header", fmt.Sprintf("%q is not a valid HTTP header name", c.Sticky))
	}
	if c.Threshold < 0 || c.Threshold >= 1 {
		v.add("deploy.threshold", "must be between 0 and 1")
	}
	positive(v, "deploy.tick", c.Tick)
	positive(v, "deploy.timeout", c.Timeout)
	if c.CandidateTimeout.Duration < 0 {
		v.add("deploy.candidate_timeout", "must be a positive duration")
	}
	if c.MinReqs < 1 {
		v.add("deploy.min_requests", "must be at least 1")
	}
	if c.Inconcl < 1 {
		v.add("deploy.max_inconclusive", "must be at least 1")
	}
	if c.Smoke.Rows < 0 || c.Smoke.Rows > 10000 {
		v.add("deploy.smoke.rows", "must be between 0 and 10000")
	}
	if s := c.Shadow; s != nil {
		positive(v, "deploy.shadow.duration", s.Duration)
		if s.Share <= 0 || s.Share > 1 {
			v.add("deploy.shadow.share", "must be in (0, 1]")
		}
		s.Checks.Agreement.validate(v, "deploy.shadow.checks.agreement", true)
		s.Checks.ErrorRate.validate(v, "deploy.shadow.checks.error_rate", true)
		s.Checks.LatencyP99Ms.validate(v, "deploy.shadow.checks.latency_p99_ms", false)
		s.Checks.ScoreDelta.validate(v, "deploy.shadow.checks.score_delta", false)
	}
	prev := 0
	for i, s := range c.Canary.Steps {
		f := fmt.Sprintf("deploy.canary.steps[%d]", i)
		if s < 1 || s > 100 {
			v.add(f, fmt.Sprintf("must be a percentage between 1 and 100, got %d", s))
		} else if s <= prev {
			v.add(f, fmt.Sprintf("steps must increase: %d after %d", s, prev))
		}
		prev = s
	}
	positive(v, "deploy.canary.interval", c.Canary.Interval)
	if c.Canary.MaxFailedChecks < 1 {
		v.add("deploy.canary.max_failed_checks", "must be at least 1")
	}
	c.Canary.Checks.validate(v, "deploy.canary.checks")
	positive(v, "deploy.bluegreen.rollback_window", c.BlueGreen.RollbackWindow)
	positive(v, "deploy.bluegreen.interval", c.BlueGreen.Interval)
	c.BlueGreen.Checks.validate(v, "deploy.bluegreen.checks")
}

func (c *CanaryChecks) validate(v *validator, field string) {
	c.ErrorRate.validate(v, field+".error_rate", true)
	c.LatencyP99Ms.validate(v, field+".latency_p99_ms", false)
	c.ScorePSI.validate(v, field+".score_psi", false)
	c.ScoreKS.validate(v, field+".score_ks", true)
	if m := c.MannWhitney; m != nil {
		if m.Alpha <= 0 || m.Alpha >= 1 {
			v.add(field+".mann_whitney.alpha", "must be strictly between 0 and 1")
		}
		if m.MaxEffect <= 0 || m.MaxEffect > 1 {
			v.add(field+".mann_whitney.max_effect", "must be in (0, 1]")
		}
	}
}

func (b Bound) validate(v *validator, field string, unit bool) {
	if b.Off && (b.Min != nil || b.Max != nil || b.MaxRatio != nil) {
		v.add(field, "off: true switches the check off; remove min/max/max_ratio or the off")
	}
	check := func(name string, p *float64) {
		if p == nil {
			return
		}
		if *p < 0 {
			v.add(field+"."+name, "must not be negative")
		} else if unit && name != "max_ratio" && *p > 1 {
			v.add(field+"."+name, "is a fraction and must be between 0 and 1")
		}
	}
	check("min", b.Min)
	check("max", b.Max)
	check("max_ratio", b.MaxRatio)
	if b.Min != nil && b.Max != nil && *b.Min > *b.Max {
		v.add(field, "min is greater than max")
	}
}

func positive(v *validator, field string, d Duration) {
	if d.Duration <= 0 {
		v.add(field, "must be a positive duration")
	}
}

func validHeader(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return s != ""
}
