package coordinator

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/modelgate/modelgate/internal/blob"
)

// snapshot takes a candidate artifact in when its run records it: a file
// goes into the blob store and is hard-linked (read-only) into the run's
// own folder; a folder is copied there. Every later stage reads the
// snapshot, never the path the config named, so a file changed in a
// workspace (or by a training process still running) after the digest
// was taken is not what gets tested, approved and served. It returns the
// snapshot's path and digest.
func (c *Coordinator) snapshot(ctx context.Context, runID, src string) (string, string, error) {
	dst := filepath.Join(c.runDir(runID), "candidate", filepath.Base(src))
	if c.o.Blobs == nil {
		d, _, err := hashFile(src) // no store (tests, embedding): judge the file in place
		return src, d, err
	}
	st, err := os.Stat(src)
	if err != nil {
		return "", "", err
	}
	_ = os.RemoveAll(filepath.Dir(dst)) // an earlier life of this step proves nothing
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", "", fmt.Errorf("candidate snapshot: %w", err)
	}
	if st.IsDir() {
		if err := blob.CopyTree(ctx, src, dst); err != nil {
			return "", "", fmt.Errorf("candidate snapshot: %w", err)
		}
		d, _, err := hashDir(dst)
		return dst, d, err
	}
	info, err := c.o.Blobs.Import(ctx, src)
	if err != nil {
		return "", "", fmt.Errorf("candidate snapshot: %w", err)
	}
	p, err := c.o.Blobs.Path(info.Digest)
	if err != nil {
		return "", "", err
	}
	if err := os.Link(p, dst); err != nil {
		if err := blob.CopyFile(p, dst); err != nil {
			return "", "", fmt.Errorf("candidate snapshot: %w", err)
		}
	}
	return dst, info.Digest, nil
}
