package coordinator

import (
	"context"
	"fmt"

	"github.com/modelgate/modelgate/tools/sign"
)

// hashDir digests a folder artifact as the signing manifest does (one
// definition of "the digest of a folder" for the coordinator, `modelgate
// sign` and the security agent): SHA-256 over the canonical manifest of
// every file's relative path, size and SHA-256.
func hashDir(dir string) (string, int64, error) {
	m, err := sign.Build(context.Background(), sign.BuildParams{Root: dir})
	if err != nil {
		return "", 0, fmt.Errorf("hash folder %s: %w", dir, err)
	}
	return m.Digest(), m.Size(), nil
}
