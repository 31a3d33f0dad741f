package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/modelgate/modelgate/internal/store"
)

// apiError is an error with an HTTP status and a stable code.
type apiError struct {
	status int
	code   string
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func errorf(status int, code, msg string) error {
	return &apiError{status: status, code: code, msg: msg}
}

func badRequest(msg string) error { return errorf(http.StatusBadRequest, "bad_request", msg) }
func forbidden(msg string) error  { return errorf(http.StatusForbidden, "forbidden", msg) }
func notFound(msg string) error   { return errorf(http.StatusNotFound, "not_found", msg) }

// writeError maps an error to a status: typed API errors keep theirs,
// store sentinels map to 404/409, anything else is a 500 whose details
// go to the log, not the client.
func writeError(w http.ResponseWriter, err error) int {
	var ae *apiError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &mbe):
		ae = &apiError{http.StatusRequestEntityTooLarge, "payload_too_large", "request body is larger than " + strconv.FormatInt(mbe.Limit, 10) + " bytes"}
	case errors.Is(err, store.ErrNotFound):
		ae = &apiError{http.StatusNotFound, "not_found", err.Error()}
	case errors.Is(err, store.ErrConflict):
		ae = &apiError{http.StatusConflict, "conflict", err.Error()}
	default:
		ae = &apiError{http.StatusInternalServerError, "internal", "internal error; see the server log"}
	}
	writeJSON(w, ae.status, map[string]any{"error": map[string]string{"code": ae.code, "message": ae.msg}})
	return ae.status
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
