package oip

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

// Tensor is one named tensor. Data is row-major and flat; nested arrays
// are accepted on input and flattened.
type Tensor struct {
	Name       string          `json:"name"`
	Shape      []int64         `json:"shape"`
	Datatype   string          `json:"datatype"`
	Parameters map[string]any  `json:"parameters,omitempty"`
	Data       json.RawMessage `json:"data"`
}

// InferRequest is the body of POST /v2/models/{name}/infer.
type InferRequest struct {
	ID         string         `json:"id,omitempty"`
	Parameters map[string]any `json:"parameters,omitempty"`
	Inputs     []Tensor       `json:"inputs"`
	Outputs    []struct {
		Name string `json:"name"`
	} `json:"outputs,omitempty"`
}

// InferResponse is the answer to an infer request.
type InferResponse struct {
	ModelName    string   `json:"model_name"`
	ModelVersion string   `json:"model_version,omitempty"`
	ID           string   `json:"id,omitempty"`
	Outputs      []Tensor `json:"outputs"`
}

// MaxTensorElems bounds one request's tensor so that a forged shape cannot
// make the server allocate without limit (the body limit bounds data).
const MaxTensorElems = 1 << 28

var numericTypes = map[string]bool{
	"BOOL": true, "UINT8": true, "UINT16": true, "UINT32": true, "UINT64": true,
	"INT8": true, "INT16": true, "INT32": true, "INT64": true, "FP16": true, "FP32": true, "FP64": true,
}

// acceptedTypes lists numericTypes for error messages, in the spec's order.
const acceptedTypes = "BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, FP16, FP32, FP64"

// Numeric reports whether datatype is one of the V2 numeric datatypes.
func Numeric(datatype string) bool { return numericTypes[datatype] }

// CheckTensor checks a tensor's datatype is numeric and its shape is
// non-negative and at most MaxTensorElems values.
func CheckTensor(t *Tensor) error {
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
		if d > MaxTensorElems || n*d > MaxTensorElems {
			return fmt.Errorf("input %q: shape %v is larger than %d values", t.Name, t.Shape, MaxTensorElems)
		}
		n *= d
	}
	return nil
}

// Numbers reads a JSON array of numbers (nested arrays flattened,
// null as NaN, true/false as 1/0) and checks that it holds want values.
func Numbers(raw []byte, want int) ([]float64, error) {
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
