package monitor

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"

	"github.com/charmbracelet/log"

	"github.com/modelgate/modelgate/internal/auth"
	"github.com/modelgate/modelgate/internal/chatops/triggers"
	"github.com/modelgate/modelgate/internal/store"
)

// HandlerOptions configures the status endpoint.
type HandlerOptions struct {
	Store     store.Store
	Auth      *auth.Authenticator
	Authorize triggers.Authorizer
	Logger    *log.Logger
}

var envName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// StatusView is the answer of GET /v1/models/{name}/monitor.
type StatusView struct {
	State
	Settings triggers.Monitor `json:"settings"` // with the defaults filled in
}

// Handler serves GET /v1/models/{name}/monitor[?environment=ENV]: the
// monitor's state and history of a model, for whoever may read it.
func Handler(o HandlerOptions) http.Handler {
	if o.Logger == nil {
		o.Logger = log.Default()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := o.Auth.FromRequest(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="modelgate"`)
			writeError(w, http.StatusUnauthorized, "unauthorized", "missing or invalid bearer token")
			return
		}
		model := r.PathValue("name")
		env := r.URL.Query().Get("environment")
		if env != "" && !envName.MatchString(env) {
			writeError(w, http.StatusBadRequest, "bad_request", "environment: not an environment name")
			return
		}
		allowed, err := o.Authorize(r.Context(), p, "read", model, env)
		if err != nil {
			o.Logger.Error("authorization policy failed; denying", "action", "read", "by", p.Subject, "err", err)
		}
		if !allowed {
			writeError(w, http.StatusForbidden, "forbidden", fmt.Sprintf("%s may not read model %s", p.Subject, model))
			return
		}
		set, err := triggers.Load(r.Context(), o.Store, model)
		if errors.Is(err, store.ErrNotFound) || (err == nil && set.Monitor == nil) {
			writeError(w, http.StatusNotFound, "not_monitored", "model "+model+" has no monitor settings (PUT /v1/models/"+model+"/settings with monitor:)")
			return
		}
		if err != nil {
			o.Logger.Error("read settings", "model", model, "err", err)
			writeError(w, http.StatusInternalServerError, "internal", "could not read the settings")
			return
		}
		cfg := set.Monitor.Defaults()
		if env == "" {
			env = cfg.Environment
		}
		st, err := Status(r.Context(), o.Store, model, env)
		if errors.Is(err, store.ErrNotFound) {
			st, err = State{Model: model, Environment: env, History: []Check{}}, nil
		}
		if err != nil {
			o.Logger.Error("read monitor state", "model", model, "err", err)
			writeError(w, http.StatusInternalServerError, "internal", "could not read the monitor's state")
			return
		}
		st.Mark = nil // the gateway's counters: internal, and meaningless to a reader
		if st.Baseline != nil {
			b := *st.Baseline
			b.Scores = nil // thousands of numbers; the count is in the history
			st.Baseline = &b
		}
		writeJSON(w, http.StatusOK, StatusView{State: st, Settings: cfg})
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
}
