package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/modelgate/modelgate/tools/oip"
)

// The Open Inference Protocol V2 messages are tools/oip's, shared with
// the gateway; these names stay for the model server's and client's callers.
type (
	V2Tensor        = oip.Tensor
	V2InferRequest  = oip.InferRequest
	V2InferResponse = oip.InferResponse
)

// V2ModelMetadata is the answer to GET /v2/models/{name}.
type V2ModelMetadata struct {
	Name     string         `json:"name"`
	Versions []string       `json:"versions,omitempty"`
	Platform string         `json:"platform"`
	Inputs   []V2TensorMeta `json:"inputs"`
	Outputs  []V2TensorMeta `json:"outputs"`
	Params   *V2ModelParams `json:"parameters,omitempty"`
}

// V2ModelParams carries what a modelgate client needs beyond the
// standard metadata: what the output means.
type V2ModelParams struct {
	Kind    Kind `json:"kind"`
	Classes int  `json:"classes,omitempty"`
}

// V2TensorMeta describes an input or output tensor; -1 is a free dimension.
type V2TensorMeta struct {
	Name     string  `json:"name"`
	Datatype string  `json:"datatype"`
	Shape    []int64 `json:"shape"`
}

// Output tensor names of modelgate's server: "predict" holds one value per
// row (binary: probability of class 1; regression: the prediction) with
// shape [N]; "predict_proba" holds [N, K] class probabilities.
const (
	OutputPredict      = "predict"
	OutputPredictProba = "predict_proba"
)

// DecodeInferRequest parses a V2 infer request into a batch for a model
// with the given features (nil when the model does not name them; then
// nFeatures gives their number). Accepted layouts: one tensor of shape
// [N, F] (or [F] for one row) in the model's feature order, or one tensor
// per feature, named by feature, of shape [N] or [N, 1]. null is a missing
// value.
func DecodeInferRequest(body []byte, features []string, nFeatures int) (Batch, error) {
	var req V2InferRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return Batch{}, fmt.Errorf("request is not a V2 infer request: %w", err)
	}
	return requestBatch(&req, features, nFeatures)
}

// requestBatch converts the request's inputs; see DecodeInferRequest.
func requestBatch(req *V2InferRequest, features []string, nFeatures int) (Batch, error) {
	if len(req.Inputs) == 0 {
		return Batch{}, errors.New(`"inputs" is empty: give one [N, F] tensor or one tensor per feature`)
	}
	if len(features) > 0 {
		nFeatures = len(features)
	}
	names := features
	if len(names) == 0 {
		names = make([]string, nFeatures)
		for i := range names {
			names[i] = "f" + strconv.Itoa(i)
		}
	}
	if len(req.Inputs) == 1 {
		t := &req.Inputs[0]
		if err := oip.CheckTensor(t); err != nil {
			return Batch{}, err
		}
		// A single tensor named by the only feature is the per-feature layout.
		if !(nFeatures == 1 && len(t.Shape) == 1) || t.Name != names[0] {
			var rows, cols int64
			switch len(t.Shape) {
			case 1:
				rows, cols = 1, t.Shape[0]
			case 2:
				rows, cols = t.Shape[0], t.Shape[1]
			default:
				return Batch{}, fmt.Errorf("input %q: shape %v: want [N, %d] or [%d]", t.Name, t.Shape, nFeatures, nFeatures)
			}
			if cols != int64(nFeatures) {
				return Batch{}, fmt.Errorf("input %q: shape %v has %d columns, the model has %d features", t.Name, t.Shape, cols, nFeatures)
			}
			vals, err := oip.Numbers(t.Data, int(rows*cols))
			if err != nil {
				return Batch{}, fmt.Errorf("input %q: %w", t.Name, err)
			}
			return Batch{Features: names, Rows: int(rows), Values: vals}, nil
		}
	}
	// One tensor per feature.
	byName := make(map[string]*V2Tensor, len(req.Inputs))
	rows := int64(-1)
	for i := range req.Inputs {
		t := &req.Inputs[i]
		if err := oip.CheckTensor(t); err != nil {
			return Batch{}, err
		}
		if _, dup := byName[t.Name]; dup {
			return Batch{}, fmt.Errorf("input %q given twice", t.Name)
		}
		byName[t.Name] = t
		if len(t.Shape) == 0 || len(t.Shape) > 2 || (len(t.Shape) == 2 && t.Shape[1] != 1) {
			return Batch{}, fmt.Errorf("input %q: shape %v: a per-feature tensor has shape [N] or [N, 1]", t.Name, t.Shape)
		}
		if rows >= 0 && t.Shape[0] != rows {
			return Batch{}, fmt.Errorf("input %q has %d rows, earlier inputs have %d", t.Name, t.Shape[0], rows)
		}
		rows = t.Shape[0]
	}
	var missing []string
	for _, f := range names {
		if byName[f] == nil {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		return Batch{}, fmt.Errorf("per-feature inputs: %w", &MissingFeatureError{Missing: missing})
	}
	// Parse every column before allocating the batch: the data, bounded
	// by the body size, proves the shape; a declared shape alone does not.
	nf := len(names)
	cols := make([][]float64, nf)
	for j, f := range names {
		col, err := oip.Numbers(byName[f].Data, int(rows))
		if err != nil {
			return Batch{}, fmt.Errorf("input %q: %w", f, err)
		}
		cols[j] = col
	}
	b := Batch{Features: names, Rows: int(rows), Values: make([]float64, int(rows)*nf)}
	for j, col := range cols {
		for r, v := range col {
			b.Values[r*nf+j] = v
		}
	}
	return b, nil
}

// AppendInferResponse writes the V2 response for predictions to buf. It is
// hand-written because encoding a float slice through encoding/json
// dominates the cost of a single-row request.
func AppendInferResponse(buf []byte, model, id string, p Predictions) []byte {
	buf = append(buf, `{"model_name":`...)
	buf = strconv.AppendQuote(buf, model)
	if id != "" {
		buf = append(buf, `,"id":`...)
		buf = strconv.AppendQuote(buf, id)
	}
	buf = append(buf, `,"outputs":[{"name":"`...)
	if p.Kind == Multiclass {
		buf = append(buf, OutputPredictProba...)
		buf = append(buf, `","shape":[`...)
		buf = strconv.AppendInt(buf, int64(p.Rows), 10)
		buf = append(buf, ',')
		buf = strconv.AppendInt(buf, int64(p.Classes), 10)
	} else {
		buf = append(buf, OutputPredict...)
		buf = append(buf, `","shape":[`...)
		buf = strconv.AppendInt(buf, int64(p.Rows), 10)
	}
	// A float32 model says so (as KServe's xgbserver does): clients then
	// know its scores are float32 values and follow scikit-learn's
	// float32 log_loss. The digits are float64's shortest, so the values
	// round-trip exactly either way.
	if p.Float32 {
		buf = append(buf, `],"datatype":"FP32","data":[`...)
	} else {
		buf = append(buf, `],"datatype":"FP64","data":[`...)
	}
	for i, v := range p.Values {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = strconv.AppendFloat(buf, v, 'g', -1, 64)
	}
	return append(buf, "]}]}"...)
}
