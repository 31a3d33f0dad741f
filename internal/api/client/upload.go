package client

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"
)

// UploadParams says which local files a run needs.
type UploadParams struct {
	Root  string   // the config's folder; Paths are relative to it
	Paths []string // files or folders (a folder is every regular file under it)
	// Progress receives a line per large file every few seconds; nil = quiet.
	Progress io.Writer
	// CacheDir keeps the digests of files uploaded before, by path, size,
	// modification time and inode. With it, a file not seen before is read
	// once, hashed while it streams (POST /v1/blobs), and a file seen
	// before is only asked about (HEAD); without it, every file is hashed
	// first and then sent by digest (two reads). "" = no cache.
	CacheDir string
}

// UploadStats says what an upload cost.
type UploadStats struct {
	Files   int   // files the run needs
	Sent    int   // of which uploaded now
	Skipped int   // of which the server already had
	Bytes   int64 // bytes sent
}

// progressMin is the size above which an upload reports progress.
const progressMin = 32 << 20

// Upload sends every file the run needs to the server's blob store,
// skipping those it already has (HEAD first), and returns the files map
// of a RunRequest: each relative path with its digest.
func (c *Client) Upload(ctx context.Context, p UploadParams) (map[string]string, UploadStats, error) {
	var st UploadStats
	files := map[string]string{}
	var names []string
	for _, rel := range p.Paths {
		root := filepath.Join(p.Root, filepath.FromSlash(rel))
		info, err := os.Stat(root)
		if err != nil {
			return nil, st, err
		}
		if !info.IsDir() {
			names = append(names, path.Clean(filepath.ToSlash(rel)))
			continue
		}
		err = filepath.WalkDir(root, func(fp string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				return nil
			}
			if !d.Type().IsRegular() {
				return fmt.Errorf("%s: not a regular file (a folder artifact is uploaded file by file; symbolic links and devices are not)", fp)
			}
			r, err := filepath.Rel(p.Root, fp)
			if err != nil {
				return err
			}
			names = append(names, filepath.ToSlash(r))
			return nil
		})
		if err != nil {
			return nil, st, err
		}
	}
	slices.Sort(names)
	names = slices.Compact(names)
	cache := openDigestCache(p.CacheDir)
	defer cache.save()
	for _, name := range names {
		local := filepath.Join(p.Root, filepath.FromSlash(name))
		digest, sent, err := c.uploadOne(ctx, cache, name, local, p.Progress)
		if err != nil {
			return nil, st, err
		}
		files[name] = digest
		st.Files++
		if sent < 0 {
			st.Skipped++
			continue
		}
		st.Sent++
		st.Bytes += sent
	}
	return files, st, nil
}

func fileDigest(ctx context.Context, p string) (string, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.CopyBuffer(h, ctxReader{ctx, f}, make([]byte, 1<<20))
	if err != nil {
		return "", 0, fmt.Errorf("hash %s: %w", p, err)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), n, nil
}

func (c *Client) hasBlob(ctx context.Context, digest string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, c.Base+"/v1/blobs/"+digest, nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return false, fmt.Errorf("reach modelgate server at %s: %w", c.Base, err)
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return true, nil
	case http.StatusNotFound:
		return false, nil
	}
	return false, &Error{Status: resp.StatusCode, Code: http.StatusText(resp.StatusCode), Message: "HEAD /v1/blobs/" + digest}
}

func (c *Client) putBlob(ctx context.Context, name, local, digest string, size int64, progress io.Writer) error {
	f, err := os.Open(local)
	if err != nil {
		return err
	}
	defer f.Close()
	body := &counter{r: f}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, c.Base+"/v1/blobs/"+digest, body)
	if err != nil {
		return err
	}
	req.ContentLength = size
	return c.sendBlob(req, name, size, body, progress, nil)
}

// sendBlob sends an upload request with progress lines and decodes the
// reply into out (when not nil).
func (c *Client) sendBlob(req *http.Request, name string, size int64, body *counter, progress io.Writer, out any) error {
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Authorization", "Bearer "+c.Token)
	if progress != nil && size >= progressMin {
		done := make(chan struct{})
		defer close(done)
		go func() {
			t := time.NewTicker(2 * time.Second)
			defer t.Stop()
			start := time.Now()
			for {
				select {
				case <-done:
					return
				case <-t.C:
					n := body.n.Load()
					fmt.Fprintf(progress, "uploading %s: %d%% (%s of %s, %s/s)\n", name, n*100/max(size, 1),
						human(n), human(size), human(int64(float64(n)/time.Since(start).Seconds())))
				}
			}
		}()
	}
	hc := *c.HTTP
	hc.Timeout = 0 // a large file takes as long as it takes; ctx bounds it
	hc.Transport = uploadTransport
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("upload %s: %w", name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		var ae *Error
		if err := decodeError(resp); errors.As(err, &ae) {
			ae.Message = "upload " + name + ": " + ae.Message
			return ae
		}
		return fmt.Errorf("upload %s: server answered %d", name, resp.StatusCode)
	}
	if out != nil {
		if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(out); err != nil {
			return fmt.Errorf("upload %s: the server's reply: %w", name, err)
		}
	}
	if progress != nil && size >= progressMin {
		fmt.Fprintf(progress, "uploaded %s (%s)\n", name, human(size))
	}
	return nil
}

// uploadTransport writes request bodies in 1 MiB pieces instead of the
// default 4 KiB, which on loopback is a third of an upload's time.
var uploadTransport = func() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.WriteBufferSize = 1 << 20
	return t
}()

type counter struct {
	r io.Reader
	n atomic.Int64
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
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

func human(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// uploadOne makes sure the server has local's bytes and returns their
// digest with the bytes sent (-1: the server had them). A file the cache
// has never seen is read once, hashed as it streams; one it knows is
// hashed (unless the cache can vouch for it) and asked about first.
func (c *Client) uploadOne(ctx context.Context, cache *digestCache, name, local string, progress io.Writer) (string, int64, error) {
	if _, state := cache.lookup(local); cache.path != "" && state == cacheMiss {
		digest, size, err := c.streamBlob(ctx, name, local, progress)
		if err != nil {
			return "", 0, err
		}
		cache.store(local, digest)
		return digest, size, nil
	}
	digest, size, err := c.knownDigest(ctx, cache, local)
	if err != nil {
		return "", 0, err
	}
	have, err := c.hasBlob(ctx, digest)
	if err != nil || have {
		return digest, -1, err
	}
	if err := c.putBlob(ctx, name, local, digest, size, progress); err != nil {
		return "", 0, err
	}
	return digest, size, nil
}

// knownDigest is the cached digest of a file that has not changed since,
// else its hash.
func (c *Client) knownDigest(ctx context.Context, cache *digestCache, local string) (string, int64, error) {
	if e, state := cache.lookup(local); state == cacheHit {
		return e.Digest, e.Size, nil
	}
	d, n, err := fileDigest(ctx, local)
	if err == nil {
		cache.store(local, d)
	}
	return d, n, err
}

// streamBlob sends a file to POST /v1/blobs while hashing it, and checks
// that the server stored it under the digest this side computed.
func (c *Client) streamBlob(ctx context.Context, name, local string, progress io.Writer) (string, int64, error) {
	f, err := os.Open(local)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return "", 0, err
	}
	size := info.Size()
	h := sha256.New()
	body := &counter{r: io.TeeReader(f, h)}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Base+"/v1/blobs", body)
	if err != nil {
		return "", 0, err
	}
	req.ContentLength = size
	var reply struct {
		Digest string `json:"digest"`
		Size   int64  `json:"size"`
	}
	if err := c.sendBlob(req, name, size, body, progress, &reply); err != nil {
		return "", 0, err
	}
	mine := "sha256:" + hex.EncodeToString(h.Sum(nil))
	if body.n.Load() != size || reply.Digest != mine || reply.Size != size {
		return "", 0, fmt.Errorf("upload %s: the server stored %s (%d bytes) but this side read %s (%d bytes); was the file changed while it was sent?",
			name, reply.Digest, reply.Size, mine, body.n.Load())
	}
	return mine, size, nil
}
