// Package blob stores content-addressed files: a blob is named by the
// SHA-256 of its bytes, so the name a reviewer approved can only ever
// return those bytes.
//
// Store is the seam a remote driver (S3, GCS) goes behind; FS is the
// driver that keeps blobs under the server's data folder.
package blob

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Errors a driver returns; callers match them with errors.Is.
var (
	ErrNotFound       = errors.New("blob not found")
	ErrDigestMismatch = errors.New("content does not match its digest")
	ErrTooLarge       = errors.New("blob is larger than the server accepts")
)

// Info describes a stored blob.
type Info struct {
	Digest string `json:"digest"` // "sha256:<64 hex>"
	Size   int64  `json:"size"`
}

// Store keeps blobs by digest.
type Store interface {
	// Stat reports a blob's size, or ErrNotFound.
	Stat(ctx context.Context, digest string) (Info, error)
	// Put stores r's bytes under digest when they hash to it (else
	// ErrDigestMismatch and nothing is kept), reading at most max bytes
	// (ErrTooLarge above; max <= 0 is no limit). created is false when
	// the blob was already there: Put is idempotent.
	Put(ctx context.Context, p PutParams) (info Info, created bool, err error)
	// Open reads a blob back.
	Open(ctx context.Context, digest string) (io.ReadCloser, Info, error)
}

// PutParams is what Put stores.
type PutParams struct {
	// Digest is what Body must hash to; empty stores Body under whatever
	// it hashes to (a client that streams a file while hashing it, so as
	// not to read it twice, learns the digest only at the end).
	Digest string
	Body   io.Reader
	Max    int64
}

// ParseDigest checks that s is "sha256:" and 64 lower-case hex digits and
// returns the hex part. Nothing else names a blob, so a digest can never
// be a path.
func ParseDigest(s string) (string, error) {
	h, ok := strings.CutPrefix(s, "sha256:")
	if !ok {
		return "", fmt.Errorf("digest %q: want sha256:<64 hex digits>", clip(s))
	}
	if len(h) != sha256.Size*2 {
		return "", fmt.Errorf("digest %q: want 64 hex digits after sha256:, got %d characters", clip(s), len(h))
	}
	for _, c := range h {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return "", fmt.Errorf("digest %q: %q is not a lower-case hex digit", clip(s), c)
		}
	}
	return h, nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// FS keeps blobs as read-only files under root/sha256/<2 hex>/<64 hex>.
type FS struct{ root string }

// NewFS opens (creating) a blob folder.
func NewFS(root string) (*FS, error) {
	for _, d := range []string{root, filepath.Join(root, "sha256"), filepath.Join(root, "tmp")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("blob store %s: %w", root, err)
		}
	}
	return &FS{root: root}, nil
}

// Path is where a digest's blob lives; it exists only once Put succeeded.
// Callers that need a file (to hard-link inputs, to serve a model) use it;
// the file is never written after it is renamed into place.
func (f *FS) Path(digest string) (string, error) {
	h, err := ParseDigest(digest)
	if err != nil {
		return "", err
	}
	return filepath.Join(f.root, "sha256", h[:2], h), nil
}

// Stat implements Store.
func (f *FS) Stat(_ context.Context, digest string) (Info, error) {
	p, err := f.Path(digest)
	if err != nil {
		return Info{}, err
	}
	st, err := os.Stat(p)
	if errors.Is(err, os.ErrNotExist) {
		return Info{}, fmt.Errorf("%s: %w", digest, ErrNotFound)
	}
	if err != nil {
		return Info{}, fmt.Errorf("blob %s: %w", digest, err)
	}
	return Info{Digest: digest, Size: st.Size()}, nil
}

// Put implements Store. The bytes go to a temporary file that is hashed
// as it is written and renamed into place only when the digest matches,
// so a blob path never holds anything but its digest's bytes, even after
// a crash mid-upload.
func (f *FS) Put(ctx context.Context, p PutParams) (Info, bool, error) {
	if p.Digest != "" {
		if _, err := f.Path(p.Digest); err != nil {
			return Info{}, false, err
		}
		if info, err := f.Stat(ctx, p.Digest); err == nil {
			return info, false, nil
		}
	}
	tmp, err := os.CreateTemp(filepath.Join(f.root, "tmp"), "put-*")
	if err != nil {
		return Info{}, false, fmt.Errorf("blob %s: %w", p.Digest, err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	src := io.Reader(ctxReader{ctx, p.Body})
	if p.Max > 0 {
		src = io.LimitReader(src, p.Max+1)
	}
	n, sum, err := hashWrite(tmp, src)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Info{}, false, fmt.Errorf("blob %s: write: %w", p.Digest, err)
	}
	if p.Max > 0 && n > p.Max {
		return Info{}, false, fmt.Errorf("blob %s: more than %d bytes: %w", p.Digest, p.Max, ErrTooLarge)
	}
	got := "sha256:" + hex.EncodeToString(sum)
	if p.Digest == "" {
		p.Digest = got
		if info, err := f.Stat(ctx, got); err == nil {
			return info, false, nil // already there; the temporary copy goes
		}
	}
	if got != p.Digest {
		return Info{}, false, fmt.Errorf("blob %s: the %d bytes sent hash to %s: %w", p.Digest, n, got, ErrDigestMismatch)
	}
	dst, err := f.Path(p.Digest)
	if err != nil {
		return Info{}, false, err
	}
	if err := os.Chmod(tmp.Name(), 0o444); err != nil {
		return Info{}, false, fmt.Errorf("blob %s: %w", p.Digest, err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return Info{}, false, fmt.Errorf("blob %s: %w", p.Digest, err)
	}
	// Two uploads of one blob may race; both hold the same bytes, so
	// whichever rename lands last leaves the same content.
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return Info{}, false, fmt.Errorf("blob %s: %w", p.Digest, err)
	}
	return Info{Digest: p.Digest, Size: n}, true, nil
}

// Open implements Store.
func (f *FS) Open(_ context.Context, digest string) (io.ReadCloser, Info, error) {
	p, err := f.Path(digest)
	if err != nil {
		return nil, Info{}, err
	}
	fh, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, Info{}, fmt.Errorf("%s: %w", digest, ErrNotFound)
	}
	if err != nil {
		return nil, Info{}, fmt.Errorf("blob %s: %w", digest, err)
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, Info{}, fmt.Errorf("blob %s: %w", digest, err)
	}
	return fh, Info{Digest: digest, Size: st.Size()}, nil
}

// Import copies a local file into the store and returns its digest: how
// a candidate read from an allowed workspace, or written by training,
// becomes immutable before any stage judges it.
func (f *FS) Import(ctx context.Context, path string) (Info, error) {
	fh, err := os.Open(path)
	if err != nil {
		return Info{}, err
	}
	defer fh.Close()
	h := sha256.New()
	if _, err := io.Copy(h, ctxReader{ctx, fh}); err != nil {
		return Info{}, fmt.Errorf("hash %s: %w", path, err)
	}
	digest := "sha256:" + hex.EncodeToString(h.Sum(nil))
	if _, err := fh.Seek(0, io.SeekStart); err != nil {
		return Info{}, err
	}
	// Put hashes again while copying: a file changed between the two
	// reads is refused rather than stored under the wrong name.
	info, _, err := f.Put(ctx, PutParams{Digest: digest, Body: fh})
	if err != nil {
		return Info{}, fmt.Errorf("import %s: %w", path, err)
	}
	return info, nil
}

// chunk is how much hashWrite reads at a time: large enough that the
// per-call costs vanish next to hashing (about 1 GB/s with SHA-NI).
const chunk = 1 << 20

// hashWrite copies r to w and returns the SHA-256 of what it copied,
// hashing each chunk on another goroutine while the next one is written,
// so that an upload costs max(hash, write) instead of their sum.
func hashWrite(w io.Writer, r io.Reader) (int64, []byte, error) {
	const depth = 4
	free := make(chan []byte, depth)
	for range depth {
		free <- make([]byte, chunk)
	}
	todo := make(chan []byte, depth)
	sum := make(chan []byte, 1)
	go func() {
		h := sha256.New()
		for b := range todo {
			h.Write(b)
			free <- b[:cap(b)]
		}
		sum <- h.Sum(nil)
	}()
	var n int64
	var err error
	for {
		b := <-free
		m, rerr := io.ReadFull(r, b)
		if m > 0 {
			if _, werr := w.Write(b[:m]); werr != nil {
				err = werr
				free <- b
				break
			}
			n += int64(m)
			todo <- b[:m]
		} else {
			free <- b
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			err = rerr
			break
		}
	}
	close(todo)
	return n, <-sum, err
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

var _ Store = (*FS)(nil)
