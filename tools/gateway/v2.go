package gateway

import "github.com/modelgate/modelgate/tools/oip"

// The V2 wire format is tools/oip's, shared with the model server and
// client; these names stay for the gateway's callers. ParseOutputs is the
// allocation-free scanner every proxied response goes through.

// Outputs is the first output tensor of a V2 inference response.
type Outputs = oip.Outputs

// ParseOutputs reads outputs[0] of a V2 inference response; dst is reused.
func ParseOutputs(body []byte, dst []float64) (Outputs, error) { return oip.ParseOutputs(body, dst) }

// ParseInputs turns a V2 request into rows (see oip.ParseInputs).
func ParseInputs(body []byte, features []string) (names []string, rows [][]float64, err error) {
	return oip.ParseInputs(body, features)
}

// EncodeRequest writes a V2 inference request for rows (see oip.EncodeRequest).
func EncodeRequest(rows [][]float64) []byte { return oip.EncodeRequest(rows) }
