package triggers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/modelgate/modelgate/internal/blob"
	"github.com/modelgate/modelgate/internal/config"
	"github.com/modelgate/modelgate/internal/store"
)

// Settings is what an admin configured for one model.
type Settings struct {
	Model string `json:"model"`
	// Pipeline is what a retraining run (GitHub, schedule, drift) runs.
	Pipeline *Pipeline `json:"pipeline,omitempty"`
	// Deploy is what `/modelgate deploy MODEL VERSION` runs: a pipeline
	// without train:, whose candidate.artifact becomes the version's blob.
	// Empty means Pipeline, when that one does not train.
	Deploy   *Pipeline `json:"deploy,omitempty"`
	Slack    *Slack    `json:"slack,omitempty"`
	Webhooks []Webhook `json:"webhooks,omitempty"`
	Schedule *Schedule `json:"schedule,omitempty"`
	GitHub   *GitHub   `json:"github,omitempty"`
	Monitor  *Monitor  `json:"monitor,omitempty"` // the production monitor (monitor_settings.go)

	UpdatedBy string    `json:"updated_by,omitempty"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// Pipeline is a run's config text and its inputs by blob digest, as in
// POST /v1/runs.
type Pipeline struct {
	Config string            `json:"config"`
	Files  map[string]string `json:"files,omitempty"`
}

// Slack says where a model's notifications go.
type Slack struct {
	Channel string `json:"channel"` // channel id (C…) or name
}

// Webhook is an outgoing webhook: run events as JSON, signed with Secret
// (X-Modelgate-Signature-256: sha256=HMAC-SHA256(secret, body)).
type Webhook struct {
	URL    string   `json:"url"`
	Secret string   `json:"secret"`
	Events []string `json:"events,omitempty"` // empty = every event
}

// Missed-run policies of a schedule after downtime.
const (
	MissedSkip    = "skip"     // ticks that passed while the server was down start nothing
	MissedRunOnce = "run_once" // the latest missed tick starts one run (the default)
)

// Schedule starts a retraining run on a cron expression.
type Schedule struct {
	Cron string `json:"cron"` // five fields, or @daily, @every 6h...
	// Missed is what happens to ticks that fell while no server ran:
	// run_once (default) starts one run for the latest of them if it is
	// younger than MaxLateness, skip starts none.
	Missed      string          `json:"missed,omitempty"`
	MaxLateness config.Duration `json:"max_lateness,omitzero"` // default 24h
}

// GitHub matches repository events to the model: a push to one of
// Branches (default the repository's default branch), a completed
// successful workflow run, or a published release, whose changed files
// include one under Paths, starts a retraining run.
type GitHub struct {
	Repository string   `json:"repository"` // owner/name
	Paths      []string `json:"paths"`      // training-code folders or files, repository-relative
	Branches   []string `json:"branches,omitempty"`
	Events     []string `json:"events,omitempty"` // push | workflow_run | release; default all
}

// Event names notifications and webhooks use.
const (
	EventRunStarted       = "run.started"
	EventAwaitingApproval = "run.awaiting_approval"
	EventPromoted         = "run.promoted"
	EventRolledBack       = "run.rolled_back"
	EventRunFailed        = "run.failed"
	EventDriftAlert       = "drift.alert"
)

// Events lists every event name, for validation and docs.
var Events = []string{EventRunStarted, EventAwaitingApproval, EventPromoted, EventRolledBack, EventRunFailed, EventDriftAlert}

var (
	modelName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
	repoName  = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$`)
)

// Blobs is what validation asks of the blob store.
type Blobs interface {
	Stat(ctx context.Context, digest string) (blob.Info, error)
}

// Validate checks settings for model; blobs, when set, must hold every
// file the pipelines name. Every problem is reported, by field.
func (s *Settings) Validate(ctx context.Context, model string, blobs Blobs) error {
	var errs []error
	add := func(field, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, a...)))
	}
	if !modelName.MatchString(model) {
		add("model", "%q is not a model name", clip(model))
	}
	if s.Model != "" && s.Model != model {
		add("model", "%q does not match the model in the path (%s)", clip(s.Model), model)
	}
	s.Model = model
	if s.Pipeline != nil {
		if _, err := s.Pipeline.check(ctx, "pipeline", model, blobs); err != nil {
			errs = append(errs, err)
		}
	}
	if s.Deploy != nil {
		cfg, err := s.Deploy.check(ctx, "deploy", model, blobs)
		switch {
		case err != nil:
			errs = append(errs, err)
		case cfg.Train != nil:
			add("deploy.config", "has a train: section; a deploy runs an existing version, so it must not train")
		case cfg.Candidate.Artifact == "":
			add("deploy.config", "candidate.artifact is required: it is where the deployed version's artifact is laid out")
		}
	}
	if s.Slack != nil && strings.TrimSpace(s.Slack.Channel) == "" {
		add("slack.channel", "is required")
	}
	for i, w := range s.Webhooks {
		f := fmt.Sprintf("webhooks[%d]", i)
		u, err := url.Parse(w.URL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			add(f+".url", "want an http(s) URL")
		}
		if len(w.Secret) < 16 {
			add(f+".secret", "must be at least 16 characters (it signs every delivery)")
		}
		for _, e := range w.Events {
			if !slices.Contains(Events, e) {
				add(f+".events", "unknown event %q (%s)", clip(e), strings.Join(Events, ", "))
			}
		}
	}
	if s.Schedule != nil {
		if sch, err := ParseCron(s.Schedule.Cron); err != nil {
			add("schedule.cron", "%v", err)
		} else if gap := minGap(sch); gap < time.Minute {
			add("schedule.cron", "ticks %s apart; a schedule may start at most one run a minute", gap)
		}
		switch s.Schedule.Missed {
		case "", MissedSkip, MissedRunOnce:
		default:
			add("schedule.missed", "want %s or %s", MissedRunOnce, MissedSkip)
		}
		if s.Pipeline == nil {
			add("schedule", "needs pipeline: it is what a scheduled run runs")
		}
	}
	s.validateMonitor(add)
	if g := s.GitHub; g != nil {
		if !repoName.MatchString(g.Repository) {
			add("github.repository", "want owner/name")
		}
		if len(g.Paths) == 0 {
			add("github.paths", "name at least one training-code path")
		}
		for j, p := range g.Paths {
			if err := blob.CheckName(strings.TrimSuffix(p, "/")); err != nil {
				add(fmt.Sprintf("github.paths[%d]", j), "%q %v", clip(p), err)
			} else if err := checkGlob(strings.TrimSuffix(p, "/")); err != nil {
				add(fmt.Sprintf("github.paths[%d]", j), "%q is not a valid glob: %v", clip(p), err)
			}
		}
		for j, b := range g.Branches {
			if _, err := path.Match(b, ""); err != nil || b == "" {
				add(fmt.Sprintf("github.branches[%d]", j), "%q is not a branch name or glob", clip(b))
			}
		}
		for _, e := range g.Events {
			if e != GitHubPush && e != GitHubWorkflowRun && e != GitHubRelease {
				add("github.events", "unknown event %q (push, workflow_run, release)", clip(e))
			}
		}
		if s.Pipeline == nil {
			add("github", "needs pipeline: it is what a retraining run runs")
		}
	}
	// Parsed and checked above so the format is fixed, but nothing starts
	// these runs yet: accepting them would promise retraining that never
	// happens.
	return errors.Join(errs...)
}

// check parses the config and checks that every file it names is among
// Files, by a clean relative name, with a digest the blob store holds.
func (p *Pipeline) check(ctx context.Context, field, model string, blobs Blobs) (*config.Pipeline, error) {
	cfg, err := config.Parse(field+".config", []byte(p.Config))
	if err != nil {
		return nil, fmt.Errorf("%s.config: %w", field, err)
	}
	if cfg.Model != model {
		return nil, fmt.Errorf("%s.config: model is %q, not %s", field, cfg.Model, model)
	}
	if err := cfg.CheckRelative(); err != nil {
		return nil, fmt.Errorf("%s.config: %w", field, err)
	}
	var errs []error
	for name, d := range p.Files {
		if err := blob.CheckName(name); err != nil {
			errs = append(errs, fmt.Errorf("%s.files[%q]: %w", field, clip(name), err))
			continue
		}
		if _, err := blob.ParseDigest(d); err != nil {
			errs = append(errs, fmt.Errorf("%s.files[%q]: %w", field, name, err))
			continue
		}
		if blobs != nil {
			if _, err := blobs.Stat(ctx, d); err != nil {
				errs = append(errs, fmt.Errorf("%s.files[%q]: blob %s is not uploaded (PUT /v1/blobs/%s first)", field, name, d, d))
			}
		}
	}
	for _, f := range cfg.Files() {
		if f.Field == "policy.bundle" || f.Field == "security.signature" {
			continue
		}
		if field == "deploy" && f.Field == "candidate.artifact" {
			continue // the deployed version's blob goes there
		}
		if !blob.Covers(p.Files, f.Path) {
			errs = append(errs, fmt.Errorf("%s.files: %s %q is not among the files", field, f.Field, f.Path))
		}
	}
	return cfg, errors.Join(errs...)
}

// ParseCron parses a schedule's expression: five standard fields or a
// descriptor (@daily, @every 6h).
func ParseCron(expr string) (cron.Schedule, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, errors.New("is empty")
	}
	sch, err := cron.ParseStandard(expr)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", clip(expr), err)
	}
	return sch, nil
}

// minGap is the shortest gap between the next few ticks of a schedule.
func minGap(sch cron.Schedule) time.Duration {
	t := sch.Next(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	gap := time.Duration(1<<63 - 1)
	for range 8 {
		n := sch.Next(t)
		if n.IsZero() {
			break
		}
		gap = min(gap, n.Sub(t))
		t = n
	}
	return gap
}

// Redacted is s with the webhook secrets hidden, for GET.
func (s Settings) Redacted() Settings {
	s.Webhooks = slices.Clone(s.Webhooks)
	for i := range s.Webhooks {
		if s.Webhooks[i].Secret != "" {
			s.Webhooks[i].Secret = "(set)"
		}
	}
	return s
}

// WantsEvent reports whether a webhook subscribed to event.
func (w Webhook) WantsEvent(event string) bool {
	return len(w.Events) == 0 || slices.Contains(w.Events, event)
}

// WantsEvent reports whether g reacts to a GitHub event. With no events
// listed, pushes and workflow runs count; a release names no changed
// files, so it starts runs only when listed.
func (g GitHub) WantsEvent(event string) bool {
	if len(g.Events) == 0 {
		return event == "push" || event == "workflow_run"
	}
	return slices.Contains(g.Events, event)
}

// Matches reports whether a changed repository file is training code of
// the model: a registered path or glob (path.Match per segment, ** for
// any number of folders) names the file itself or a folder it is in.
func (g GitHub) Matches(file string) bool {
	file = path.Clean(strings.TrimPrefix(file, "/"))
	parts := strings.Split(file, "/")
	for _, p := range g.Paths {
		pat := strings.Split(path.Clean(strings.TrimSuffix(p, "/")), "/")
		for n := len(parts); n > 0; n-- { // the file, then each folder it is in
			if globMatch(pat, parts[:n]) {
				return true
			}
		}
	}
	return false
}

// globMatch matches path segments against pattern segments; "**" stands
// for zero or more segments.
func globMatch(pat, parts []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			for i := 0; i <= len(parts); i++ {
				if globMatch(pat[1:], parts[i:]) {
					return true
				}
			}
			return false
		}
		if len(parts) == 0 {
			return false
		}
		if ok, err := path.Match(pat[0], parts[0]); err != nil || !ok {
			return false
		}
		pat, parts = pat[1:], parts[1:]
	}
	return len(parts) == 0
}

// checkGlob reports a pattern path.Match cannot read.
func checkGlob(p string) error {
	for _, seg := range strings.Split(p, "/") {
		if seg == "**" {
			continue
		}
		if _, err := path.Match(seg, ""); err != nil {
			return fmt.Errorf("segment %q: %w", clip(seg), err)
		}
	}
	return nil
}

// Load reads a model's settings; store.ErrNotFound when it has none.
func Load(ctx context.Context, st store.Store, model string) (Settings, error) {
	doc, err := st.ModelSettingsGet(ctx, model)
	if err != nil {
		return Settings{}, err
	}
	var s Settings
	if err := json.Unmarshal(doc, &s); err != nil {
		return Settings{}, fmt.Errorf("settings of %s: %w", model, err)
	}
	return s, nil
}

// LoadAll reads every model's settings; one that does not decode is
// reported and left out, so one bad document does not stop every trigger.
func LoadAll(ctx context.Context, st store.Store) (map[string]Settings, error) {
	docs, err := st.ModelSettingsList(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]Settings, len(docs))
	var errs []error
	for m, doc := range docs {
		var s Settings
		if err := json.Unmarshal(doc, &s); err != nil {
			errs = append(errs, fmt.Errorf("settings of %s: %w", m, err))
			continue
		}
		out[m] = s
	}
	return out, errors.Join(errs...)
}

// Save stores settings (already validated).
func Save(ctx context.Context, st store.Store, s Settings) error {
	doc, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encode settings of %s: %w", s.Model, err)
	}
	return st.ModelSettingsSet(ctx, s.Model, doc)
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
