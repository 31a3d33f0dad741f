// Package bundle writes and reads signed registry bundles: one model
// version's manifest (lineage, notes, aliases, blob list) and its
// artifact blobs in a tar, the manifest signed with Ed25519.
package bundle

import (
	"archive/tar"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/modelgate/modelgate/internal/store"
)

// Format names the manifest schema; a reader refuses any other.
const Format = "modelgate.bundle/v1"

// Names of the two fixed members of a bundle; blobs live under BlobDir.
const (
	ManifestName  = "manifest.json"
	SignatureName = "manifest.sig"
	BlobDir       = "blobs/"
)

// maxManifest bounds manifest.json and manifest.sig: both are small,
// and a reader must not buffer an attacker's gigabytes.
const maxManifest = 8 << 20

// Blob is one artifact file of the version.
type Blob struct {
	Name   string `json:"name"`   // member name under blobs/, "artifact" for the version's artifact
	SHA256 string `json:"sha256"` // "sha256:<hex>"
	Size   int64  `json:"size"`
}

// Manifest is what a bundle says about the version it carries.
type Manifest struct {
	Format     string             `json:"format"`
	Model      string             `json:"model"`
	Version    string             `json:"version"`
	Digest     string             `json:"digest"` // the version's artifact digest, as registered
	RunID      string             `json:"run_id,omitempty"`
	Metrics    map[string]float64 `json:"metrics,omitempty"`
	Lineage    *store.Lineage     `json:"lineage,omitempty"`
	Notes      store.VersionNotes `json:"notes"`
	Aliases    []string           `json:"aliases"` // aliases pointing at the version when it was exported
	CreatedAt  time.Time          `json:"created_at"`
	ExportedAt time.Time          `json:"exported_at"`
	Source     string             `json:"source,omitempty"` // who exported it (the server's key id, the subject)
	Blobs      []Blob             `json:"blobs"`
}

// Signature is manifest.sig: Ed25519 over the exact bytes of
// manifest.json, so any edit of the manifest (a metric, a digest) breaks
// it without a canonical-form question.
type Signature struct {
	Algorithm string `json:"algorithm"` // "ed25519"
	KeyID     string `json:"key_id"`    // first 16 hex digits of SHA-256 of the public key (tools/sign, audit checkpoints)
	Signature string `json:"signature"` // base64
}

// KeyID names a public key as tools/sign and the audit trail do.
func KeyID(pub ed25519.PublicKey) string {
	s := sha256.Sum256(pub)
	return hex.EncodeToString(s[:8])
}

// ErrTampered is wrapped by every check a well-formed bundle fails
// (exit 1); any other Read error is a malformed bundle (exit 2).
var ErrTampered = errors.New("bundle verification failed")

// TamperError names everything that does not match.
type TamperError struct{ Problems []string }

func (e *TamperError) Error() string {
	return fmt.Sprintf("%s: %s", ErrTampered, strings.Join(e.Problems, "; "))
}
func (e *TamperError) Unwrap() error { return ErrTampered }

var blobNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// WriteParams is one bundle to write: the manifest (Blobs filled in by
// Write from Files, in order) and the files' contents.
type WriteParams struct {
	Manifest Manifest
	Files    []File
	Key      ed25519.PrivateKey
}

// File is a blob to put in the bundle; Open is called once.
type File struct {
	Name string
	Size int64
	SHA  string // "sha256:<hex>" as known; Write checks the bytes against it
	Open func() (io.ReadCloser, error)
}

// Write streams a signed bundle to w.
func Write(w io.Writer, p WriteParams) error {
	if len(p.Key) != ed25519.PrivateKeySize {
		return errors.New("write bundle: no Ed25519 signing key")
	}
	m := p.Manifest
	m.Format = Format
	m.Blobs = make([]Blob, 0, len(p.Files))
	for _, f := range p.Files {
		if !blobNameRE.MatchString(f.Name) {
			return fmt.Errorf("write bundle: blob name %q: want letters, digits, '.', '_', '-'", f.Name)
		}
		m.Blobs = append(m.Blobs, Blob{Name: f.Name, SHA256: f.SHA, Size: f.Size})
	}
	if m.Aliases == nil {
		m.Aliases = []string{}
	}
	mb, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("write bundle: encode manifest: %w", err)
	}
	mb = append(mb, '\n')
	sig := Signature{Algorithm: "ed25519", KeyID: KeyID(p.Key.Public().(ed25519.PublicKey)),
		Signature: base64.StdEncoding.EncodeToString(ed25519.Sign(p.Key, mb))}
	sb, err := json.MarshalIndent(sig, "", "  ")
	if err != nil {
		return fmt.Errorf("write bundle: encode signature: %w", err)
	}
	tw := tar.NewWriter(w)
	mod := m.ExportedAt
	for _, e := range []struct {
		name string
		data []byte
	}{{ManifestName, mb}, {SignatureName, append(sb, '\n')}} {
		if err := tw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.data)), ModTime: mod, Format: tar.FormatPAX}); err != nil {
			return fmt.Errorf("write bundle %s: %w", e.name, err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return fmt.Errorf("write bundle %s: %w", e.name, err)
		}
	}
	for _, f := range p.Files {
		if err := writeFile(tw, f, mod); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	return nil
}

func writeFile(tw *tar.Writer, f File, mod time.Time) error {
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("write bundle blob %s: %w", f.Name, err)
	}
	defer rc.Close()
	if err := tw.WriteHeader(&tar.Header{Name: BlobDir + f.Name, Mode: 0o644, Size: f.Size, ModTime: mod, Format: tar.FormatPAX}); err != nil {
		return fmt.Errorf("write bundle blob %s: %w", f.Name, err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tw, h), io.LimitReader(rc, f.Size))
	if err != nil {
		return fmt.Errorf("write bundle blob %s: %w", f.Name, err)
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); n != f.Size || got != f.SHA {
		// The bytes on disk are not what the registry says: a bundle
		// built from them would carry a lie under our signature.
		return fmt.Errorf("write bundle blob %s: the stored bytes (%d, %s) are not the registered %s (%d bytes)", f.Name, n, got, f.SHA, f.Size)
	}
	return nil
}

// Read is a bundle read and verified: its manifest, and the blobs
// extracted under Dir (name → path).
type Read struct {
	Manifest Manifest
	// ManifestBytes and Signature are the signed bytes as read.
	ManifestBytes []byte
	Signature     Signature
	Dir           string
	Paths         map[string]string
	actual        map[string]Blob // digests of the blobs as extracted
}

// ReadParams says where to extract blobs and with which key to verify.
type ReadParams struct {
	Dir       string // an empty directory the caller owns
	PublicKey ed25519.PublicKey
	MaxBytes  int64 // largest total of blobs; 0 = no limit
}

// ReadVerify reads a bundle from r, extracts its blobs into p.Dir and
// verifies the signature and every blob's digest and size. A malformed
// bundle is a plain error; one that fails a check wraps ErrTampered and
// names every member that does not match.
func ReadVerify(r io.Reader, p ReadParams) (Read, error) {
	if len(p.PublicKey) != ed25519.PublicKeySize {
		return Read{}, errors.New("bundle: no Ed25519 public key to verify with")
	}
	rd, err := Unpack(r, p)
	if err != nil {
		return Read{}, err
	}
	if err := Verify(rd, p.PublicKey); err != nil {
		return Read{}, err
	}
	return rd, nil
}

// Unpack reads a well-formed bundle and extracts its blobs into p.Dir
// (p.PublicKey is not used), recording each blob's digest as read; what
// it returns is unverified until Verify says otherwise.
func Unpack(r io.Reader, p ReadParams) (Read, error) {
	tr := tar.NewReader(r)
	out := Read{Dir: p.Dir, Paths: map[string]string{}}
	var haveSig bool
	actual := map[string]Blob{}
	out.actual = actual
	var total int64
	for i := 0; ; i++ {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return Read{}, fmt.Errorf("bundle: not a tar archive (member %d): %w", i+1, err)
		}
		if h.Typeflag != tar.TypeReg {
			return Read{}, fmt.Errorf("bundle: member %q is not a regular file", h.Name)
		}
		switch {
		case h.Name == ManifestName || h.Name == SignatureName:
			if h.Size > maxManifest {
				return Read{}, fmt.Errorf("bundle: %s is %d bytes, at most %d", h.Name, h.Size, maxManifest)
			}
			b, err := io.ReadAll(io.LimitReader(tr, maxManifest))
			if err != nil {
				return Read{}, fmt.Errorf("bundle: read %s: %w", h.Name, err)
			}
			if h.Name == ManifestName {
				if out.ManifestBytes != nil {
					return Read{}, fmt.Errorf("bundle: %s appears twice", h.Name)
				}
				out.ManifestBytes = b
				continue
			}
			if haveSig {
				return Read{}, fmt.Errorf("bundle: %s appears twice", h.Name)
			}
			haveSig = true
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&out.Signature); err != nil {
				return Read{}, fmt.Errorf("bundle: %s is not a signature (algorithm, key_id, signature): %w", h.Name, err)
			}
		case strings.HasPrefix(h.Name, BlobDir):
			name := strings.TrimPrefix(h.Name, BlobDir)
			if !blobNameRE.MatchString(name) {
				return Read{}, fmt.Errorf("bundle: member %q: a blob name wants letters, digits, '.', '_', '-'", h.Name)
			}
			if _, dup := actual[name]; dup {
				return Read{}, fmt.Errorf("bundle: %s appears twice", h.Name)
			}
			total += h.Size
			if p.MaxBytes > 0 && total > p.MaxBytes {
				return Read{}, fmt.Errorf("bundle: blobs are more than %d bytes", p.MaxBytes)
			}
			path := filepath.Join(p.Dir, name)
			b, err := extract(tr, path, h.Size)
			if err != nil {
				return Read{}, fmt.Errorf("bundle: %s: %w", h.Name, err)
			}
			actual[name] = b
			out.Paths[name] = path
		default:
			return Read{}, fmt.Errorf("bundle: unexpected member %q (want %s, %s, %s*)", h.Name, ManifestName, SignatureName, BlobDir)
		}
	}
	if out.ManifestBytes == nil {
		return Read{}, fmt.Errorf("bundle: no %s", ManifestName)
	}
	if !haveSig {
		return Read{}, fmt.Errorf("bundle: no %s", SignatureName)
	}
	dec := json.NewDecoder(bytes.NewReader(out.ManifestBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&out.Manifest); err != nil {
		return Read{}, fmt.Errorf("bundle: %s: %w", ManifestName, err)
	}
	if out.Manifest.Format != Format {
		return Read{}, fmt.Errorf("bundle: %s: format %q, want %q", ManifestName, out.Manifest.Format, Format)
	}
	if out.Manifest.Model == "" || out.Manifest.Version == "" {
		return Read{}, fmt.Errorf("bundle: %s: model and version are required", ManifestName)
	}
	return out, nil
}

func extract(r io.Reader, path string, size int64) (Blob, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return Blob{}, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(r, size))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Blob{}, err
	}
	if n != size {
		return Blob{}, fmt.Errorf("truncated: %d of %d bytes", n, size)
	}
	return Blob{SHA256: "sha256:" + hex.EncodeToString(h.Sum(nil)), Size: n}, nil
}

// Verify checks an unpacked bundle: the signature over the manifest's
// bytes first (only a signed manifest's blob list is worth comparing
// with), then every blob's digest and size.
func Verify(rd Read, pub ed25519.PublicKey) error {
	actual := rd.actual
	if len(pub) != ed25519.PublicKeySize {
		return errors.New("bundle: no Ed25519 public key to verify with")
	}
	s := rd.Signature
	sig, err := base64.StdEncoding.DecodeString(s.Signature)
	if s.Algorithm != "ed25519" || err != nil || len(sig) != ed25519.SignatureSize {
		return &TamperError{Problems: []string{fmt.Sprintf("%s is not an Ed25519 signature (algorithm %q)", SignatureName, s.Algorithm)}}
	}
	var probs []string
	if id := KeyID(pub); s.KeyID != id {
		probs = append(probs, fmt.Sprintf("%s names key %s, verifying with key %s", SignatureName, s.KeyID, id))
	}
	if !ed25519.Verify(pub, rd.ManifestBytes, sig) {
		probs = append(probs, fmt.Sprintf("%s does not match %s: the manifest (model, version, metrics, lineage, blob list) was changed after signing, or another key signed it", SignatureName, ManifestName))
		return &TamperError{Problems: probs}
	}
	want := map[string]Blob{}
	for _, b := range rd.Manifest.Blobs {
		want[b.Name] = b
	}
	for _, b := range rd.Manifest.Blobs {
		got, ok := actual[b.Name]
		switch {
		case !ok:
			probs = append(probs, fmt.Sprintf("blob %s is in the manifest but not in the bundle", b.Name))
		case got.SHA256 != b.SHA256 || got.Size != b.Size:
			probs = append(probs, fmt.Sprintf("blob %s changed: %s (%d bytes), signed %s (%d bytes)", b.Name, got.SHA256, got.Size, b.SHA256, b.Size))
		}
	}
	extra := make([]string, 0, len(actual))
	for name := range actual {
		if _, ok := want[name]; !ok {
			extra = append(extra, name)
		}
	}
	sort.Strings(extra)
	for _, name := range extra {
		probs = append(probs, fmt.Sprintf("blob %s is in the bundle but not in the signed manifest", name))
	}
	if len(probs) > 0 {
		return &TamperError{Problems: probs}
	}
	return nil
}
