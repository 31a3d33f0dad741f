package app

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/charmbracelet/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/agents/assistant"
	"github.com/modelgate/modelgate/agents/deployment"
	"github.com/modelgate/modelgate/agents/evaluation"
	"github.com/modelgate/modelgate/agents/prompt"
	"github.com/modelgate/modelgate/agents/security"
	testagent "github.com/modelgate/modelgate/agents/testing"
	"github.com/modelgate/modelgate/agents/training"
	"github.com/modelgate/modelgate/agents/validation"
	"github.com/modelgate/modelgate/coordinator"
	"github.com/modelgate/modelgate/internal/api"
	"github.com/modelgate/modelgate/internal/approval"
	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/auth"
	"github.com/modelgate/modelgate/internal/blob"
	"github.com/modelgate/modelgate/internal/chatops"
	"github.com/modelgate/modelgate/internal/chatops/monitor"
	"github.com/modelgate/modelgate/internal/chatops/triggers"
	"github.com/modelgate/modelgate/internal/egress"
	"github.com/modelgate/modelgate/internal/lease"
	"github.com/modelgate/modelgate/internal/llm"
	"github.com/modelgate/modelgate/internal/oversight"
	"github.com/modelgate/modelgate/internal/sandbox"
	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/internal/store/dial"
	"github.com/modelgate/modelgate/internal/ui"
	"github.com/modelgate/modelgate/internal/workspace"
	"github.com/modelgate/modelgate/tools/gateway"
	"github.com/modelgate/modelgate/tools/model"
)

// Options configures a modelgate process.
type Options struct {
	DataDir string // default ./modelgate-data
	// StoreURL names the store: sqlite://PATH or redis://HOST:PORT/DB;
	// empty = SQLite in DataDir (see internal/store/dial).
	StoreURL   string
	PolicyDir  string // "" = the embedded default bundle
	TokensFile string // default DataDir/tokens.yaml, created when missing
	Workers    int
	// PolicyWatch reloads the policy folder when its files change; 0 = off.
	PolicyWatch time.Duration
	Logger      *log.Logger
	// NoDeploy leaves the deployment agent out (run --local).
	NoDeploy bool
	// ApprovalExpiry overrides the 72 h default.
	ApprovalExpiry time.Duration
	// DeployTick overrides how often rollouts are reconciled.
	DeployTick time.Duration
	// ServeBinary is the modelgate binary local model servers run from.
	ServeBinary string
	// Workspaces are the folders submitted runs may read through base_dir
	// (--workspace); none means a run cannot name a server path.
	Workspaces []string
	// AllowEndpoints are the URL prefixes a submitted run may make the
	// server call (candidate.endpoint, deploy.target.upstream;
	// --allow-endpoint); none means a run cannot name one.
	AllowEndpoints []string
	// MaxBlobBytes bounds one upload (--max-blob-bytes); default 64 GiB.
	MaxBlobBytes int64
	// TrainDirect runs training commands as plain processes: run --local,
	// on the user's own machine. A server sandboxes them with bwrap.
	TrainDirect bool
	// UnsafeTrainWithoutSandbox lets a server without bwrap train anyway
	// (--unsafe-train-without-sandbox); every such run is audited.
	UnsafeTrainWithoutSandbox bool
	// TrainReadOnly are host folders a sandboxed command may read (a
	// toolchain outside /usr, --train-ro-bind).
	TrainReadOnly []string
	// AuditWitnesses receive every audit checkpoint (--audit-witness): a
	// file path or an http(s) URL that gets it as JSON over POST.
	AuditWitnesses []string
	// TokensWatch re-reads the tokens file when it changes, this often;
	// 0 = only on ReloadTokens (SIGHUP).
	TokensWatch time.Duration
	// LLM is the endpoint of the assistant (--llm-base-url, assist: for
	// run --local); the zero value means no LLM, and briefs and triage
	// come from templates.
	LLM llm.Config
	// AssistInline leaves the brief and triage to the caller (run --local
	// writes them before printing the run) instead of a background worker.
	AssistInline bool
	// ChatOps configures Slack, the GitHub webhook and schedules.
	ChatOps ChatOps
	// Prompt configures task: llm runs: the endpoint allowlist, prices, key.
	Prompt prompt.Options
}

// Server is an assembled process. Handler serves the API, /ui and
// /metrics; Gateway serves model traffic on its own listener, because its
// OpenAI-compatible /v1/chat/completions would collide with the API's /v1.
type Server struct {
	Store       store.Store
	Trail       *audit.Trail
	Engine      *oversight.Engine
	Queue       *approval.Queue
	Coordinator *coordinator.Coordinator
	Gateway     *gateway.Gateway
	Blobs       *blob.FS
	// Endpoints is the --allow-endpoint list; the demo adds the upstream
	// it starts, as an operator would name it at start-up.
	Endpoints  *egress.Allowlist
	Deployer   *deployment.Agent
	Auth       *auth.Authenticator
	Tokens     []auth.Token
	TokensNew  bool   // the tokens file was created by this start
	TokensFile string // where the tokens are (the default resolved)
	Handler    http.Handler
	Registry   *prometheus.Registry
	Assistant  *assistant.Service
	Chat       *chatops.Handler  // Slack commands, buttons and notifications
	Starter    *triggers.Starter // runs started from registered settings
	Leader     *lease.Leader     // scheduler leader among replicas (scaleout.go)

	// The cron schedules and the production monitor (chatops.go).
	Scheduler *triggers.Scheduler
	Monitor   *monitor.Monitor

	o       Options
	log     *log.Logger
	cancel  context.CancelFunc
	closers []func() error
}

// Build opens the store and assembles everything; Start begins work.
func Build(ctx context.Context, o Options) (*Server, error) {
	if o.DataDir == "" {
		o.DataDir = "modelgate-data"
	}
	if o.Logger == nil {
		o.Logger = log.Default()
	}
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data folder %s: %w", o.DataDir, err)
	}
	s := &Server{o: o, log: o.Logger, Registry: prometheus.NewRegistry()}
	s.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ok := false
	defer func() {
		if !ok {
			_ = s.Close()
		}
	}()

	opened, err := dial.Open(ctx, dial.Params{URL: o.StoreURL, DataDir: o.DataDir})
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	for _, w := range opened.Warnings {
		o.Logger.Warn("the store can lose acknowledged writes", "driver", opened.Driver, "why", w)
	}
	st := opened.Store
	s.Store = st
	s.closers = append(s.closers, st.Close)

	var witnesses []audit.Witness
	for _, w := range o.AuditWitnesses {
		wt, err := audit.ParseWitness(w)
		if err != nil {
			return nil, fmt.Errorf("--audit-witness: %w", err)
		}
		witnesses = append(witnesses, wt)
	}
	// The checkpoint log beside the database is what an attacker who edits
	// the database alone cannot rewrite; the witnesses are for one who can
	// write the whole data folder.
	s.Trail, err = audit.Open(ctx, audit.Options{Store: st, KeyPath: filepath.Join(o.DataDir, "audit.key"), Logger: o.Logger,
		CheckpointLog: filepath.Join(o.DataDir, audit.CheckpointLogFileName), Witnesses: witnesses})
	if err != nil {
		return nil, fmt.Errorf("open audit trail: %w", err)
	}
	s.closers = append([]func() error{s.Trail.Close}, s.closers...)

	s.Engine, err = oversight.NewEngine(ctx, oversight.EngineOptions{Dir: o.PolicyDir, Recorder: s.Trail, Logger: o.Logger})
	if err != nil {
		return nil, fmt.Errorf("load policies: %w", err)
	}

	s.TokensFile = o.TokensFile
	if s.TokensFile == "" {
		s.TokensFile = filepath.Join(o.DataDir, "tokens.yaml")
	}
	s.Tokens, s.TokensNew, err = auth.LoadOrCreate(s.TokensFile)
	if err != nil {
		return nil, err
	}
	if s.Auth, err = auth.New(s.Tokens); err != nil {
		return nil, fmt.Errorf("tokens %s: %w", s.TokensFile, err)
	}

	s.Gateway, err = gateway.New(gateway.Options{Routes: st, Registry: s.Registry, Logger: o.Logger.WithPrefix("gateway"),
		PromptUpstreams: o.Prompt.Allow.Check, PromptAPIKey: o.Prompt.APIKey}) // prompt routes: only --llm-endpoint-allow
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	s.closers = append([]func() error{s.Gateway.Close}, s.closers...)

	if s.Blobs, err = blob.NewFS(filepath.Join(o.DataDir, "blobs")); err != nil {
		return nil, err
	}

	as := map[string]agents.Agent{}
	as[coordinator.StageTrain] = s.trainingAgent(ctx, st)
	as[coordinator.StageValidate] = validation.New()
	as[coordinator.StageTest] = testagent.New(testagent.Options{Predictor: predictorForTask})
	as[coordinator.StageScan] = security.New(security.Options{Logger: o.Logger})
	as[coordinator.StageEvaluate] = evaluation.New(evaluation.Options{})
	wrapPromptStages(as, o.Prompt)
	if !o.NoDeploy {
		s.Deployer = deployment.New(deployment.Options{Store: st, Gateway: s.Gateway, Recorder: s.Trail,
			Tick: o.DeployTick, Logger: o.Logger.WithPrefix("deploy"), ServeBinary: o.ServeBinary,
			ServeDir: filepath.Join(o.DataDir, "serve"), Blobs: s.Blobs,
			// standalone gateways publish their windows to the store
			Measurements: deployment.Shared{Local: s.Gateway, Windows: st}})
		as[coordinator.StageDeploy] = s.Deployer
		s.closers = append([]func() error{s.Deployer.Close}, s.closers...)
	}

	var coord *coordinator.Coordinator
	s.Queue = approval.NewQueue(approval.QueueOptions{Store: st, Recorder: s.Trail, Expiry: o.ApprovalExpiry,
		PolicyRevision: s.Engine.Revision, Logger: o.Logger,
		OnDecided: func(ctx context.Context, a store.Approval) {
			if coord != nil {
				coord.Wake(a.RunID)
			}
			if s.Chat != nil {
				s.Chat.ApprovalDecided(ctx, a)
			}
		}})
	coord, err = coordinator.New(coordinator.Options{
		Store: st, Recorder: s.Trail, Agents: as, Decider: s.Engine,
		RequestApproval: func(ctx context.Context, run store.Run, d oversight.Decision) (store.Approval, error) {
			return s.Queue.Request(ctx, approval.ApprovalRequest{Run: run, Decision: d})
		},
		Abort: func(ctx context.Context, runID, actor, reason string) error {
			if s.Deployer == nil {
				return nil
			}
			_, err := s.Deployer.Abort(ctx, runID, actor, reason)
			return err
		},
		Workers: o.Workers, DataDir: o.DataDir, Logger: o.Logger, Registerer: s.Registry, Blobs: s.Blobs,
		Ownership: ownership(o),
	})
	if err != nil {
		return nil, err
	}
	s.Coordinator = coord
	if err := buildLeader(s, st); err != nil {
		return nil, err
	}
	if s.Assistant, err = buildAssistant(o, st, s.Registry); err != nil {
		return nil, err
	}

	sessionKey, err := loadOrCreateKey(filepath.Join(o.DataDir, "session.key"))
	if err != nil {
		return nil, err
	}
	uiHandler, err := ui.New(ui.Options{Store: st, Queue: s.Queue, Engine: s.Engine, Authenticate: s.Auth.Lookup,
		Identify: s.Auth.Identify, SessionKey: sessionKey, BasePath: "/ui", Logger: o.Logger, Recorder: s.Trail})
	if err != nil {
		return nil, fmt.Errorf("reviewers' page: %w", err)
	}
	var rollouts api.Rollouts
	if s.Deployer != nil {
		rollouts = rolloutControls{s.Deployer}
	}
	if s.Endpoints, err = egress.New(o.AllowEndpoints); err != nil {
		return nil, fmt.Errorf("--allow-endpoint: %w", err)
	}
	roots, err := workspace.New(o.Workspaces)
	if err != nil {
		return nil, err
	}
	mount, err := s.buildChatOps(o)
	if err != nil {
		return nil, err
	}
	mount["/ui/"] = uiHandler
	mount["GET /{$}"] = http.RedirectHandler("/ui/", http.StatusFound)
	api, err := api.New(api.Options{
		Coordinator: coord, Store: st, Auth: s.Auth, Workspaces: roots, Endpoints: s.Endpoints,
		Blobs: s.Blobs, MaxBlobBytes: o.MaxBlobBytes, InputsDir: filepath.Join(o.DataDir, "inputs"),
		Authorize: func(ctx context.Context, p auth.Principal, action, model, env string) (bool, error) {
			return s.Engine.Authorize(ctx, oversight.AuthzInput{Principal: p, Action: action, Model: model, Environment: env})
		},
		Approvals: s.Queue, Rollouts: rollouts, Policies: s.Engine, ApprovalErrs: approval.ErrorStatus, Recorder: s.Trail,
		Gatherer: s.Registry, Logger: o.Logger, Assistant: s.Assistant, BundleKey: s.Trail.SigningKey(),
		Mount: mount,
	})
	if err != nil {
		return nil, err
	}
	s.Handler = api
	ok = true
	return s, nil
}

// Start restores gateway routes, resumes runs and starts the background
// loops (approval expiry, policy watch). It returns at once.
func (s *Server) Start(ctx context.Context) error {
	ctx, s.cancel = context.WithCancel(ctx)
	if err := s.Gateway.Load(ctx); err != nil {
		return fmt.Errorf("restore gateway routes: %w", err)
	}
	if s.Deployer != nil {
		// Before the gateway listens (Start returns first): a route must
		// not point at the port of a model server that died with the
		// previous process.
		if err := s.Deployer.RestoreLocal(ctx); err != nil {
			s.log.Error("some production models could not be restarted; their routes answer 502", "err", err)
		}
	}
	if err := s.Coordinator.Start(ctx); err != nil {
		return err
	}
	s.startLeader(ctx)
	s.startRouteSync(ctx)
	s.startAssistant(ctx)
	if s.o.PolicyWatch > 0 && s.o.PolicyDir != "" {
		go s.Engine.Watch(ctx, s.o.PolicyWatch)
	}
	go s.expireLoop(ctx)
	s.startChatOps(ctx)
	auth.Watch(ctx, s.Auth, s.TokensFile, s.o.TokensWatch,
		func(err error) {
			s.log.Error("tokens file changed but does not load; the identities stay as they were", "err", err)
		},
		func() { s.tokensReloaded(ctx, "file changed") })
	return s.Trail.Record(ctx, "server.started", "", "modelgate", map[string]any{
		"policy_revision": s.Engine.Revision(), "data_dir": s.o.DataDir})
}

// ReloadTokens re-reads the tokens file (on SIGHUP): a person removed from
// it can no longer call the API, and their reviewers' page sessions end
// on their next request. A file that does not load changes nothing.
func (s *Server) ReloadTokens(ctx context.Context) error {
	if err := s.Auth.Reload(s.TokensFile); err != nil {
		return err
	}
	s.tokensReloaded(ctx, "reload")
	return nil
}

func (s *Server) tokensReloaded(ctx context.Context, why string) {
	s.log.Info("tokens reloaded", "file", s.TokensFile, "why", why)
	if err := s.Trail.Record(ctx, "auth.tokens_reloaded", "", "modelgate", map[string]any{"file": s.TokensFile, "why": why}); err != nil {
		s.log.Error("audit record failed", "type", "auth.tokens_reloaded", "err", err)
	}
}

func (s *Server) expireLoop(ctx context.Context) {
	t := time.NewTicker(30 * time.Second)
	defer t.Stop()
	for {
		if n, err := s.Queue.ExpireDue(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("expire approvals", "err", err)
		} else if n > 0 {
			s.log.Info("approvals expired", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Close stops the work and closes everything, newest first.
func (s *Server) Close() error {
	if s.cancel != nil {
		s.cancel()
	}
	if s.Coordinator != nil {
		s.Coordinator.Stop()
	}
	var errs []error
	for _, c := range s.closers {
		if err := c(); err != nil {
			errs = append(errs, err)
		}
	}
	s.closers = nil
	return errors.Join(errs...)
}

// Listen serves h on addr until ctx ends, then shuts down gracefully.
// ready, when set, receives the bound address (useful with port 0).
func Listen(ctx context.Context, addr string, h http.Handler, ready func(net.Addr)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	if ready != nil {
		ready(ln.Addr())
	}
	return Serve(ctx, ln, h, 10*time.Second)
}

// Serve serves h on ln until ctx ends, then stops accepting and lets the
// requests in flight finish for up to drain. Every HTTP server of the
// binary (API, gateway, model server) goes through it, so they share
// their timeouts and their shutdown.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, drain time.Duration) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// predictorForTask opens the candidate for behavioural tests.
func predictorForTask(ctx context.Context, t agents.Task) (model.Predictor, error) {
	return evaluation.DefaultPredictor(ctx, t.Candidate, t.Config)
}

// rolloutControls adapts the deployment agent to the API's interface.
// The agent's errors wrap store.ErrNotFound / ErrConflict, which the API
// already maps to 404 / 409.
type rolloutControls struct{ a *deployment.Agent }

func (r rolloutControls) Promote(ctx context.Context, runID, actor string) error {
	_, err := r.a.Promote(ctx, runID, actor)
	return err
}
func (r rolloutControls) Abort(ctx context.Context, runID, actor, reason string) error {
	_, err := r.a.Abort(ctx, runID, actor, reason)
	return err
}
func (r rolloutControls) Pause(ctx context.Context, runID, actor string) error {
	_, err := r.a.Pause(ctx, runID, actor)
	return err
}
func (r rolloutControls) Resume(ctx context.Context, runID, actor string) error {
	_, err := r.a.Resume(ctx, runID, actor)
	return err
}
func (r rolloutControls) Rollback(ctx context.Context, model, env, actor, reason string) (store.Production, error) {
	return r.a.Rollback(ctx, deployment.RollbackParams{Model: model, Environment: env, Actor: actor, Reason: reason})
}

// RollbackTo is api.RollbackTo: a rollback to any registered version.
func (r rolloutControls) RollbackTo(ctx context.Context, model, env, version, actor, reason string) (store.Production, error) {
	return r.a.Rollback(ctx, deployment.RollbackParams{Model: model, Environment: env, Version: version, Actor: actor, Reason: reason})
}

func loadOrCreateKey(path string) ([]byte, error) {
	if b, err := os.ReadFile(path); err == nil && len(b) >= 32 {
		return b, nil
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return nil, fmt.Errorf("write session key: %w", err)
	}
	return b, nil
}

// trainingAgent picks how training commands run: directly for run
// --local, else inside bwrap; a server without a working bwrap refuses to
// train (saying how to install it) unless its operator opted out.
func (s *Server) trainingAgent(ctx context.Context, st store.Store) *training.Agent {
	o := training.Options{Logs: st, Recorder: s.Trail, Logger: s.log.WithPrefix("train")}
	switch {
	case s.o.TrainDirect:
		o.Runner = sandbox.Direct{}
	case s.o.UnsafeTrainWithoutSandbox:
		o.Runner, o.Unsandboxed = sandbox.Direct{}, true
		s.log.Warn("training commands run WITHOUT a sandbox (--unsafe-train-without-sandbox): a train command can read everything this server can; every such run is audited")
	default:
		b, err := sandbox.Find(ctx, s.o.TrainReadOnly)
		if err != nil {
			s.log.Warn("runs with a train section will be refused", "reason", err)
			o.Runner = sandbox.Refuse{Err: err}
		} else {
			o.Runner = b
		}
	}
	return training.New(o)
}
