package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/modelgate/modelgate/internal/auth"
	"github.com/modelgate/modelgate/internal/blob"
)

// BlobReply is the body of PUT /v1/blobs/{digest}.
type BlobReply struct {
	blob.Info
	Created bool `json:"created"`
}

// blobDigest reads and checks the {digest} path value.
func blobDigest(r *http.Request) (string, error) {
	d := r.PathValue("digest")
	if _, err := blob.ParseDigest(d); err != nil {
		return "", errorf(http.StatusBadRequest, "invalid_digest", err.Error())
	}
	return d, nil
}

func (s *Server) blobs() (*blob.FS, error) {
	if s.o.Blobs == nil {
		return nil, errorf(http.StatusNotImplemented, "not_implemented", "this server keeps no blob store")
	}
	return s.o.Blobs, nil
}

// blobPut stores an upload once its bytes hash to the digest it names.
// Uploading is the right to hand the server files, so it is the policy's
// "upload" action; a blob by itself runs nothing.
func (s *Server) blobPut(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	bs, err := s.blobs()
	if err != nil {
		return err
	}
	// POST /v1/blobs names no digest: the bytes are stored under what they
	// hash to, and the reply says which (the client compares its own).
	var d string
	if r.Method == http.MethodPut {
		if d, err = blobDigest(r); err != nil {
			return err
		}
	}
	if err := s.authorize(r.Context(), p, "upload", "", ""); err != nil {
		return err
	}
	if r.ContentLength > s.o.MaxBlobBytes {
		return errorf(http.StatusRequestEntityTooLarge, "too_large",
			fmt.Sprintf("blob of %d bytes is larger than this server accepts (%d, --max-blob-bytes)", r.ContentLength, s.o.MaxBlobBytes))
	}
	info, created, err := bs.Put(r.Context(), blob.PutParams{Digest: d, Body: r.Body, Max: s.o.MaxBlobBytes})
	var mbe *http.MaxBytesError
	switch {
	case errors.Is(err, blob.ErrDigestMismatch):
		return errorf(http.StatusBadRequest, "digest_mismatch", err.Error())
	case errors.Is(err, blob.ErrTooLarge), errors.As(err, &mbe):
		return errorf(http.StatusRequestEntityTooLarge, "too_large",
			fmt.Sprintf("blob is larger than this server accepts (%d bytes, --max-blob-bytes)", s.o.MaxBlobBytes))
	case err != nil:
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		s.o.Logger.Info("blob stored", "digest", info.Digest, "bytes", info.Size, "by", p.Subject)
	}
	w.Header().Set("Location", "/v1/blobs/"+info.Digest)
	writeJSON(w, status, BlobReply{Info: info, Created: created})
	return nil
}

// blobGet answers HEAD (does the server have it: the client skips what
// it has) and GET (the bytes back, for a user checking what was stored).
func (s *Server) blobGet(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	bs, err := s.blobs()
	if err != nil {
		return err
	}
	d, err := blobDigest(r)
	if err != nil {
		return err
	}
	if err := s.authorize(r.Context(), p, "upload", "", ""); err != nil {
		return err
	}
	rc, info, err := bs.Open(r.Context(), d)
	if errors.Is(err, blob.ErrNotFound) {
		return notFound("no blob " + d)
	}
	if err != nil {
		return err
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(info.Size, 10))
	w.Header().Set("ETag", `"`+d+`"`)
	w.Header().Set("Cache-Control", "private, max-age=31536000, immutable")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return nil
	}
	_, _ = io.Copy(w, rc)
	return nil
}
