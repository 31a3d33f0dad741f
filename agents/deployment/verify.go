package deployment

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/modelgate/modelgate/internal/blob"
	"github.com/modelgate/modelgate/tools/sign"
)

// verifiedCopy copies a local version's artifact into a folder of the
// agent's own and hashes the copy: the model server is started on the
// copy only when its digest is the one recorded (for a candidate, the one
// the decision and the reviewers saw). Whatever happens to the source
// afterwards, the bytes served are the bytes approved.
func (a *Agent) verifiedCopy(ctx context.Context, model string, b Backend) (string, error) {
	if b.Digest == "" {
		return "", fmt.Errorf("deployment: version %s of %s has no recorded digest: refusing to serve bytes nobody approved", b.Version, model)
	}
	st, err := os.Stat(b.Artifact)
	if err != nil {
		return "", fmt.Errorf("deployment: artifact of %s %s: %w", model, b.Version, err)
	}
	root := a.opts.ServeDir
	if root == "" {
		root = filepath.Join(os.TempDir(), "modelgate-serve")
	}
	dir, err := os.MkdirTemp(mkdirAll(root), serverKey(model, b.Version)+"-")
	if err != nil {
		return "", fmt.Errorf("deployment: serve folder: %w", err)
	}
	dst := filepath.Join(dir, filepath.Base(b.Artifact))
	var got string
	if st.IsDir() {
		if err := blob.CopyTree(ctx, b.Artifact, dst); err != nil {
			return "", fmt.Errorf("deployment: copy %s: %w", b.Artifact, err)
		}
		m, err := sign.Build(ctx, sign.BuildParams{Root: dst})
		if err != nil {
			return "", fmt.Errorf("deployment: hash %s: %w", dst, err)
		}
		got = m.Digest()
	} else {
		if err := blob.CopyFile(b.Artifact, dst); err != nil {
			return "", fmt.Errorf("deployment: copy %s: %w", b.Artifact, err)
		}
		if got, _, err = sign.FileDigest(dst); err != nil {
			return "", fmt.Errorf("deployment: hash %s: %w", dst, err)
		}
	}
	if got != b.Digest {
		_ = os.RemoveAll(dir)
		return "", &digestError{model: model, version: b.Version, want: b.Digest, got: got, path: b.Artifact}
	}
	return dst, nil
}

// digestError is an artifact whose bytes are no longer the approved ones.
type digestError struct{ model, version, want, got, path string }

func (e *digestError) Error() string {
	return fmt.Sprintf("deployment: refusing to serve %s %s: %s now hashes to %s, not the %s that was tested and approved",
		e.model, e.version, e.path, e.got, e.want)
}

func mkdirAll(p string) string {
	_ = os.MkdirAll(p, 0o700)
	return p
}

// shortDigest is for messages.
func shortDigest(d string) string {
	d = strings.TrimPrefix(d, "sha256:")
	if len(d) > 12 {
		return d[:12]
	}
	return d
}
