// Package mlflow writes an MLflow model directory for an XGBoost JSON
// model: the MLmodel file (xgboost and python_function flavors, a
// signature from the model's feature names and types) and its
// environment files, for teams that keep MLflow as their catalogue.
package mlflow

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/modelgate/modelgate/tools/model"
)

// FormatVersion is the MLflow release whose MLmodel layout this writes
// (mlflow_version in the file): the fields below are the ones that
// release's mlflow.xgboost.save_model writes.
const FormatVersion = "2.22.0"

// DataFile is the model file's name inside the directory.
const DataFile = "model.json"

// MLmodel is the MLmodel file's schema, as far as it is written here.
type MLmodel struct {
	ArtifactPath   string            `yaml:"artifact_path"`
	Flavors        Flavors           `yaml:"flavors"`
	MLflowVersion  string            `yaml:"mlflow_version"`
	ModelSizeBytes int64             `yaml:"model_size_bytes"`
	ModelUUID      string            `yaml:"model_uuid"`
	RunID          string            `yaml:"run_id,omitempty"`
	Signature      *Signature        `yaml:"signature,omitempty"`
	UTCTimeCreated string            `yaml:"utc_time_created"`
	Metadata       map[string]string `yaml:"metadata,omitempty"`
}

// Flavors are the two flavors mlflow.xgboost writes.
type Flavors struct {
	PythonFunction PythonFunction `yaml:"python_function"`
	XGBoost        XGBoostFlavor  `yaml:"xgboost"`
}

// PythonFunction is the pyfunc flavor.
type PythonFunction struct {
	Data          string            `yaml:"data"`
	Env           map[string]string `yaml:"env"`
	LoaderModule  string            `yaml:"loader_module"`
	PythonVersion string            `yaml:"python_version,omitempty"`
}

// XGBoostFlavor is the native flavor.
type XGBoostFlavor struct {
	Code        *string `yaml:"code"` // always null: no code files
	Data        string  `yaml:"data"`
	ModelClass  string  `yaml:"model_class"`
	ModelFormat string  `yaml:"model_format"`
	XGBVersion  string  `yaml:"xgb_version"`
}

// Signature holds MLflow's JSON column and tensor specs, as strings.
type Signature struct {
	Inputs  string  `yaml:"inputs"`
	Outputs string  `yaml:"outputs"`
	Params  *string `yaml:"params"`
}

// ColSpec is one input column of an MLflow schema.
type ColSpec struct {
	Type     string `json:"type"`
	Name     string `json:"name"`
	Required bool   `json:"required"`
}

// TensorSpec is an MLflow tensor output.
type TensorSpec struct {
	Type   string `json:"type"` // "tensor"
	Tensor struct {
		DType string `json:"dtype"`
		Shape []int  `json:"shape"`
	} `json:"tensor-spec"`
}

// header is what of XGBoost's JSON model the MLmodel file needs.
type header struct {
	Version []int `json:"version"`
	Learner *struct {
		FeatureNames []string `json:"feature_names"`
		FeatureTypes []string `json:"feature_types"`
		Params       struct {
			NumClass  string `json:"num_class"`
			NumTarget string `json:"num_target"`
		} `json:"learner_model_param"`
		Objective struct {
			Name string `json:"name"`
		} `json:"objective"`
	} `json:"learner"`
}

// colType maps XGBoost's feature types to MLflow's column types: float
// columns are pandas float64 ("double"), int columns int64 ("long"),
// indicators booleans. Categorical ("c") has no faithful MLflow type
// without the categories, so it is refused rather than guessed.
func colType(t string) (string, error) {
	switch t {
	case "float", "q":
		return "double", nil
	case "int":
		return "long", nil
	case "i":
		return "boolean", nil
	}
	return "", fmt.Errorf("feature type %q has no MLflow column type here (want float, q, int or i)", t)
}

// Params is one MLflow model to write.
type Params struct {
	Model         []byte // the XGBoost JSON model
	Dir           string // created; must not exist or be empty
	UUID          string // model_uuid: 32 hex digits
	Created       time.Time
	PythonVersion string // as recorded in the version's toolchain; "" leaves it out
	RunID         string
	Metadata      map[string]string
}

// Build returns the MLmodel for a model without writing anything.
func Build(p Params) (MLmodel, error) {
	var h header
	if err := json.Unmarshal(p.Model, &h); err != nil {
		return MLmodel{}, fmt.Errorf("mlflow: the artifact is not an XGBoost JSON model: %w", err)
	}
	if h.Learner == nil {
		return MLmodel{}, fmt.Errorf("mlflow: the artifact has no learner: not an XGBoost JSON model")
	}
	// The predictor loader checks the rest of the schema (trees,
	// objective): what is exported must be a model that predicts.
	if _, err := model.LoadXGBoost(bytes.NewReader(p.Model), DataFile); err != nil {
		return MLmodel{}, fmt.Errorf("mlflow: %w", err)
	}
	if len(h.Version) != 3 {
		return MLmodel{}, fmt.Errorf("mlflow: the model records no XGBoost version (version: %v)", h.Version)
	}
	L := h.Learner
	sig := &Signature{}
	if len(L.FeatureNames) > 0 {
		if len(L.FeatureTypes) != 0 && len(L.FeatureTypes) != len(L.FeatureNames) {
			return MLmodel{}, fmt.Errorf("mlflow: %d feature names, %d feature types", len(L.FeatureNames), len(L.FeatureTypes))
		}
		cols := make([]ColSpec, len(L.FeatureNames))
		for i, n := range L.FeatureNames {
			t := "float"
			if len(L.FeatureTypes) > 0 {
				t = L.FeatureTypes[i]
			}
			ct, err := colType(t)
			if err != nil {
				return MLmodel{}, fmt.Errorf("mlflow: feature %s: %w", n, err)
			}
			cols[i] = ColSpec{Type: ct, Name: n, Required: true}
		}
		b, _ := json.Marshal(cols)
		sig.Inputs = string(b)
	} else {
		sig = nil // no names: MLflow's schema needs them, so no signature
	}
	if sig != nil {
		var out TensorSpec
		out.Type = "tensor"
		out.Tensor.DType = "float32" // Booster.predict returns float32
		out.Tensor.Shape = []int{-1}
		nc, _ := strconv.Atoi(L.Params.NumClass)
		if nc > 1 && L.Objective.Name == "multi:softprob" {
			out.Tensor.Shape = []int{-1, nc}
		}
		b, _ := json.Marshal([]TensorSpec{out})
		sig.Outputs = string(b)
	}
	env := map[string]string{"conda": "conda.yaml"}
	if p.PythonVersion != "" {
		env["virtualenv"] = "python_env.yaml"
	}
	xv := fmt.Sprintf("%d.%d.%d", h.Version[0], h.Version[1], h.Version[2])
	return MLmodel{
		ArtifactPath: "model",
		Flavors: Flavors{
			PythonFunction: PythonFunction{Data: DataFile, Env: env, LoaderModule: "mlflow.xgboost", PythonVersion: p.PythonVersion},
			XGBoost:        XGBoostFlavor{Data: DataFile, ModelClass: "xgboost.core.Booster", ModelFormat: "json", XGBVersion: xv},
		},
		MLflowVersion: FormatVersion, ModelSizeBytes: int64(len(p.Model)), ModelUUID: p.UUID, RunID: p.RunID,
		Signature: sig, UTCTimeCreated: p.Created.UTC().Format("2006-01-02 15:04:05.000000"), Metadata: p.Metadata,
	}, nil
}

// Write builds the MLmodel and writes the directory: MLmodel, model.json,
// conda.yaml, requirements.txt, and python_env.yaml when the Python
// version is known.
func Write(p Params) (MLmodel, error) {
	m, err := Build(p)
	if err != nil {
		return MLmodel{}, err
	}
	if err := os.MkdirAll(p.Dir, 0o755); err != nil {
		return MLmodel{}, fmt.Errorf("mlflow: %w", err)
	}
	if ents, err := os.ReadDir(p.Dir); err != nil || len(ents) > 0 {
		return MLmodel{}, fmt.Errorf("mlflow: %s is not an empty directory", p.Dir)
	}
	var mb bytes.Buffer
	enc := yaml.NewEncoder(&mb)
	enc.SetIndent(2)
	if err := enc.Encode(m); err != nil {
		return MLmodel{}, fmt.Errorf("mlflow: encode MLmodel: %w", err)
	}
	req := "xgboost==" + m.Flavors.XGBoost.XGBVersion + "\n"
	conda := "channels:\n- conda-forge\ndependencies:\n"
	if p.PythonVersion != "" {
		conda += "- python=" + p.PythonVersion + "\n"
	}
	conda += "- pip\n- pip:\n  - " + strings.TrimSpace(req) + "\nname: mlflow-env\n"
	files := map[string][]byte{"MLmodel": mb.Bytes(), DataFile: p.Model, "requirements.txt": []byte(req), "conda.yaml": []byte(conda)}
	if p.PythonVersion != "" {
		files["python_env.yaml"] = []byte("python: " + p.PythonVersion + "\nbuild_dependencies:\n- pip\ndependencies:\n- -r requirements.txt\n")
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(p.Dir, name), b, 0o644); err != nil {
			return MLmodel{}, fmt.Errorf("mlflow: %w", err)
		}
	}
	return m, nil
}
