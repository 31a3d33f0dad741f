package sign

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Algorithm is the only signature scheme: Ed25519 over the canonical
// manifest bytes.
const Algorithm = "ed25519"

// Entry is one file of an artifact.
type Entry struct {
	Path   string `json:"path"` // slash-separated, relative to the artifact root
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// Manifest lists every file of an artifact with its digest.
type Manifest struct {
	Files []Entry `json:"files"`
}

// NewManifest sorts entries by path so that the same files always give
// the same bytes, and rejects duplicates.
func NewManifest(entries []Entry) (Manifest, error) {
	fs := append([]Entry(nil), entries...)
	sort.Slice(fs, func(i, j int) bool { return fs[i].Path < fs[j].Path })
	for i := 1; i < len(fs); i++ {
		if fs[i].Path == fs[i-1].Path {
			return Manifest{}, fmt.Errorf("manifest: %q appears twice", fs[i].Path)
		}
	}
	if fs == nil {
		fs = []Entry{}
	}
	return Manifest{Files: fs}, nil
}

// Canonical is the byte string that is signed: compact JSON with keys in
// lexical order (path, sha256, size), files sorted by path, no HTML
// escaping, no trailing newline — the RFC 8785 form for this schema.
func (m Manifest) Canonical() []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	sorted, _ := NewManifest(m.Files)
	// Entries are strings and ints, which always encode.
	_ = enc.Encode(sorted)
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// Digest is the SHA-256 of the canonical manifest, "sha256:<hex>": one
// identifier for the whole artifact.
func (m Manifest) Digest() string {
	s := sha256.Sum256(m.Canonical())
	return "sha256:" + hex.EncodeToString(s[:])
}

// Size is the total of all files.
func (m Manifest) Size() int64 {
	var n int64
	for _, e := range m.Files {
		n += e.Size
	}
	return n
}

// BuildParams says what to put in a manifest.
type BuildParams struct {
	// Root is a file or a folder. Entries are relative to it; a single
	// file is entered under its base name.
	Root string
	// Exclude lists files to leave out (the signature file itself when
	// it is written inside the folder).
	Exclude []string
}

// Build hashes every file under p.Root. Symbolic links are refused: a
// signed artifact must not depend on what a link points at.
func Build(ctx context.Context, p BuildParams) (Manifest, error) {
	st, err := os.Lstat(p.Root)
	if err != nil {
		return Manifest{}, fmt.Errorf("manifest: %w", err)
	}
	excl := map[string]bool{}
	for _, e := range p.Exclude {
		if a, err := filepath.Abs(e); err == nil {
			excl[a] = true
		}
	}
	if !st.IsDir() {
		if !st.Mode().IsRegular() {
			return Manifest{}, fmt.Errorf("manifest: %s is not a regular file", p.Root)
		}
		e, err := hashEntry(ctx, p.Root, filepath.Base(p.Root))
		if err != nil {
			return Manifest{}, err
		}
		return NewManifest([]Entry{e})
	}
	var entries []Entry
	err = filepath.WalkDir(p.Root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("manifest: walk %s: %w", path, err)
		}
		if d.IsDir() {
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("manifest: %s is a symbolic link or special file; sign regular files only", path)
		}
		if a, err := filepath.Abs(path); err == nil && excl[a] {
			return nil
		}
		rel, err := filepath.Rel(p.Root, path)
		if err != nil {
			return fmt.Errorf("manifest: %w", err)
		}
		e, err := hashEntry(ctx, path, filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		entries = append(entries, e)
		return nil
	})
	if err != nil {
		return Manifest{}, err
	}
	return NewManifest(entries)
}

// BuildAll is Build over several roots, for artifacts that are not one
// folder. With one root it equals Build; with more, every entry keeps
// the root as given in front ("model.json", "tokenizer/vocab.txt") so
// that verification must be called with the same paths.
func BuildAll(ctx context.Context, roots, exclude []string) (Manifest, error) {
	if len(roots) == 1 {
		return Build(ctx, BuildParams{Root: roots[0], Exclude: exclude})
	}
	var all []Entry
	for _, r := range roots {
		m, err := Build(ctx, BuildParams{Root: r, Exclude: exclude})
		if err != nil {
			return Manifest{}, err
		}
		st, err := os.Stat(r)
		if err != nil {
			return Manifest{}, fmt.Errorf("manifest: %w", err)
		}
		for _, e := range m.Files {
			if st.IsDir() {
				e.Path = filepath.ToSlash(filepath.Join(filepath.Clean(r), filepath.FromSlash(e.Path)))
			} else {
				e.Path = filepath.ToSlash(filepath.Clean(r))
			}
			all = append(all, e)
		}
	}
	return NewManifest(all)
}

func hashEntry(ctx context.Context, path, rel string) (Entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return Entry{}, fmt.Errorf("manifest: %w", err)
	}
	defer f.Close()
	// 1 MiB reads for large files; a small file gets a buffer its size,
	// since the coordinator hashes every run's artifact on its hot path.
	size := 1 << 20
	if st, err := f.Stat(); err == nil && st.Size() < int64(size) {
		size = max(int(st.Size()), 512)
	}
	h := sha256.New()
	n, err := io.CopyBuffer(h, ctxReader{ctx, f}, make([]byte, size))
	if err != nil {
		return Entry{}, fmt.Errorf("manifest: hash %s: %w", path, err)
	}
	return Entry{Path: rel, SHA256: hex.EncodeToString(h.Sum(nil)), Size: n}, nil
}

// FileDigest is the digest of one file artifact, "sha256:<hex>" of its
// bytes, and its size. (A folder artifact is named by its manifest's
// Digest.) The coordinator, the deployment agent and the security agent
// all name a file candidate this way.
func FileDigest(path string) (string, int64, error) {
	e, err := hashEntry(context.Background(), path, "")
	if err != nil {
		return "", 0, err
	}
	return "sha256:" + e.SHA256, e.Size, nil
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Signed is the detached signature file: the manifest that was signed,
// the key's id and the base64 Ed25519 signature over Canonical().
type Signed struct {
	Algorithm string   `json:"algorithm"`
	KeyID     string   `json:"key_id"` // first 16 hex digits of SHA-256 of the public key
	Manifest  Manifest `json:"manifest"`
	Signature string   `json:"signature"`
}

// KeyID names a public key without revealing anything.
func KeyID(pub ed25519.PublicKey) string {
	s := sha256.Sum256(pub)
	return hex.EncodeToString(s[:8])
}

// Sign signs a manifest.
func Sign(m Manifest, key ed25519.PrivateKey) Signed {
	sig := ed25519.Sign(key, m.Canonical())
	return Signed{Algorithm: Algorithm, KeyID: KeyID(key.Public().(ed25519.PublicKey)), Manifest: m,
		Signature: base64.StdEncoding.EncodeToString(sig)}
}

// WriteSigned writes a signature file.
func WriteSigned(path string, s Signed) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode signature: %w", err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write signature %s: %w", path, err)
	}
	return nil
}

// ReadSigned reads a signature file.
func ReadSigned(path string) (Signed, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Signed{}, fmt.Errorf("read signature: %w", err)
	}
	var s Signed
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Signed{}, fmt.Errorf("signature %s: not a modelgate signature file: %w", path, err)
	}
	if s.Algorithm != Algorithm {
		return Signed{}, fmt.Errorf("signature %s: algorithm %q, want %q", path, s.Algorithm, Algorithm)
	}
	return s, nil
}

// ErrMismatch is wrapped by every verification failure, so callers can
// tell a failed check (exit 1) from unreadable input (exit 2).
var ErrMismatch = errors.New("signature verification failed")

// VerifyError lists everything that does not match.
type VerifyError struct{ Problems []string }

func (e *VerifyError) Error() string {
	return fmt.Sprintf("%s: %s", ErrMismatch, strings.Join(e.Problems, "; "))
}
func (e *VerifyError) Unwrap() error { return ErrMismatch }

// Verify checks the signature with pub and then that actual (the
// manifest of the files on disk now) equals the signed manifest; it
// names every added, missing or changed file.
func Verify(s Signed, pub ed25519.PublicKey, actual Manifest) error {
	var probs []string
	sig, err := base64.StdEncoding.DecodeString(s.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return &VerifyError{Problems: []string{"signature is not a base64 Ed25519 signature"}}
	}
	if id := KeyID(pub); s.KeyID != "" && s.KeyID != id {
		probs = append(probs, fmt.Sprintf("signed with key %s, verifying with key %s", s.KeyID, id))
	}
	if !ed25519.Verify(pub, s.Manifest.Canonical(), sig) {
		probs = append(probs, "the signature does not match the manifest and key")
		return &VerifyError{Problems: probs}
	}
	signed := map[string]Entry{}
	for _, e := range s.Manifest.Files {
		signed[e.Path] = e
	}
	for _, e := range actual.Files {
		want, ok := signed[e.Path]
		switch {
		case !ok:
			probs = append(probs, fmt.Sprintf("%s is not in the signed manifest", e.Path))
		case want.SHA256 != e.SHA256 || want.Size != e.Size:
			probs = append(probs, fmt.Sprintf("%s changed (sha256 %s…, signed %s…)", e.Path, short(e.SHA256), short(want.SHA256)))
		}
		delete(signed, e.Path)
	}
	missing := make([]string, 0, len(signed))
	for p := range signed {
		missing = append(missing, p)
	}
	sort.Strings(missing)
	for _, p := range missing {
		probs = append(probs, fmt.Sprintf("%s is signed but missing", p))
	}
	if len(probs) > 0 {
		return &VerifyError{Problems: probs}
	}
	return nil
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// GenerateKey writes a new Ed25519 key pair: the private key to path
// (PKCS#8 PEM, mode 0600) and the public key to path+".pub" (PKIX PEM),
// the formats openssl genpkey -algorithm ed25519 reads and writes.
func GenerateKey(path string) (pubPath string, err error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", fmt.Errorf("generate key: %w", err)
	}
	pk, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", fmt.Errorf("encode private key: %w", err)
	}
	pb, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("encode public key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("write private key: %w", err)
	}
	if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: pk}); err != nil {
		f.Close()
		return "", fmt.Errorf("write private key %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("write private key %s: %w", path, err)
	}
	pubPath = path + ".pub"
	if err := os.WriteFile(pubPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pb}), 0o644); err != nil {
		return "", fmt.Errorf("write public key: %w", err)
	}
	return pubPath, nil
}

// LoadPrivateKey reads a PKCS#8 PEM Ed25519 private key.
func LoadPrivateKey(path string) (ed25519.PrivateKey, error) {
	der, err := readPEM(path, "PRIVATE KEY")
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("private key %s: %w", path, err)
	}
	ek, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("private key %s: a %T, want Ed25519", path, k)
	}
	return ek, nil
}

// LoadPublicKey reads a PKIX PEM Ed25519 public key.
func LoadPublicKey(path string) (ed25519.PublicKey, error) {
	der, err := readPEM(path, "PUBLIC KEY")
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("public key %s: %w", path, err)
	}
	ek, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("public key %s: a %T, want Ed25519", path, k)
	}
	return ek, nil
}

func readPEM(path, typ string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, fmt.Errorf("key %s: no PEM block", path)
	}
	if b.Type != typ {
		return nil, fmt.Errorf("key %s: PEM block %q, want %q", path, b.Type, typ)
	}
	return b.Bytes, nil
}

// DefaultSignaturePath is where modelgate sign writes by default: next
// to the artifact, with ".sig" appended.
func DefaultSignaturePath(root string) string {
	return filepath.Clean(root) + ".sig"
}
