package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/modelgate/modelgate/internal/auth"
	"github.com/modelgate/modelgate/internal/release"
	"github.com/modelgate/modelgate/internal/store"
)

// VersionView is one registry version with its notes, the aliases that
// point at it and the environments it serves.
type VersionView struct {
	store.ModelVersion
	Notes        store.VersionNotes `json:"notes"`
	Aliases      []string           `json:"aliases"`
	Environments []string           `json:"environments"`
}

func (s *Server) versionView(r *http.Request, model, version string) (VersionView, error) {
	ctx := r.Context()
	v, err := s.o.Store.ModelVersionGet(ctx, model, version)
	if errors.Is(err, store.ErrNotFound) {
		return VersionView{}, notFound("no version " + strconv.Quote(version) + " of model " + strconv.Quote(model))
	}
	if err != nil {
		return VersionView{}, err
	}
	n, err := s.o.Store.ModelVersionNotes(ctx, model, version)
	if err != nil {
		return VersionView{}, err
	}
	out := VersionView{ModelVersion: v, Notes: n, Aliases: []string{}, Environments: []string{}}
	as, err := s.o.Store.AliasList(ctx, model)
	if err != nil {
		return VersionView{}, err
	}
	for _, a := range as {
		if a.Version == version {
			out.Aliases = append(out.Aliases, a.Name)
		}
	}
	prod, err := s.o.Store.ProductionList(ctx, model)
	if err != nil {
		return VersionView{}, err
	}
	for _, p := range prod {
		if p.Version == version {
			out.Environments = append(out.Environments, p.Environment)
		}
	}
	return out, nil
}

func (s *Server) versionGet(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	name, version := r.PathValue("name"), r.PathValue("version")
	if err := s.authorize(r.Context(), p, "read", name, ""); err != nil {
		return err
	}
	v, err := s.versionView(r, name, version)
	if err != nil {
		return err
	}
	writeJSON(w, 200, v)
	return nil
}

func (s *Server) aliasList(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	name := r.PathValue("name")
	if err := s.authorize(r.Context(), p, "read", name, ""); err != nil {
		return err
	}
	as, err := s.o.Store.AliasList(r.Context(), name)
	if err != nil {
		return err
	}
	writeJSON(w, 200, map[string]any{"aliases": as})
	return nil
}

// aliasSet moves an alias: authorized by the "alias" action, recorded in
// the audit trail before it takes effect, compare-and-swapped on
// "expect" when the caller sends it.
func (s *Server) aliasSet(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	if s.o.Recorder == nil {
		return errorf(http.StatusNotImplemented, "not_supported", "this server has no audit trail; aliases cannot move unrecorded")
	}
	var body struct {
		Version string  `json:"version"`
		Expect  *string `json:"expect"`
		Reason  string  `json:"reason"`
	}
	if err := decode(r, &body); err != nil {
		return err
	}
	name, alias := r.PathValue("name"), r.PathValue("alias")
	if err := s.authorize(r.Context(), p, "alias", name, ""); err != nil {
		return err
	}
	if body.Version == "" {
		return badRequest("version: required")
	}
	if err := store.ValidName("alias", alias); err != nil {
		return badRequest(err.Error())
	}
	if _, err := s.o.Store.ModelVersionGet(r.Context(), name, body.Version); errors.Is(err, store.ErrNotFound) {
		return notFound("no version " + strconv.Quote(body.Version) + " of model " + strconv.Quote(name))
	} else if err != nil {
		return err
	}
	if err := s.o.Recorder.Record(r.Context(), "model.alias_set", "", p.Subject, map[string]any{"model": name, "alias": alias,
		"version": body.Version, "expect": body.Expect, "reason": body.Reason}); err != nil {
		return err
	}
	a, err := s.o.Store.AliasSet(r.Context(), store.AliasSetParams{Model: name, Name: alias, Version: body.Version,
		Expect: body.Expect, Actor: p.Subject, Reason: body.Reason})
	if errors.Is(err, store.ErrConflict) {
		return errorf(http.StatusConflict, "conflict", err.Error())
	}
	if err != nil {
		return err
	}
	writeJSON(w, 200, a)
	return nil
}

// versionAnnotate sets a version's description and tags ("annotate").
func (s *Server) versionAnnotate(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var body struct {
		Description *string           `json:"description"`
		SetTags     map[string]string `json:"set_tags"`
		DeleteTags  []string          `json:"delete_tags"`
	}
	if err := decode(r, &body); err != nil {
		return err
	}
	name, version := r.PathValue("name"), r.PathValue("version")
	if err := s.authorize(r.Context(), p, "annotate", name, ""); err != nil {
		return err
	}
	ap := store.ModelVersionAnnotateParams{Model: name, Version: version, Description: body.Description, SetTags: body.SetTags, DeleteTags: body.DeleteTags}
	if err := ap.Validate(); err != nil {
		return badRequest(err.Error())
	}
	n, err := s.o.Store.ModelVersionAnnotate(r.Context(), ap)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("no version " + strconv.Quote(version) + " of model " + strconv.Quote(name))
	}
	if err != nil {
		return err
	}
	if s.o.Recorder != nil {
		if err := s.o.Recorder.Record(r.Context(), "model.annotated", "", p.Subject, map[string]any{"model": name, "version": version,
			"description": body.Description, "set_tags": body.SetTags, "delete_tags": body.DeleteTags}); err != nil {
			return err
		}
	}
	writeJSON(w, 200, n)
	return nil
}

// versionDiff compares two versions' evidence and lineage (?a=&b=).
func (s *Server) versionDiff(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	name := r.PathValue("name")
	if err := s.authorize(r.Context(), p, "read", name, ""); err != nil {
		return err
	}
	q := r.URL.Query()
	var vs [2]store.ModelVersion
	for i, k := range []string{"a", "b"} {
		if q.Get(k) == "" {
			return badRequest(k + ": required (a version of " + name + ")")
		}
		v, err := s.o.Store.ModelVersionGet(r.Context(), name, q.Get(k))
		if errors.Is(err, store.ErrNotFound) {
			return notFound(k + ": no version " + strconv.Quote(q.Get(k)) + " of model " + strconv.Quote(name))
		}
		if err != nil {
			return err
		}
		vs[i] = v
	}
	writeJSON(w, 200, release.Diff(vs[0], vs[1]))
	return nil
}

// RollbackTo is implemented by a Rollouts that can restore any registered
// version, not only the previous one.
type RollbackTo interface {
	RollbackTo(ctx context.Context, model, env, version, actor, reason string) (store.Production, error)
}

func (s *Server) rollback(r *http.Request, model, env, version, actor, reason string) (store.Production, error) {
	if version == "" {
		return s.o.Rollouts.Rollback(r.Context(), model, env, actor, reason)
	}
	to, ok := s.o.Rollouts.(RollbackTo)
	if !ok {
		return store.Production{}, errorf(http.StatusNotImplemented, "not_supported", "this server's deployment agent rolls back only to the previous version")
	}
	if _, err := s.o.Store.ModelVersionGet(r.Context(), model, version); errors.Is(err, store.ErrNotFound) {
		return store.Production{}, notFound("no version " + strconv.Quote(version) + " of model " + strconv.Quote(model))
	}
	return to.RollbackTo(r.Context(), model, env, version, actor, reason)
}
