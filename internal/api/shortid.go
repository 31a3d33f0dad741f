package api

import (
	"errors"
	"net/http"

	"github.com/modelgate/modelgate/internal/store"
)

// fullIDLen is the length of a run or approval id (a UUID).
const fullIDLen = 36

// pathID is the {id} of the request's path, a short id as the CLI and
// the pages print it (c9f0e39e) resolved to the one id that starts with
// it. An id that several start with is refused, naming them, so that a
// reviewer never approves another run than the one they meant.
func (s *Server) pathID(r *http.Request, kind string) (string, error) {
	id := r.PathValue("id")
	if len(id) >= fullIDLen {
		return id, nil
	}
	resolve := s.o.Store.RunResolveID
	if kind == "approval" {
		resolve = s.o.Store.ApprovalResolveID
	}
	full, err := resolve(r.Context(), id)
	var ae *store.AmbiguousError
	switch {
	case errors.As(err, &ae):
		return "", errorf(http.StatusConflict, "ambiguous_id", ae.Error())
	case errors.Is(err, store.ErrNotFound):
		return id, nil // let the lookup say there is no such id
	case err != nil:
		return "", err
	}
	return full, nil
}
