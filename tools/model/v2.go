package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unsafe"
)

// The Open Inference Protocol V2 (KServe, Triton, MLServer) REST messages.
// https://kserve.github.io/website/latest/modelserving/data_plane/v2_protocol/

// V2Tensor is one named tensor. Data is row-major and flat; nested arrays
// are accepted on input and flattened.
type V2Tensor struct {
	Name       string          `json:"name"`
	Shape      []int64         `json:"shape"`
	Datatype   string          `json:"datatype"`
	Parameters map[string]any  `json:"parameters,omitempty"`
	Data       json.RawMessage `json:"data"`
}

// V2InferRequest is the body of POST /v2/models/{name}/infer.
type V2InferRequest struct {
	ID         string         `json:"id,omitempty"`
	Parameters map[string]any `json:"parameters,omitempty"`
	Inputs     []V2Tensor     `json:"inputs"`
	Outputs    []struct {
		Name string `json:"name"`
	} `json:"outputs,omitempty"`
}

// V2InferResponse is the answer to an infer request.
type V2InferResponse struct {
	ModelName    string     `json:"model_name"`
	ModelVersion string     `json:"model_version,omitempty"`
	ID           string     `json:"id,omitempty"`
	Outputs      []V2Tensor `json:"outputs"`
}

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

// maxTensorElems bounds one request's tensor so that a forged shape cannot
// make the server allocate without limit (the body limit bounds data).
const maxTensorElems = 1 << 28

var numericTypes = map[string]bool{
	"BOOL": true, "UINT8": true, "UINT16": true, "UINT32": true, "UINT64": true,
	"INT8": true, "INT16": true, "INT32": true, "INT64": true, "FP16": true, "FP32": true, "FP64": true,
}

// acceptedTypes lists numericTypes for error messages, in the spec's order.
const acceptedTypes = "BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, FP16, FP32, FP64"

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
	return req.Batch(features, nFeatures)
}

// Batch converts the request's inputs; see DecodeInferRequest.
func (req *V2InferRequest) Batch(features []string, nFeatures int) (Batch, error) {
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
		if err := checkTensor(t); err != nil {
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
			vals, err := parseNumbers(t.Data, int(rows*cols))
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
		if err := checkTensor(t); err != nil {
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
		col, err := parseNumbers(byName[f].Data, int(rows))
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

func checkTensor(t *V2Tensor) error {
	if !numericTypes[t.Datatype] {
		if t.Datatype == "" {
			return fmt.Errorf("input %q: datatype is missing (accepted: %s)", t.Name, acceptedTypes)
		}
		return fmt.Errorf("input %q: datatype %q is not supported (accepted: %s)", t.Name, t.Datatype, acceptedTypes)
	}
	n := int64(1)
	for _, d := range t.Shape {
		if d < 0 {
			return fmt.Errorf("input %q: shape %v has a negative dimension", t.Name, t.Shape)
		}
		if d > maxTensorElems || n*d > maxTensorElems {
			return fmt.Errorf("input %q: shape %v is larger than %d values", t.Name, t.Shape, maxTensorElems)
		}
		n *= d
	}
	return nil
}

// parseNumbers reads a JSON array of numbers (nested arrays flattened,
// null as NaN, true/false as 1/0) and checks that it holds want values.
func parseNumbers(raw []byte, want int) ([]float64, error) {
	// Every value takes at least two bytes ("0,"), so the body, not the
	// declared shape, bounds the allocation.
	out := make([]float64, 0, min(want, len(raw)/2+1))
	i := skipWS(raw, 0)
	if i >= len(raw) || raw[i] != '[' {
		return nil, errors.New(`"data" must be an array`)
	}
	depth := 0
	expectValue := true
	for i < len(raw) {
		c := raw[i]
		switch {
		case c == '[':
			if !expectValue {
				return nil, fmt.Errorf("data: unexpected '[' at byte %d", i)
			}
			depth++
			if depth > 32 {
				return nil, errors.New("data: arrays nested too deeply")
			}
			i++
			i = skipWS(raw, i)
			if i < len(raw) && raw[i] == ']' {
				depth--
				i++
				expectValue = false
				if depth == 0 {
					// "data": [] closes the whole array here: a [0, N]
					// tensor, an empty batch, not an unclosed array.
					return finishNumbers(raw, i, out, want)
				}
			}
		case c == ']':
			if expectValue {
				return nil, fmt.Errorf("data: unexpected ']' at byte %d", i)
			}
			depth--
			i++
			if depth == 0 {
				return finishNumbers(raw, i, out, want)
			}
		case c == ',':
			if expectValue {
				return nil, fmt.Errorf("data: unexpected ',' at byte %d", i)
			}
			expectValue = true
			i++
		case c == ' ' || c == '\n' || c == '\r' || c == '\t':
			i++
		default:
			if !expectValue || depth == 0 {
				return nil, fmt.Errorf("data: unexpected %q at byte %d", c, i)
			}
			j := i
			for j < len(raw) && raw[j] != ',' && raw[j] != ']' && raw[j] != ' ' && raw[j] != '\n' && raw[j] != '\r' && raw[j] != '\t' {
				j++
			}
			tok := raw[i:j]
			var v float64
			switch string(tok) {
			case "null":
				v = math.NaN()
			case "true":
				v = 1
			case "false":
				v = 0
			default:
				if tok[0] != '-' && (tok[0] < '0' || tok[0] > '9') {
					return nil, fmt.Errorf("data: %q at byte %d is not a number", tok, i)
				}
				// The token is a view of the body: no copy, and ParseFloat
				// does not keep it.
				f, err := strconv.ParseFloat(unsafe.String(&tok[0], len(tok)), 64)
				if err != nil {
					return nil, fmt.Errorf("data: %q at byte %d is not a number", tok, i)
				}
				v = f
			}
			if len(out) >= want {
				return nil, fmt.Errorf("data has more values than the shape's %d", want)
			}
			out = append(out, v)
			expectValue = false
			i = j
		}
	}
	return nil, errors.New("data: array is not closed")
}

// finishNumbers checks what follows the closed data array and the count.
func finishNumbers(raw []byte, i int, out []float64, want int) ([]float64, error) {
	if j := skipWS(raw, i); j != len(raw) {
		return nil, fmt.Errorf("data: unexpected text after the array at byte %d", j)
	}
	if len(out) != want {
		return nil, fmt.Errorf("data has %d values, the shape needs %d", len(out), want)
	}
	return out, nil
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
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
