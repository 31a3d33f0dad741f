package agents

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/modelgate/modelgate/internal/pipeline"
)

// WriteArtifact saves b under the task's work folder, when it has one,
// and returns its reference with the digest of what was written.
func WriteArtifact(task Task, name, media string, b []byte) (*ArtifactRef, error) {
	if task.WorkDir == "" {
		return nil, nil
	}
	if err := os.MkdirAll(task.WorkDir, 0o755); err != nil {
		return nil, fmt.Errorf("create work dir: %w", err)
	}
	path := filepath.Join(task.WorkDir, name)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return nil, fmt.Errorf("write %s: %w", name, err)
	}
	sum := sha256.Sum256(b)
	return &ArtifactRef{Name: name, Path: path, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(b)), MediaType: media}, nil
}

// NewReport returns an empty passing report of one agent's stage, with
// the maps and slices allocated so that JSON never shows null for them.
func NewReport(agent, stage string) Report { return pipeline.NewReport(agent, stage) }

// Bool is 1 for true and 0 for false, for flat boolean metrics.
func Bool(b bool) float64 { return pipeline.Bool(b) }

// MustJSON encodes v for Report.Details (pipeline.MustJSON).
func MustJSON(v any) json.RawMessage { return pipeline.MustJSON(v) }
