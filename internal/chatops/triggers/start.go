package triggers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/google/uuid"

	"github.com/modelgate/modelgate/coordinator"
	"github.com/modelgate/modelgate/internal/blob"
	"github.com/modelgate/modelgate/internal/config"
	"github.com/modelgate/modelgate/internal/store"
)

// Errors callers branch on (a Slack reply, an HTTP status).
var (
	// ErrNoPipeline: the model has no registered pipeline for this kind of run.
	ErrNoPipeline = errors.New("no pipeline registered")
	// ErrNoVersion: the registry has no such version, or it cannot be deployed from its blob.
	ErrNoVersion = errors.New("no deployable version")
)

// Kind is what a started run does.
type Kind string

const (
	KindRetrain Kind = "retrain" // the registered pipeline, as it is
	KindDeploy  Kind = "deploy"  // the deploy pipeline with a registry version as the candidate
)

// Submitter is the coordinator's run submission.
type Submitter interface {
	Submit(ctx context.Context, p coordinator.SubmitParams) (store.Run, bool, error)
}

// Starter starts runs from registered settings.
type Starter struct {
	Store     store.Store
	Blobs     *blob.FS
	Submit    Submitter
	InputsDir string // DATA-DIR/inputs, where the server lays inputs out
}

// StartParams says which run to start, for whom.
type StartParams struct {
	Model   string
	Kind    Kind
	Version string // KindDeploy: the registry version to deploy
	Trigger string // slack | github | schedule | drift
	// Requester is who asked: a person's subject (Slack), or the trigger's
	// name for automatic runs. They may not approve the run.
	Requester    string
	CommitAuthor string // the modelgate subject (or github:login) of the commit's author
	Labels       map[string]string
	// IdempotencyKey makes a repeated trigger (a redelivered webhook, a
	// schedule tick seen by two processes) return the first run.
	IdempotencyKey string
}

// Plan is what a start would submit: the config and its inputs.
type Plan struct {
	Config *config.Pipeline
	Text   string
	Files  map[string]string
}

// Plan resolves the pipeline and inputs of a start without submitting it
// (authorization needs the config: a training run asks for more rights).
func (s *Starter) Plan(ctx context.Context, p StartParams) (Plan, error) {
	set, err := Load(ctx, s.Store, p.Model)
	if errors.Is(err, store.ErrNotFound) {
		return Plan{}, fmt.Errorf("model %s: %w (an admin registers one with PUT /v1/models/%s/settings)", p.Model, ErrNoPipeline, p.Model)
	}
	if err != nil {
		return Plan{}, err
	}
	switch p.Kind {
	case KindRetrain:
		if set.Pipeline == nil {
			return Plan{}, fmt.Errorf("model %s: %w for retraining", p.Model, ErrNoPipeline)
		}
		cfg, err := config.Parse("pipeline.config", []byte(set.Pipeline.Config))
		if err != nil {
			return Plan{}, fmt.Errorf("model %s: registered pipeline: %w", p.Model, err)
		}
		return Plan{Config: cfg, Text: set.Pipeline.Config, Files: maps.Clone(set.Pipeline.Files)}, nil
	case KindDeploy:
		return s.planDeploy(ctx, set, p.Version)
	}
	return Plan{}, fmt.Errorf("unknown run kind %q", p.Kind)
}

func (s *Starter) planDeploy(ctx context.Context, set Settings, version string) (Plan, error) {
	pl := set.Deploy
	if pl == nil {
		pl = set.Pipeline
	}
	if pl == nil {
		return Plan{}, fmt.Errorf("model %s: %w for deploys", set.Model, ErrNoPipeline)
	}
	cfg, err := config.Parse("deploy.config", []byte(pl.Config))
	if err != nil {
		return Plan{}, fmt.Errorf("model %s: registered deploy pipeline: %w", set.Model, err)
	}
	if cfg.Train != nil || cfg.Candidate.Artifact == "" {
		return Plan{}, fmt.Errorf("model %s: %w for deploys (the registered pipeline trains; register a deploy pipeline with candidate.artifact and no train:)", set.Model, ErrNoPipeline)
	}
	v, err := s.Store.ModelVersionGet(ctx, set.Model, version)
	if errors.Is(err, store.ErrNotFound) {
		return Plan{}, fmt.Errorf("model %s has no version %q in the registry: %w", set.Model, clip(version), ErrNoVersion)
	}
	if err != nil {
		return Plan{}, fmt.Errorf("registry: %w", err)
	}
	if _, err := blob.ParseDigest(v.Digest); err != nil {
		return Plan{}, fmt.Errorf("version %s of %s has no file digest: %w", version, set.Model, ErrNoVersion)
	}
	if s.Blobs == nil {
		return Plan{}, fmt.Errorf("this server keeps no blob store: %w", ErrNoVersion)
	}
	if _, err := s.Blobs.Stat(ctx, v.Digest); err != nil {
		// A folder artifact's digest is a manifest, not a blob.
		return Plan{}, fmt.Errorf("version %s of %s: its artifact %s is not a blob this server holds (a folder artifact cannot be deployed by version): %w", version, set.Model, v.Digest, ErrNoVersion)
	}
	files := maps.Clone(pl.Files)
	if files == nil {
		files = map[string]string{}
	}
	files[filepath.ToSlash(filepath.Clean(cfg.Candidate.Artifact))] = v.Digest
	return Plan{Config: cfg, Text: pl.Config, Files: files}, nil
}

// Start lays out a plan's inputs in a folder the server chooses and
// submits the run.
func (s *Starter) Start(ctx context.Context, p StartParams, plan Plan) (store.Run, bool, error) {
	if s.Blobs == nil || s.InputsDir == "" {
		return store.Run{}, false, errors.New("this server keeps no blob store; registered pipelines cannot run")
	}
	if err := os.MkdirAll(s.InputsDir, 0o700); err != nil {
		return store.Run{}, false, fmt.Errorf("inputs folder: %w", err)
	}
	dir := filepath.Join(s.InputsDir, uuid.NewString())
	if err := blob.Materialise(ctx, blob.MaterialiseParams{Store: s.Blobs, Files: plan.Files, Dir: dir}); err != nil {
		_ = os.RemoveAll(dir)
		return store.Run{}, false, fmt.Errorf("lay out the inputs of %s: %w", p.Model, err)
	}
	labels := maps.Clone(p.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels["trigger.kind"] = string(p.Kind)
	if p.Version != "" {
		labels["deploy.version"] = p.Version
	}
	run, created, err := s.Submit.Submit(ctx, coordinator.SubmitParams{
		Config: []byte(plan.Text), File: "config", BaseDir: dir, Trigger: p.Trigger,
		Requester: p.Requester, CommitAuthor: p.CommitAuthor, Labels: labels,
		IdempotencyKey: p.IdempotencyKey, InputsDigest: filesDigest(plan.Files), Parsed: plan.Config,
	})
	if err != nil || !created {
		_ = os.RemoveAll(dir) // a replay keeps the first run's inputs
	}
	if err != nil {
		return store.Run{}, false, fmt.Errorf("submit %s run of %s: %w", p.Kind, p.Model, err)
	}
	return run, created, nil
}

// filesDigest names a set of inputs, as the API does, so that the same
// key with other bytes is another request.
func filesDigest(files map[string]string) string {
	h := sha256.New()
	for _, k := range slices.Sorted(maps.Keys(files)) {
		fmt.Fprintf(h, "%d:%s=%s;", len(k), k, files[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}
