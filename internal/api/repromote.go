package api

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/modelgate/modelgate/coordinator"
	"github.com/modelgate/modelgate/internal/auth"
	"github.com/modelgate/modelgate/internal/store"
)

// versionPromote starts a run that promotes an earlier version again
// (POST /v1/models/{name}/versions/{version}/promote): it needs the right
// to start a run for the model in the environment the version was judged
// for, like a new candidate, and the policy then decides it with the
// version's stored evidence, asking reviewers if it says so.
func (s *Server) versionPromote(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var body struct {
		Reason string `json:"reason"`
	}
	if err := decodeOptional(r, &body); err != nil {
		return err
	}
	ctx := r.Context()
	name, version := r.PathValue("name"), r.PathValue("version")
	if err := s.authorize(ctx, p, "read", name, ""); err != nil {
		return err
	}
	v, err := s.o.Store.ModelVersionGet(ctx, name, version)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("no version " + strconv.Quote(version) + " of model " + strconv.Quote(name))
	}
	if err != nil {
		return err
	}
	env := ""
	if v.RunID != "" {
		if orig, err := s.o.Store.RunGet(ctx, v.RunID); err == nil {
			env = orig.Environment
		}
	}
	if err := s.authorize(ctx, p, "trigger", name, env); err != nil {
		return err
	}
	run, err := s.o.Coordinator.Repromote(ctx, coordinator.RepromoteParams{Model: name, Version: version, Requester: p.Subject, Reason: body.Reason})
	if errors.Is(err, coordinator.ErrNotRepromotable) {
		return errorf(http.StatusConflict, "not_repromotable", err.Error())
	}
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/runs/"+run.ID)
	writeJSON(w, http.StatusCreated, RunView{Run: run})
	return nil
}
