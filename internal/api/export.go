package api

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/modelgate/modelgate/internal/auth"
	"github.com/modelgate/modelgate/internal/release/bundle"
	"github.com/modelgate/modelgate/internal/store"
)

// PublicKeyHeader carries the Ed25519 public key (base64 of its 32
// bytes) an importer verifies a bundle with.
const PublicKeyHeader = "X-Modelgate-Public-Key"

// ArtifactBlob is the member name of a version's artifact in a bundle.
const ArtifactBlob = "artifact"

// versionExport streams a signed bundle of one version ("read" and
// "upload"): its manifest and artifact, signed with the server's key (the
// audit checkpoints' key, so one public key vouches for both). The bundle
// carries the artifact's bytes, so it needs what reading a blob needs
// (GET /v1/blobs is "upload"): a read-only token sees a version's
// metadata, never the model itself.
func (s *Server) versionExport(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	name, version := r.PathValue("name"), r.PathValue("version")
	if err := s.authorize(r.Context(), p, "read", name, ""); err != nil {
		return err
	}
	if err := s.authorize(r.Context(), p, "upload", name, ""); err != nil {
		return err
	}
	if len(s.o.BundleKey) != ed25519.PrivateKeySize {
		return errorf(http.StatusNotImplemented, "not_supported", "this server has no signing key; it cannot export bundles")
	}
	v, err := s.versionView(r, name, version)
	if err != nil {
		return err
	}
	f, err := s.artifactFile(r, v.ModelVersion)
	if err != nil {
		return err
	}
	m := bundle.Manifest{Model: v.Model, Version: v.Version, Digest: v.Digest, RunID: v.RunID, Metrics: v.Metrics,
		Lineage: v.Lineage, Notes: v.Notes, Aliases: v.Aliases, CreatedAt: v.CreatedAt, ExportedAt: time.Now().UTC(),
		Source: "modelgate key " + bundle.KeyID(s.o.BundleKey.Public().(ed25519.PublicKey)) + ", exported by " + p.Subject}
	if s.o.Recorder != nil {
		if err := s.o.Recorder.Record(r.Context(), "model.exported", "", p.Subject, map[string]any{"model": name, "version": version, "digest": v.Digest}); err != nil {
			return err
		}
	}
	w.Header().Set("Content-Type", "application/x-tar")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", safeFileName(name+"-"+version)+".tar"))
	// Headers are sent: a failure from here on can only cut the stream,
	// which the reader sees as a truncated tar.
	if err := bundle.Write(w, bundle.WriteParams{Manifest: m, Key: s.o.BundleKey, Files: []bundle.File{f}}); err != nil {
		s.o.Logger.Error("export bundle", "model", name, "version", version, "err", err)
	}
	return nil
}

func safeFileName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '.' || r == '-' || r == '_' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') {
			return r
		}
		return '_'
	}, s)
}

// artifactFile finds a version's artifact: the blob of its digest, else
// the single file the registry recorded at its artifact path (a path the
// server wrote, never one a caller names), checked against the digest.
func (s *Server) artifactFile(r *http.Request, v store.ModelVersion) (bundle.File, error) {
	if s.o.Blobs != nil {
		if info, err := s.o.Blobs.Stat(r.Context(), v.Digest); err == nil {
			return bundle.File{Name: ArtifactBlob, Size: info.Size, SHA: v.Digest, Open: func() (io.ReadCloser, error) {
				rc, _, err := s.o.Blobs.Open(r.Context(), v.Digest)
				return rc, err
			}}, nil
		}
	}
	if v.ArtifactPath != "" {
		if st, err := os.Stat(v.ArtifactPath); err == nil && st.Mode().IsRegular() {
			return bundle.File{Name: ArtifactBlob, Size: st.Size(), SHA: v.Digest, Open: func() (io.ReadCloser, error) {
				return os.Open(v.ArtifactPath)
			}}, nil
		}
	}
	return bundle.File{}, errorf(http.StatusConflict, "no_artifact",
		fmt.Sprintf("%s@%s: the artifact %s is neither a stored blob nor a single file on this server; nothing to export", v.Model, v.Version, v.Digest))
}

// ImportView is what an import answers: the version as registered here.
type ImportView struct {
	VersionView
	KeyID string `json:"key_id"`
}

// versionImport registers a version from a signed bundle ("promote" on
// the model, the right to put a version where a deployment can reach
// it). The caller names the public key; the server verifies the
// signature and every blob against it before anything is stored or
// recorded, and the version's lineage keeps the key and the source.
func (s *Server) versionImport(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	name := r.PathValue("name")
	if err := s.authorize(r.Context(), p, "promote", name, ""); err != nil {
		return err
	}
	if s.o.Recorder == nil {
		return errorf(http.StatusNotImplemented, "not_supported", "this server has no audit trail; versions cannot be imported unrecorded")
	}
	bs, err := s.blobs()
	if err != nil {
		return err
	}
	raw, err := base64.StdEncoding.DecodeString(r.Header.Get(PublicKeyHeader))
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return badRequest(PublicKeyHeader + ": want the base64 of a 32-byte Ed25519 public key")
	}
	pub := ed25519.PublicKey(raw)
	tmp, err := os.MkdirTemp("", "modelgate-import-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	rd, err := bundle.ReadVerify(r.Body, bundle.ReadParams{Dir: tmp, PublicKey: pub, MaxBytes: s.o.MaxBlobBytes})
	var mbe *http.MaxBytesError
	switch {
	case errors.Is(err, bundle.ErrTampered):
		return errorf(http.StatusUnprocessableEntity, "tampered", err.Error())
	case errors.As(err, &mbe):
		return errorf(http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("bundle is larger than this server accepts (%d bytes, --max-blob-bytes)", s.o.MaxBlobBytes))
	case err != nil:
		return badRequest(err.Error())
	}
	m := rd.Manifest
	if m.Model != name {
		return badRequest(fmt.Sprintf("the bundle holds model %q, not %q", m.Model, name))
	}
	if err := store.ValidName("version", m.Version); err != nil {
		return badRequest("bundle: " + err.Error())
	}
	var art *bundle.Blob
	for i := range m.Blobs {
		if m.Blobs[i].Name == ArtifactBlob {
			art = &m.Blobs[i]
		}
	}
	if art == nil || art.SHA256 != m.Digest {
		return errorf(http.StatusUnprocessableEntity, "tampered", fmt.Sprintf("bundle: the signed manifest's digest %s is not its %s blob's", m.Digest, ArtifactBlob))
	}
	if old, err := s.o.Store.ModelVersionGet(r.Context(), name, m.Version); err == nil && old.Digest != m.Digest {
		return errorf(http.StatusConflict, "conflict", fmt.Sprintf("%s@%s is registered here with %s, the bundle carries %s", name, m.Version, old.Digest, m.Digest))
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	var notes *store.ModelVersionAnnotateParams
	if m.Notes.Description != "" || len(m.Notes.Tags) > 0 {
		d := m.Notes.Description
		notes = &store.ModelVersionAnnotateParams{Model: name, Version: m.Version, Description: &d, SetTags: m.Notes.Tags}
		if err := notes.Validate(); err != nil {
			return badRequest("bundle notes: " + err.Error())
		}
	}
	sum := sha256.Sum256(rd.ManifestBytes)
	keyID := bundle.KeyID(pub)
	lin := store.Lineage{}
	if m.Lineage != nil {
		lin = *m.Lineage
	}
	lin.Imported = &store.LineageImport{Source: m.Source, KeyID: keyID, Manifest: "sha256:" + hex.EncodeToString(sum[:]),
		RunID: m.RunID, Aliases: m.Aliases, CreatedAt: m.CreatedAt, ExportedAt: m.ExportedAt, ImportedBy: p.Subject, ImportedAt: time.Now().UTC()}
	if err := s.o.Recorder.Record(r.Context(), "model.imported", "", p.Subject, map[string]any{"model": name, "version": m.Version,
		"digest": m.Digest, "key_id": keyID, "manifest": lin.Imported.Manifest, "source": m.Source}); err != nil {
		return err
	}
	info, err := bs.Import(r.Context(), rd.Paths[ArtifactBlob])
	if err != nil {
		return err
	}
	if info.Digest != m.Digest {
		return errorf(http.StatusUnprocessableEntity, "tampered", "bundle: the artifact changed while it was stored")
	}
	path, err := bs.Path(info.Digest)
	if err != nil {
		return err
	}
	v := store.ModelVersion{Model: name, Version: m.Version, Digest: m.Digest, ArtifactPath: path, Metrics: m.Metrics,
		Lineage: &lin, CreatedAt: time.Now().UTC()}
	if err := s.o.Store.ModelVersionPut(r.Context(), v); errors.Is(err, store.ErrConflict) {
		return errorf(http.StatusConflict, "conflict", err.Error())
	} else if err != nil {
		return err
	}
	if notes != nil {
		if _, err := s.o.Store.ModelVersionAnnotate(r.Context(), *notes); err != nil {
			return err
		}
	}
	view, err := s.versionView(r, name, m.Version)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, ImportView{VersionView: view, KeyID: keyID})
	return nil
}
