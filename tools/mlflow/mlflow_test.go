package mlflow_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/modelgate/modelgate/tools/mlflow"
)

// oracle loads the written directory with Python: PyYAML reads MLmodel,
// xgboost loads the flavor's data file and predicts a frame built from
// the signature's columns, and the prediction's shape must be the
// signature's output shape. mlflow itself, when installed, loads it too.
const oracle = `
import json, sys, yaml, numpy as np, pandas as pd, xgboost as xgb
d = sys.argv[1]
m = yaml.safe_load(open(d + "/MLmodel"))
fx = m["flavors"]["xgboost"]
b = xgb.Booster(); b.load_model(d + "/" + fx["data"])
cols = json.loads(m["signature"]["inputs"])
assert [c["name"] for c in cols] == b.feature_names, (cols, b.feature_names)
assert fx["xgb_version"] == ".".join(map(str, json.load(open(d + "/" + fx["data"]))["version"]))
X = pd.DataFrame(np.zeros((2, len(cols))), columns=[c["name"] for c in cols])
p = b.predict(xgb.DMatrix(X))
out = json.loads(m["signature"]["outputs"])[0]["tensor-spec"]
assert list(p.shape) == [2 if s == -1 else s for s in out["shape"]], (p.shape, out)
assert str(p.dtype) == out["dtype"], p.dtype
try:
    import mlflow.pyfunc
    mlflow.pyfunc.load_model(d).predict(X)
    print("mlflow-loaded")
except ImportError:
    pass
print("ok")
`

func TestWriteReadBack(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, model string
		shape       []int
		firstCol    string
	}{
		{"binary", "../../testdata/deploy/model-candidate.json", []int{-1}, "mean_radius"},
		{"multiclass", "../../testdata/eval/multiclass-wine/model.json", []int{-1, 3}, "alcohol"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b, err := os.ReadFile(c.model)
			require.NoError(t, err)
			dir := filepath.Join(t.TempDir(), "m")
			created := time.Date(2026, 12, 7, 11, 0, 0, 0, time.UTC)
			_, err = mlflow.Write(mlflow.Params{Model: b, Dir: dir, UUID: "0123456789abcdef0123456789abcdef", Created: created, PythonVersion: "3.11.2", RunID: "run-1"})
			require.NoError(t, err)
			raw, err := os.ReadFile(filepath.Join(dir, "MLmodel"))
			require.NoError(t, err)
			var m map[string]any
			require.NoError(t, yaml.Unmarshal(raw, &m))
			require.Equal(t, "model", m["artifact_path"])
			require.Equal(t, "0123456789abcdef0123456789abcdef", m["model_uuid"])
			require.Equal(t, "2026-12-07 11:00:00.000000", m["utc_time_created"])
			require.Equal(t, mlflow.FormatVersion, m["mlflow_version"])
			fl := m["flavors"].(map[string]any)
			pf := fl["python_function"].(map[string]any)
			require.Equal(t, "mlflow.xgboost", pf["loader_module"])
			require.Equal(t, "model.json", pf["data"])
			require.Equal(t, "3.11.2", pf["python_version"])
			require.Equal(t, map[string]any{"conda": "conda.yaml", "virtualenv": "python_env.yaml"}, pf["env"])
			xf := fl["xgboost"].(map[string]any)
			require.Equal(t, "xgboost.core.Booster", xf["model_class"])
			require.Equal(t, "json", xf["model_format"])
			require.Equal(t, "1.7.4", xf["xgb_version"])
			require.Contains(t, xf, "code")
			require.Nil(t, xf["code"])
			sig := m["signature"].(map[string]any)
			var cols []mlflow.ColSpec
			require.NoError(t, json.Unmarshal([]byte(sig["inputs"].(string)), &cols))
			require.Equal(t, mlflow.ColSpec{Type: "double", Name: c.firstCol, Required: true}, cols[0])
			var outs []mlflow.TensorSpec
			require.NoError(t, json.Unmarshal([]byte(sig["outputs"].(string)), &outs))
			require.Equal(t, c.shape, outs[0].Tensor.Shape)
			for _, f := range []string{"model.json", "conda.yaml", "python_env.yaml", "requirements.txt"} {
				require.FileExists(t, filepath.Join(dir, f))
			}
			out, err := exec.Command("/usr/bin/python3", "-c", oracle, dir).CombinedOutput()
			require.NoError(t, err, string(out))
			require.Contains(t, string(out), "ok")
		})
	}
}

func TestRefused(t *testing.T) {
	t.Parallel()
	good, err := os.ReadFile("../../testdata/deploy/model-candidate.json")
	require.NoError(t, err)
	cat := strings.Replace(string(good), `"feature_types":["float"`, `"feature_types":["c"`, 1)
	require.NotEqual(t, string(good), cat)
	cases := []struct {
		name, model, want string
	}{
		{"not json", "not a model", "not an XGBoost JSON model"},
		{"no learner", `{"version":[1,7,4]}`, "no learner"},
		{"categorical", cat, `feature type "c"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := mlflow.Build(mlflow.Params{Model: []byte(c.model), UUID: "x", Created: time.Now()})
			require.ErrorContains(t, err, c.want)
		})
	}
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "x"), nil, 0o644))
	_, err = mlflow.Write(mlflow.Params{Model: good, Dir: dir, UUID: "x", Created: time.Now()})
	require.ErrorContains(t, err, "not an empty directory")
}

func FuzzBuild(f *testing.F) {
	good, err := os.ReadFile("../../testdata/deploy/model-candidate.json")
	require.NoError(f, err)
	f.Add(good)
	f.Add([]byte(`{"version":[1,7,4],"learner":{"feature_names":["a"],"feature_types":["int"]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = mlflow.Build(mlflow.Params{Model: b, UUID: "x", Created: time.Unix(0, 0)})
	})
}
