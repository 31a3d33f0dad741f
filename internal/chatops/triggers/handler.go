package triggers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/charmbracelet/log"

	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/auth"
	"github.com/modelgate/modelgate/internal/store"
)

// Authorizer asks policies/authz.rego whether p may do action.
type Authorizer func(ctx context.Context, p auth.Principal, action, model, env string) (bool, error)

// HandlerOptions configures the settings endpoints.
type HandlerOptions struct {
	Store     store.Store
	Blobs     Blobs
	Auth      *auth.Authenticator
	Authorize Authorizer
	Recorder  audit.Recorder
	Logger    *log.Logger
	Now       func() time.Time
	// Changed runs after settings were stored (the scheduler reloads).
	Changed func(model string)
}

// Handler serves GET and PUT /v1/models/{name}/settings. Changing them
// is the "configure" action (admin by default): the settings say what
// automatic triggers run on the server.
func Handler(o HandlerOptions) http.Handler {
	if o.Logger == nil {
		o.Logger = log.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/models/{name}/settings", func(w http.ResponseWriter, r *http.Request) {
		p, ok := o.principal(w, r)
		if !ok {
			return
		}
		model := r.PathValue("name")
		if !o.allowed(w, r, p, "read", model) {
			return
		}
		s, err := Load(r.Context(), o.Store, model)
		if errors.Is(err, store.ErrNotFound) {
			writeError(w, http.StatusNotFound, "not_found", "model "+model+" has no settings")
			return
		}
		if err != nil {
			o.Logger.Error("read settings", "model", model, "err", err)
			writeError(w, http.StatusInternalServerError, "internal", "could not read the settings")
			return
		}
		writeJSON(w, http.StatusOK, s.Redacted())
	})
	mux.HandleFunc("PUT /v1/models/{name}/settings", func(w http.ResponseWriter, r *http.Request) {
		p, ok := o.principal(w, r)
		if !ok {
			return
		}
		model := r.PathValue("name")
		if !o.allowed(w, r, p, "configure", model) {
			return
		}
		var s Settings
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&s); err != nil {
			writeError(w, http.StatusBadRequest, "bad_request", "invalid JSON body: "+err.Error())
			return
		}
		if err := s.Validate(r.Context(), model, o.Blobs); err != nil {
			writeError(w, http.StatusBadRequest, "invalid_settings", err.Error())
			return
		}
		for _, pl := range []*Pipeline{s.Pipeline, s.Deploy} {
			if pl == nil {
				continue
			}
			// Whoever registers a training pipeline lends it their right to
			// train: automatic triggers run it later with nobody to ask.
			cfg, _ := pl.check(r.Context(), "pipeline", model, nil)
			if cfg != nil && cfg.Train != nil {
				if !o.allowed(w, r, p, "train", model) {
					return
				}
				if cfg.Train.Network && !o.allowed(w, r, p, "train_network", model) {
					return
				}
			}
		}
		s.UpdatedBy, s.UpdatedAt = p.Subject, o.Now().UTC()
		if err := Save(r.Context(), o.Store, s); err != nil {
			o.Logger.Error("store settings", "model", model, "err", err)
			writeError(w, http.StatusInternalServerError, "internal", "could not store the settings")
			return
		}
		doc, _ := json.Marshal(s)
		sum := sha256.Sum256(doc)
		if o.Recorder != nil {
			if err := o.Recorder.Record(r.Context(), "model.settings_changed", "", p.Subject, map[string]any{
				"model": model, "settings_sha256": hex.EncodeToString(sum[:]), "summary": s.summary()}); err != nil {
				o.Logger.Error("audit record failed", "type", "model.settings_changed", "err", err)
			}
		}
		if o.Changed != nil {
			o.Changed(model)
		}
		writeJSON(w, http.StatusOK, s.Redacted())
	})
	return mux
}

// summary is what the audit trail keeps of settings: no secrets.
func (s Settings) summary() map[string]any {
	m := map[string]any{"pipeline": s.Pipeline != nil, "deploy": s.Deploy != nil, "webhooks": len(s.Webhooks)}
	if s.Slack != nil {
		m["slack_channel"] = s.Slack.Channel
	}
	if s.Schedule != nil {
		m["schedule"] = s.Schedule.Cron
	}
	if s.GitHub != nil {
		m["github_repository"] = s.GitHub.Repository
	}
	return m
}

func (o HandlerOptions) principal(w http.ResponseWriter, r *http.Request) (auth.Principal, bool) {
	p, ok := o.Auth.FromRequest(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="modelgate"`)
		writeError(w, http.StatusUnauthorized, "unauthorized", "missing or invalid bearer token")
	}
	return p, ok
}

func (o HandlerOptions) allowed(w http.ResponseWriter, r *http.Request, p auth.Principal, action, model string) bool {
	ok, err := o.Authorize(r.Context(), p, action, model, "")
	if err != nil {
		o.Logger.Error("authorization policy failed; denying", "action", action, "by", p.Subject, "err", err)
	}
	if !ok {
		writeError(w, http.StatusForbidden, "forbidden", fmt.Sprintf("%s (roles %v) may not %s on model %s", p.Subject, p.Roles, action, model))
	}
	return ok
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
}
