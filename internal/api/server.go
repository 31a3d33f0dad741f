package api

import (
	"bytes"
	"context"
	"crypto/ed25519"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/charmbracelet/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/modelgate/modelgate/agents/assistant"
	"github.com/modelgate/modelgate/coordinator"
	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/auth"
	"github.com/modelgate/modelgate/internal/blob"
	"github.com/modelgate/modelgate/internal/egress"
	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/internal/taskq"
	"github.com/modelgate/modelgate/internal/workspace"
)

//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the API's OpenAPI 3 document.
func OpenAPI() []byte { return openAPI }

// Authorizer asks the policy engine whether p may do action on a model in
// an environment (policies/authz.rego).
type Authorizer func(ctx context.Context, p auth.Principal, action, model, env string) (bool, error)

// Approvals is the approval queue as the API uses it.
type Approvals interface {
	List(ctx context.Context, p store.ApprovalListParams) ([]store.Approval, error)
	Get(ctx context.Context, id string) (store.Approval, error)
	Approve(ctx context.Context, id string, by auth.Principal, comment string) (store.Approval, error)
	Reject(ctx context.Context, id string, by auth.Principal, comment string) (store.Approval, error)
}

// Rollouts is the deployment agent's manual control surface.
type Rollouts interface {
	Promote(ctx context.Context, runID, actor string) error
	Abort(ctx context.Context, runID, actor, reason string) error
	Pause(ctx context.Context, runID, actor string) error
	Resume(ctx context.Context, runID, actor string) error
	Rollback(ctx context.Context, model, env, actor, reason string) (store.Production, error)
}

// Policies is the policy engine's admin surface.
type Policies interface {
	Reload(ctx context.Context) error
	Revision() string
}

// ApprovalErrorStatus maps an approval error to (status, code); the
// oversight package's typed errors are mapped by the server wiring.
type ApprovalErrorStatus func(err error) (int, string, bool)

// Options configures the API server.
type Options struct {
	Coordinator  *coordinator.Coordinator
	Store        store.Store
	Auth         *auth.Authenticator
	Authorize    Authorizer
	Approvals    Approvals // nil: approval endpoints answer 501
	Rollouts     Rollouts  // nil: rollout endpoints answer 501
	Policies     Policies  // nil: policy endpoints answer 501
	ApprovalErrs ApprovalErrorStatus
	Gatherer     prometheus.Gatherer // for /metrics; nil = the default registry
	Ready        func(ctx context.Context) error
	MaxBodyBytes int64 // default 1 MiB
	// Blobs keeps uploaded run inputs by digest (PUT /v1/blobs); nil
	// answers 501 and runs can only name workspace paths.
	Blobs        *blob.FS
	MaxBlobBytes int64  // largest upload; default 64 GiB
	InputsDir    string // where uploaded runs' inputs are laid out (DATA-DIR/inputs)
	// Workspaces are the server folders an operator allowed runs to read
	// (--workspace); without any, a submitted run cannot name a server path.
	Workspaces workspace.Roots
	// Endpoints are the addresses a submitted run may make the server
	// call (--allow-endpoint); nil or empty allows none.
	Endpoints *egress.Allowlist
	Logger    *log.Logger
	// Mount adds handlers outside /v1 (the reviewers' page, the gateway).
	Mount map[string]http.Handler
	// Assistant proposes commands for POST /v1/ask (assist.go); nil reads
	// sentences with the rule parser only.
	Assistant *assistant.Service
	// Recorder gets the registry's audited actions (registry.go); nil
	// refuses to move aliases.
	Recorder audit.Recorder
	// BundleKey signs exported bundles (export.go); nil answers 501.
	BundleKey ed25519.PrivateKey
	// Tasks and TaskStages serve the worker API (tasks.go): the queue
	// remote stages are published on, and which stages those are; nil
	// answers 501.
	Tasks      *taskq.Queue
	TaskStages []string
}

// Server is the API's http.Handler.
type Server struct {
	o   Options
	mux *http.ServeMux
	// asks limits POST /v1/ask per principal: a proposal is free to ask
	// for with a read token, an LLM call is not (assist.go).
	asks assistant.AskLimiter
}

type handler func(w http.ResponseWriter, r *http.Request, p auth.Principal) error

// route is one endpoint; routes() is the single source for the mux and
// for the OpenAPI agreement test.
type route struct {
	method, path string
	public       bool
	maxBody      int64 // overrides Options.MaxBodyBytes (uploads)
	h            handler
}

// New builds the server.
func New(o Options) (*Server, error) {
	if o.Coordinator == nil || o.Store == nil || o.Auth == nil || o.Authorize == nil {
		return nil, errors.New("httpapi: coordinator, store, auth and authorizer are required")
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 1 << 20
	}
	if o.MaxBlobBytes <= 0 {
		o.MaxBlobBytes = 64 << 30
	}
	if o.Logger == nil {
		o.Logger = log.Default()
	}
	if o.Gatherer == nil {
		o.Gatherer = prometheus.DefaultGatherer
	}
	s := &Server{o: o, mux: http.NewServeMux()}
	for _, rt := range s.routes() {
		s.mux.Handle(rt.method+" "+rt.path, s.wrap(rt))
	}
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{}))
	for p, h := range o.Mount {
		s.mux.Handle(p, h)
	}
	s.mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, notFound("no such endpoint: "+r.Method+" "+r.URL.Path))
	})
	return s, nil
}

// Routes lists "METHOD /path" of every API endpoint (for docs and tests).
func (s *Server) Routes() []string {
	var out []string
	for _, rt := range s.routes() {
		out = append(out, rt.method+" "+rt.path)
	}
	return out
}

func (s *Server) routes() []route {
	return []route{
		{method: "GET", path: "/healthz", public: true, h: s.healthz},
		{method: "GET", path: "/readyz", public: true, h: s.readyz},
		{method: "GET", path: "/v1/openapi.json", h: s.openapi},
		{method: "PUT", path: "/v1/blobs/{digest}", maxBody: s.o.MaxBlobBytes, h: s.blobPut},
		{method: "POST", path: "/v1/blobs", maxBody: s.o.MaxBlobBytes, h: s.blobPut},
		{method: "HEAD", path: "/v1/blobs/{digest}", h: s.blobGet},
		{method: "GET", path: "/v1/blobs/{digest}", h: s.blobGet},
		{method: "POST", path: "/v1/runs", h: s.runCreate},
		{method: "GET", path: "/v1/runs", h: s.runList},
		{method: "GET", path: "/v1/runs/{id}", h: s.runGet},
		{method: "GET", path: "/v1/runs/{id}/events", h: s.runEvents},
		{method: "GET", path: "/v1/runs/{id}/logs", h: s.runLogs},
		{method: "POST", path: "/v1/runs/{id}/cancel", h: s.runCancel},
		{method: "POST", path: "/v1/runs/{id}/promote", h: s.rolloutAction("promote")},
		{method: "POST", path: "/v1/runs/{id}/abort", h: s.rolloutAction("abort")},
		{method: "POST", path: "/v1/runs/{id}/pause", h: s.rolloutAction("pause")},
		{method: "POST", path: "/v1/runs/{id}/resume", h: s.rolloutAction("resume")},
		{method: "GET", path: "/v1/approvals", h: s.approvalList},
		{method: "GET", path: "/v1/approvals/{id}", h: s.approvalGet},
		{method: "POST", path: "/v1/approvals/{id}/approve", h: s.approvalDecide("approve")},
		{method: "POST", path: "/v1/approvals/{id}/reject", h: s.approvalDecide("reject")},
		{method: "GET", path: "/v1/models", h: s.modelList},
		{method: "GET", path: "/v1/models/{name}", h: s.modelGet},
		{method: "POST", path: "/v1/models/{name}/rollback", h: s.modelRollback},
		{method: "GET", path: "/v1/models/{name}/versions/{version}", h: s.versionGet},
		{method: "POST", path: "/v1/models/{name}/versions/{version}/notes", h: s.versionAnnotate},
		{method: "POST", path: "/v1/models/{name}/versions/{version}/promote", h: s.versionPromote},
		{method: "GET", path: "/v1/models/{name}/aliases", h: s.aliasList},
		{method: "PUT", path: "/v1/models/{name}/aliases/{alias}", h: s.aliasSet},
		{method: "GET", path: "/v1/models/{name}/diff", h: s.versionDiff},
		{method: "GET", path: "/v1/models/{name}/versions/{version}/export", h: s.versionExport},
		{method: "POST", path: "/v1/models/{name}/import", maxBody: s.o.MaxBlobBytes, h: s.versionImport},
		{method: "GET", path: "/v1/audit", h: s.auditList},
		{method: "GET", path: "/v1/policies", h: s.policyGet},
		{method: "POST", path: "/v1/policies/reload", h: s.policyReload},
		{method: "POST", path: "/v1/ask", h: s.ask},
		{method: "POST", path: "/v1/tasks/claim", h: s.taskClaim},
		{method: "GET", path: "/v1/tasks/{id}/blobs/{digest}", h: s.taskBlob},
		{method: "POST", path: "/v1/tasks/{id}/report", maxBody: 16 << 20, h: s.taskReport},
		{method: "POST", path: "/v1/tasks/{id}/heartbeat", h: s.taskHeartbeat},
		{method: "PUT", path: "/v1/tasks/{id}/blobs/{digest}", maxBody: s.o.MaxBlobBytes, h: s.taskBlobPut},
	}
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *Server) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		limit := s.o.MaxBodyBytes
		if rt.maxBody > 0 {
			limit = rt.maxBody
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		var p auth.Principal
		if !rt.public {
			var ok bool
			p, ok = s.o.Auth.FromRequest(r)
			if !ok {
				w.Header().Set("WWW-Authenticate", `Bearer realm="modelgate"`)
				msg := "missing bearer token (Authorization: Bearer <token>)"
				if r.Header.Get("Authorization") != "" {
					msg = "invalid bearer token"
				}
				writeError(w, errorf(http.StatusUnauthorized, "unauthorized", msg))
				return
			}
		}
		status := 200
		if err := rt.h(w, r, p); err != nil {
			status = writeError(w, err)
			if status >= 500 {
				s.o.Logger.Error("api error", "method", r.Method, "path", r.URL.Path, "err", err)
			}
		}
		if s.o.Logger.GetLevel() <= log.DebugLevel {
			// Checked first: the arguments would be boxed on every
			// request even with debug logging off.
			s.o.Logger.Debug("api", "method", r.Method, "path", r.URL.Path, "status", status, "by", p.Subject, "ms", time.Since(start).Milliseconds())
		}
	})
}

// authorize asks the policy; a failed evaluation is a denial.
func (s *Server) authorize(ctx context.Context, p auth.Principal, action, model, env string) error {
	ok, err := s.o.Authorize(ctx, p, action, model, env)
	if err != nil {
		s.o.Logger.Error("authorization policy failed; denying", "action", action, "by", p.Subject, "err", err)
		return forbidden("authorization policy could not be evaluated; denied")
	}
	if !ok {
		what := action
		if model != "" {
			what += " on model " + model
		}
		if env != "" {
			what += " in " + env
		}
		return forbidden(fmt.Sprintf("%s (roles %v) may not %s", p.Subject, p.Roles, what))
	}
	return nil
}

// decode reads a JSON body strictly: unknown fields are errors.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		if errors.Is(err, io.EOF) {
			return badRequest("request body is empty; want a JSON object")
		}
		return badRequest("invalid JSON body: " + err.Error())
	}
	if dec.More() {
		return badRequest("invalid JSON body: more than one JSON value")
	}
	return nil
}

// decodeOptional is decode for endpoints whose body may be empty.
func decodeOptional(r *http.Request, v any) error {
	body, err := io.ReadAll(r.Body) // already capped by MaxBytesReader
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return decode(r, v)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	writeJSON(w, 200, map[string]string{"status": "ok"})
	return nil
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.o.Store.Ping(ctx); err != nil {
		return errorf(http.StatusServiceUnavailable, "not_ready", "store: "+err.Error())
	}
	if s.o.Ready != nil {
		if err := s.o.Ready(ctx); err != nil {
			return errorf(http.StatusServiceUnavailable, "not_ready", err.Error())
		}
	}
	writeJSON(w, 200, map[string]string{"status": "ready"})
	return nil
}

func (s *Server) openapi(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	w.Header().Set("Content-Type", "application/json")
	_, err := w.Write(openAPI)
	return err
}
