package api

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/modelgate/modelgate/internal/auth"
	"github.com/modelgate/modelgate/internal/store"
)

func (s *Server) approvalList(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	if s.o.Approvals == nil {
		return errorf(http.StatusNotImplemented, "not_supported", "this server has no approval queue")
	}
	if err := s.authorize(r.Context(), p, "read", "", ""); err != nil {
		return err
	}
	lp := store.ApprovalListParams{RunID: r.URL.Query().Get("run_id"), Limit: 200}
	for _, st := range r.URL.Query()["state"] {
		switch store.ApprovalState(st) {
		case store.ApprovalPending, store.ApprovalApproved, store.ApprovalRejected, store.ApprovalExpired, store.ApprovalVoided:
			lp.States = append(lp.States, store.ApprovalState(st))
		default:
			return badRequest("state: unknown approval state " + strconv.Quote(st))
		}
	}
	as, err := s.o.Approvals.List(r.Context(), lp)
	if err != nil {
		return err
	}
	views, err := s.approvalViews(r.Context(), as)
	if err != nil {
		return err
	}
	writeJSON(w, 200, map[string]any{"approvals": views})
	return nil
}

func (s *Server) approvalGet(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	if s.o.Approvals == nil {
		return errorf(http.StatusNotImplemented, "not_supported", "this server has no approval queue")
	}
	id, err := s.pathID(r, "approval")
	if err != nil {
		return err
	}
	a, err := s.o.Approvals.Get(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("no approval with id " + r.PathValue("id"))
	}
	if err != nil {
		return err
	}
	if err := s.authorize(r.Context(), p, "read", a.Model, a.Environment); err != nil {
		return err
	}
	views, err := s.approvalViews(r.Context(), []store.Approval{a})
	if err != nil {
		return err
	}
	writeJSON(w, 200, views[0])
	return nil
}

func (s *Server) approvalDecide(action string) handler {
	return func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		if s.o.Approvals == nil {
			return errorf(http.StatusNotImplemented, "not_supported", "this server has no approval queue")
		}
		var body struct {
			Comment string `json:"comment"`
		}
		if err := decodeOptional(r, &body); err != nil {
			return err
		}
		id, err := s.pathID(r, "approval")
		if err != nil {
			return err
		}
		a, err := s.o.Approvals.Get(r.Context(), id)
		if errors.Is(err, store.ErrNotFound) {
			return notFound("no approval with id " + r.PathValue("id"))
		}
		if err != nil {
			return err
		}
		if err := s.authorize(r.Context(), p, action, a.Model, a.Environment); err != nil {
			return err
		}
		if action == "approve" {
			a, err = s.o.Approvals.Approve(r.Context(), a.ID, p, body.Comment)
		} else {
			a, err = s.o.Approvals.Reject(r.Context(), a.ID, p, body.Comment)
		}
		if err != nil {
			if s.o.ApprovalErrs != nil {
				if status, code, ok := s.o.ApprovalErrs(err); ok {
					return errorf(status, code, err.Error())
				}
			}
			return err
		}
		writeJSON(w, 200, a)
		return nil
	}
}

// ModelView is a model's registry entry.
type ModelView struct {
	Name       string               `json:"name"`
	Versions   []store.ModelVersion `json:"versions"`
	Production []store.Production   `json:"production"`
}

func (s *Server) modelList(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	if err := s.authorize(r.Context(), p, "read", "", ""); err != nil {
		return err
	}
	names, err := s.o.Store.ModelList(r.Context())
	if err != nil {
		return err
	}
	if names == nil {
		names = []string{}
	}
	writeJSON(w, 200, map[string]any{"models": names})
	return nil
}

func (s *Server) modelGet(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	name := r.PathValue("name")
	if err := s.authorize(r.Context(), p, "read", name, ""); err != nil {
		return err
	}
	vs, err := s.o.Store.ModelVersionList(r.Context(), name)
	if err != nil {
		return err
	}
	prod, err := s.o.Store.ProductionList(r.Context(), name)
	if err != nil {
		return err
	}
	if len(vs) == 0 && len(prod) == 0 {
		return notFound("no model named " + strconv.Quote(name))
	}
	if prod == nil {
		prod = []store.Production{}
	}
	writeJSON(w, 200, ModelView{Name: name, Versions: vs, Production: prod})
	return nil
}

func (s *Server) modelRollback(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	if s.o.Rollouts == nil {
		return errorf(http.StatusNotImplemented, "not_supported", "this server has no deployment agent")
	}
	var body struct {
		Environment string `json:"environment"`
		Reason      string `json:"reason"`
		Version     string `json:"version"` // registry.go: any registered version; "" = the previous one
	}
	if err := decodeOptional(r, &body); err != nil {
		return err
	}
	if body.Environment == "" {
		body.Environment = "production"
	}
	name := r.PathValue("name")
	if err := s.authorize(r.Context(), p, "rollback", name, body.Environment); err != nil {
		return err
	}
	prod, err := s.rollback(r, name, body.Environment, body.Version, p.Subject, body.Reason)
	if err != nil {
		return err
	}
	writeJSON(w, 200, prod)
	return nil
}

func (s *Server) auditList(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	if err := s.authorize(r.Context(), p, "read", "", ""); err != nil {
		return err
	}
	q := r.URL.Query()
	lp := store.AuditListParams{RunID: q.Get("run_id"), Type: q.Get("type"), Limit: 1000}
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return badRequest("after: want a sequence number")
		}
		lp.AfterSeq = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			return badRequest("limit: want an integer from 1 to 10000")
		}
		lp.Limit = n
	}
	es, err := s.o.Store.AuditList(r.Context(), lp)
	if err != nil {
		return err
	}
	if es == nil {
		es = []store.AuditEntry{}
	}
	writeJSON(w, 200, map[string]any{"entries": es})
	return nil
}

func (s *Server) policyGet(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	if s.o.Policies == nil {
		return errorf(http.StatusNotImplemented, "not_supported", "this server has no policy engine")
	}
	if err := s.authorize(r.Context(), p, "read", "", ""); err != nil {
		return err
	}
	writeJSON(w, 200, map[string]string{"revision": s.o.Policies.Revision()})
	return nil
}

func (s *Server) policyReload(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	if s.o.Policies == nil {
		return errorf(http.StatusNotImplemented, "not_supported", "this server has no policy engine")
	}
	if err := s.authorize(r.Context(), p, "reload", "", ""); err != nil {
		return err
	}
	if err := s.o.Policies.Reload(r.Context()); err != nil {
		return errorf(http.StatusUnprocessableEntity, "policy_rejected", "the new policy bundle was not loaded (the working one stays): "+err.Error())
	}
	writeJSON(w, 200, map[string]string{"revision": s.o.Policies.Revision()})
	return nil
}
