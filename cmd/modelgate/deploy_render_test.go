package main

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// isvc is the part of an InferenceService the test reads back.
type isvc struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name        string            `yaml:"name"`
		Namespace   string            `yaml:"namespace"`
		Labels      map[string]string `yaml:"labels"`
		Annotations map[string]string `yaml:"annotations"`
	} `yaml:"metadata"`
	Spec struct {
		Predictor struct {
			CanaryTrafficPercent *int `yaml:"canaryTrafficPercent"`
			Model                struct {
				ModelFormat struct {
					Name string `yaml:"name"`
				} `yaml:"modelFormat"`
				ProtocolVersion string `yaml:"protocolVersion"`
				StorageURI      string `yaml:"storageUri"`
			} `yaml:"model"`
		} `yaml:"predictor"`
	} `yaml:"spec"`
}

func decodeAll(t *testing.T, s string) []isvc {
	t.Helper()
	dec := yaml.NewDecoder(strings.NewReader(s))
	var out []isvc
	for {
		var d isvc
		err := dec.Decode(&d)
		if err == io.EOF {
			return out
		}
		require.NoError(t, err)
		out = append(out, d)
	}
}

// TestDeployRenderKServe renders a registry version's manifests through
// the real API and reads the YAML back.
func TestDeployRenderKServe(t *testing.T) {
	t.Parallel()
	url, st, _ := exportServer(t, true)
	v, err := st.ModelVersionGet(t.Context(), "fraud", "v1")
	require.NoError(t, err)
	viewer := "viewer-token-0123456789ab"
	run := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := execute(append(args, "--server", url, "--token", viewer), &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
	code, out, errOut := run("deploy", "render", "--kserve", "fraud", "v1", "--storage-uri", "s3://models/{model}/{version}/{digest}/model.json", "--namespace", "ml")
	require.Equal(t, 0, code, errOut)
	docs := decodeAll(t, out)
	require.Len(t, docs, 1)
	d := docs[0]
	require.Equal(t, "serving.kserve.io/v1beta1", d.APIVersion)
	require.Equal(t, "InferenceService", d.Kind)
	require.Equal(t, "fraud", d.Metadata.Name)
	require.Equal(t, "ml", d.Metadata.Namespace)
	require.Equal(t, "v1", d.Metadata.Labels["modelgate.io/version"])
	require.Equal(t, "run-1", d.Metadata.Annotations["modelgate.io/run-id"])
	require.Equal(t, "xgboost", d.Spec.Predictor.Model.ModelFormat.Name)
	require.Equal(t, "v2", d.Spec.Predictor.Model.ProtocolVersion)
	require.Equal(t, "s3://models/fraud/v1/"+strings.TrimPrefix(v.Digest, "sha256:")+"/model.json", d.Spec.Predictor.Model.StorageURI)
	require.Nil(t, d.Spec.Predictor.CanaryTrafficPercent)

	code, out, errOut = run("deploy", "render", "--kserve", "fraud", "v1", "--storage-uri", "gs://m/{version}", "--canary-percent", "10")
	require.Equal(t, 0, code, errOut)
	docs = decodeAll(t, out)
	require.Len(t, docs, 3) // canary, promote, rollback
	require.Equal(t, 10, *docs[0].Spec.Predictor.CanaryTrafficPercent)
	require.Nil(t, docs[1].Spec.Predictor.CanaryTrafficPercent)
	require.Equal(t, 0, *docs[2].Spec.Predictor.CanaryTrafficPercent)
	for _, d := range docs {
		require.Equal(t, "gs://m/v1", d.Spec.Predictor.Model.StorageURI)
	}

	bad := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no --kserve", []string{"deploy", "render", "fraud", "v1", "--storage-uri", "s3://x"}, 2, "--kserve"},
		{"no storage", []string{"deploy", "render", "--kserve", "fraud", "v1"}, 2, "--storage-uri"},
		{"canary 100", []string{"deploy", "render", "--kserve", "fraud", "v1", "--storage-uri", "s3://x", "--canary-percent", "100"}, 2, "1..99"},
		{"unknown version", []string{"deploy", "render", "--kserve", "fraud", "v9", "--storage-uri", "s3://x"}, 2, "no version"},
		{"bad namespace", []string{"deploy", "render", "--kserve", "fraud", "v1", "--storage-uri", "s3://x", "--namespace", "Bad_NS"}, 2, "DNS-1123"},
	}
	for _, b := range bad {
		code, out, errOut := run(b.args...)
		require.Equal(t, b.code, code, "%s: %s%s", b.name, out, errOut)
		require.Contains(t, out+errOut, b.msg, b.name)
	}
	// no token: the registry answers 401, nothing is rendered
	var stdout, stderr bytes.Buffer
	code = execute([]string{"deploy", "render", "--kserve", "fraud", "v1", "--storage-uri", "s3://x", "--server", url}, &stdout, &stderr)
	require.Equal(t, 2, code, stderr.String())
	require.Empty(t, stdout.String())
}
