package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/modelgate/modelgate/agents/assistant"
	"github.com/modelgate/modelgate/coordinator"
	"github.com/modelgate/modelgate/internal/auth"
	"github.com/modelgate/modelgate/internal/blob"
	"github.com/modelgate/modelgate/internal/config"
	"github.com/modelgate/modelgate/internal/llm"
	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/internal/workspace"
)

// RunRequest is the body of POST /v1/runs.
type RunRequest struct {
	Config  string `json:"config"`             // modelgate.yaml, verbatim
	BaseDir string `json:"base_dir,omitempty"` // folder inside a server workspace that relative paths resolve against
	// Files maps each relative path the config names (a folder as the
	// files under it) to the digest of a blob uploaded with PUT
	// /v1/blobs: the run reads these bytes and nothing else.
	Files        map[string]string `json:"files,omitempty"`
	CommitAuthor string            `json:"commit_author,omitempty"`
	Trigger      string            `json:"trigger,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
}

// RunView is a run as the API shows it.
type RunView struct {
	store.Run
	Config    string           `json:"config,omitempty"`
	Stages    []store.Stage    `json:"stages,omitempty"`
	Approvals []store.Approval `json:"approvals,omitempty"`
	// Brief, Triage and AssistUsage are the assistant's (assist.go).
	Brief       *assistant.Brief  `json:"brief,omitempty"`
	Triage      *assistant.Triage `json:"triage,omitempty"`
	AssistUsage *llm.Usage        `json:"assist_usage,omitempty"`
}

func (s *Server) runCreate(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var req RunRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Config) == "" {
		return badRequest("config: is required (the modelgate.yaml text)")
	}
	cfg, err := config.Parse("config", []byte(req.Config))
	if err != nil {
		return errorf(http.StatusBadRequest, "invalid_config", err.Error())
	}
	if err := s.authorize(r.Context(), p, "trigger", cfg.Model, cfg.Environment); err != nil {
		return err
	}
	if err := s.checkEndpoints(cfg); err != nil {
		return err
	}
	if cfg.Train != nil {
		// Training runs a command on the server: a right of its own,
		// whatever the config says.
		if err := s.authorize(r.Context(), p, "train", cfg.Model, cfg.Environment); err != nil {
			return err
		}
		if cfg.Train.Network {
			if err := s.authorize(r.Context(), p, "train_network", cfg.Model, cfg.Environment); err != nil {
				return err
			}
		}
	}
	var baseDir, inputs string
	if len(req.Files) > 0 {
		if req.BaseDir != "" {
			return badRequest("base_dir and files: give one, not both (files are uploaded blobs; base_dir is a server workspace)")
		}
		baseDir, err = s.materialise(r.Context(), cfg, req.Files)
		inputs = filesDigest(req.Files)
	} else {
		baseDir, err = s.serverPaths(cfg, req.BaseDir)
	}
	if err != nil {
		return err
	}
	trigger := req.Trigger
	if trigger == "" {
		trigger = "api"
	}
	run, created, err := s.o.Coordinator.Submit(r.Context(), coordinator.SubmitParams{
		Config: []byte(req.Config), File: "config", BaseDir: baseDir, Trigger: trigger,
		Requester: p.Subject, CommitAuthor: req.CommitAuthor, Labels: req.Labels,
		IdempotencyKey: r.Header.Get("Idempotency-Key"), InputsDigest: inputs, Parsed: cfg,
	})
	if inputs != "" && (err != nil || !created) {
		_ = os.RemoveAll(baseDir) // the replayed run has its own inputs
	}
	if errors.Is(err, coordinator.ErrIdempotencyMismatch) {
		return errorf(http.StatusUnprocessableEntity, "idempotency_mismatch", "Idempotency-Key was already used with a different request body")
	}
	if err != nil {
		var ce *config.Error
		if errors.As(err, &ce) {
			return errorf(http.StatusBadRequest, "invalid_config", err.Error())
		}
		return err
	}
	if !created && !sameRequest(run, req, baseDir, trigger, inputs != "") {
		// The coordinator's digest covers what decides the pipeline (config,
		// folder, trigger, author); a replay must also match the rest of
		// the body, or a retry with other labels would silently get a run
		// that is not what it asked for.
		return errorf(http.StatusUnprocessableEntity, "idempotency_mismatch", "Idempotency-Key was already used with a different request body")
	}
	w.Header().Set("Location", "/v1/runs/"+run.ID)
	status := http.StatusCreated
	if !created {
		w.Header().Set("Idempotent-Replayed", "true")
		status = http.StatusOK
	}
	writeJSON(w, status, RunView{Run: run})
	return nil
}

// maxFiles bounds one run's inputs: a folder artifact of many files is
// fine, a request that would make the server create millions is not.
const maxFiles = 10000

// materialise lays a run's uploaded inputs out read-only in a folder of
// the server's own choosing, after checking that every file the config
// names was uploaded: the run then reads only bytes the caller sent and
// the server verified, never a server path.
func (s *Server) materialise(ctx context.Context, cfg *config.Pipeline, files map[string]string) (string, error) {
	if s.o.Blobs == nil || s.o.InputsDir == "" {
		return "", errorf(http.StatusNotImplemented, "not_implemented", "this server keeps no blob store; name a workspace with base_dir")
	}
	if len(files) > maxFiles {
		return "", badRequest(fmt.Sprintf("files: %d entries, more than the %d a run may have", len(files), maxFiles))
	}
	if err := cfg.CheckRelative(); err != nil {
		return "", errorf(http.StatusBadRequest, "path_refused", err.Error())
	}
	for _, f := range cfg.Files() {
		if f.Field == "policy.bundle" || f.Field == "security.signature" {
			continue // a server's own bundle judges; a signature is optional (its absence is a finding)
		}
		if !blob.Covers(files, f.Path) {
			return "", errorf(http.StatusBadRequest, "missing_input",
				fmt.Sprintf("%s: %q is not among the uploaded files (files has no entry for it)", f.Field, f.Path))
		}
	}
	if err := os.MkdirAll(s.o.InputsDir, 0o700); err != nil {
		return "", fmt.Errorf("inputs folder: %w", err)
	}
	dir := filepath.Join(s.o.InputsDir, uuid.NewString())
	if err := blob.Materialise(ctx, blob.MaterialiseParams{Store: s.o.Blobs, Files: files, Dir: dir}); err != nil {
		_ = os.RemoveAll(dir)
		if errors.Is(err, blob.ErrNotFound) {
			return "", errorf(http.StatusBadRequest, "blob_missing", err.Error())
		}
		return "", errorf(http.StatusBadRequest, "path_refused", err.Error())
	}
	return dir, nil
}

// filesDigest names a set of inputs for idempotency: the same config with
// other bytes is another request.
func filesDigest(files map[string]string) string {
	h := sha256.New()
	for _, k := range slices.Sorted(maps.Keys(files)) {
		fmt.Fprintf(h, "%d:%s=%s;", len(k), k, files[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// sameRequest reports whether a replayed run was created by a request
// equal to req in every field of the body (base_dir as resolved; uploaded
// inputs are laid out in a new folder each time, and their digests are
// compared by the coordinator instead).
func sameRequest(run store.Run, req RunRequest, baseDir, trigger string, uploaded bool) bool {
	return string(run.Config) == req.Config && (uploaded || run.BaseDir == baseDir) && run.Trigger == trigger &&
		run.CommitAuthor == req.CommitAuthor && maps.Equal(run.Labels, req.Labels)
}

// serverPaths applies the trust rule to a submitted run's files: every
// path in the config is relative and stays inside base_dir, and base_dir
// is a real folder inside a workspace the operator allowed. It returns
// base_dir with its symbolic links evaluated, so a link swapped later
// cannot move the run elsewhere.
func (s *Server) serverPaths(cfg *config.Pipeline, baseDir string) (string, error) {
	if err := cfg.CheckRelative(); err != nil {
		return "", errorf(http.StatusBadRequest, "path_refused", err.Error())
	}
	if baseDir == "" {
		if files := cfg.Files(); len(files) > 0 {
			return "", errorf(http.StatusBadRequest, "path_refused",
				fmt.Sprintf("%s: the config names files but the request gives no base_dir inside a server workspace", files[0].Field))
		}
		return "", nil
	}
	real, err := s.o.Workspaces.Resolve(baseDir)
	if err != nil {
		return "", errorf(http.StatusBadRequest, "path_refused", "base_dir: "+err.Error())
	}
	for _, f := range cfg.Files() {
		if f.Field == "policy.bundle" {
			continue
		}
		p, err := s.o.Workspaces.Resolve(config.Resolve(real, f.Path))
		if err == nil && !workspace.Within(real, p) {
			err = &workspace.Error{Path: f.Path, Reason: "leads outside base_dir through a symbolic link"}
		}
		if err != nil && !errors.Is(err, os.ErrNotExist) && !strings.Contains(err.Error(), "cannot be resolved") {
			return "", errorf(http.StatusBadRequest, "path_refused", f.Field+": "+err.Error())
		}
	}
	return real, nil
}

func (s *Server) runList(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	q := r.URL.Query()
	model := q.Get("model")
	if err := s.authorize(r.Context(), p, "read", model, ""); err != nil {
		return err
	}
	lp := store.RunListParams{Model: model, Limit: 100}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return badRequest("limit: want an integer from 1 to 1000")
		}
		lp.Limit = n
	}
	if v := q.Get("before"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return badRequest("before: want an RFC 3339 time")
		}
		lp.Before = t
	}
	for _, st := range q["state"] {
		for _, x := range strings.Split(st, ",") {
			if !validState(store.RunState(x)) {
				return badRequest(fmt.Sprintf("state: unknown state %q", x))
			}
			lp.States = append(lp.States, store.RunState(x))
		}
	}
	runs, err := s.o.Store.RunList(r.Context(), lp)
	if err != nil {
		return err
	}
	if runs == nil {
		runs = []store.Run{}
	}
	writeJSON(w, 200, map[string]any{"runs": runs})
	return nil
}

func validState(s store.RunState) bool {
	for _, x := range store.AllRunStates {
		if x == s {
			return true
		}
	}
	return false
}

func (s *Server) loadRun(r *http.Request, p auth.Principal, action string) (store.Run, error) {
	id, err := s.pathID(r, "run")
	if err != nil {
		return store.Run{}, err
	}
	run, err := s.o.Store.RunGet(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return run, notFound("no run with id " + r.PathValue("id"))
	}
	if err != nil {
		return run, err
	}
	return run, s.authorize(r.Context(), p, action, run.Model, run.Environment)
}

func (s *Server) runGet(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	run, err := s.loadRun(r, p, "read")
	if err != nil {
		return err
	}
	v, err := s.view(r, run)
	if err != nil {
		return err
	}
	writeJSON(w, 200, v)
	return nil
}

func (s *Server) view(r *http.Request, run store.Run) (RunView, error) {
	return ViewOf(r.Context(), s.o.Store, run)
}

// ViewOf is a run as GET /v1/runs/{id} shows it: with its stages and
// approvals (also what `modelgate run --local` prints).
func ViewOf(ctx context.Context, st store.Store, run store.Run) (RunView, error) {
	stages, err := st.StageList(ctx, run.ID)
	if err != nil {
		return RunView{}, err
	}
	approvals, err := st.ApprovalList(ctx, store.ApprovalListParams{RunID: run.ID})
	if err != nil {
		return RunView{}, err
	}
	v := RunView{Run: run, Config: string(run.Config), Stages: assistant.WithoutRecord(stages), Approvals: approvals}
	if err := withAssist(ctx, st, &v); err != nil {
		return RunView{}, err
	}
	return v, nil
}

func (s *Server) runLogs(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	run, err := s.loadRun(r, p, "read")
	if err != nil {
		return err
	}
	// ?after=SEQ returns only the lines a follower has not seen, and
	// ?stage=NAME one stage's output (training, say).
	q := r.URL.Query()
	var after int64
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return errorf(http.StatusBadRequest, "bad_request", fmt.Sprintf("after=%q: want the seq of a log line (a number >= 0)", v))
		}
		after = n
	}
	stage := q.Get("stage")
	lines, err := s.o.Store.LogList(r.Context(), run.ID)
	if err != nil {
		return err
	}
	out := []store.LogLine{}
	for _, l := range lines {
		if l.Seq > after && (stage == "" || l.Stage == stage) {
			out = append(out, l)
		}
	}
	writeJSON(w, 200, map[string]any{"lines": out, "state": run.State})
	return nil
}

func (s *Server) runCancel(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	run, err := s.loadRun(r, p, "abort")
	if err != nil {
		return err
	}
	var body struct {
		Reason string `json:"reason"`
	}
	if err := decodeOptional(r, &body); err != nil {
		return err
	}
	run, err = s.o.Coordinator.Cancel(r.Context(), run.ID, p.Subject, body.Reason)
	if err != nil {
		if errors.Is(err, store.ErrConflict) {
			return errorf(http.StatusConflict, "conflict", err.Error())
		}
		return err
	}
	writeJSON(w, 200, RunView{Run: run})
	return nil
}

func (s *Server) rolloutAction(action string) handler {
	return func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		if s.o.Rollouts == nil {
			return errorf(http.StatusNotImplemented, "not_supported", "this server has no deployment agent")
		}
		authzAction := action
		if action == "pause" || action == "resume" {
			authzAction = "promote"
		}
		run, err := s.loadRun(r, p, authzAction)
		if err != nil {
			return err
		}
		if run.State != store.RunDeploying {
			return errorf(http.StatusConflict, "conflict", fmt.Sprintf("run %s is %s, not deploying", run.ID, run.State))
		}
		var body struct {
			Reason string `json:"reason"`
		}
		if err := decodeOptional(r, &body); err != nil {
			return err
		}
		switch action {
		case "promote":
			err = s.o.Rollouts.Promote(r.Context(), run.ID, p.Subject)
		case "abort":
			err = s.o.Rollouts.Abort(r.Context(), run.ID, p.Subject, body.Reason)
		case "pause":
			err = s.o.Rollouts.Pause(r.Context(), run.ID, p.Subject)
		case "resume":
			err = s.o.Rollouts.Resume(r.Context(), run.ID, p.Subject)
		}
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusAccepted, map[string]string{"run_id": run.ID, "action": action, "status": "accepted"})
		return nil
	}
}
