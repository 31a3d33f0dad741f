package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/modelgate/modelgate/internal/api"
	"github.com/modelgate/modelgate/internal/release/bundle"
	"github.com/modelgate/modelgate/tools/mlflow"
)

// writeMLflowFromBundle turns the server's bundle (in r) into an MLflow
// model directory at dir: the artifact as model.json, and an MLmodel
// naming the registry version in its metadata.
func writeMLflowFromBundle(cmd *cobra.Command, r io.Reader, dir string) error {
	tmp, err := os.MkdirTemp("", "modelgate-mlflow-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	rd, err := bundle.Unpack(r, bundle.ReadParams{Dir: tmp})
	if err != nil {
		return checkFailed(fmt.Errorf("the server's bundle: %w", err))
	}
	path, ok := rd.Paths[api.ArtifactBlob]
	if !ok {
		return checkFailed(fmt.Errorf("the server's bundle has no %s blob", api.ArtifactBlob))
	}
	art, err := os.ReadFile(path)
	if err != nil {
		return checkFailed(err)
	}
	m := rd.Manifest
	// The bundle came unverified (no key given): the artifact must at
	// least be the bytes the registry names.
	if sum := sha256.Sum256(art); "sha256:"+hex.EncodeToString(sum[:]) != m.Digest {
		return checkFailed(fmt.Errorf("the artifact downloaded is not %s", m.Digest))
	}
	py := ""
	if m.Lineage != nil {
		py = m.Lineage.Toolchain["python"]
	}
	out, err := mlflow.Write(mlflow.Params{Model: art, Dir: dir, UUID: strings.ReplaceAll(uuid.NewString(), "-", ""), Created: time.Now(),
		PythonVersion: py, RunID: m.RunID,
		Metadata: map[string]string{"modelgate_model": m.Model, "modelgate_version": m.Version, "modelgate_digest": m.Digest}})
	if err != nil {
		return usageErr(err) // the version's artifact is not a model MLflow's xgboost flavor can describe
	}
	fmt.Fprintf(cmd.OutOrStdout(), "wrote MLflow model %s %s to %s (xgboost %s, model_uuid %s)\n", m.Model, m.Version, dir, out.Flavors.XGBoost.XGBVersion, out.ModelUUID)
	return nil
}
