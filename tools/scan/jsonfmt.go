package scan

import (
	"bytes"
	"encoding/json"
	"io"
)

// maxJSON bounds the JSON files parsed whole (XGBoost models, configs).
const maxJSON = 512 << 20

// scanJSON recognises XGBoost models (a "learner" object with a
// "version") and plain JSON configs; both are checked for secrets and
// for embedded Keras Lambda layers.
func (s *scanner) scanJSON(f io.ReaderAt, size int64) bool {
	s.res.Format = "json"
	if size > maxJSON {
		s.res.add(Finding{Severity: Low, Code: "scan.json.large", Message: "JSON file over 512 MiB: structure not validated, secrets checked line by line"})
		s.scanTextSecrets(io.NewSectionReader(f, 0, size), "")
		return false
	}
	data := make([]byte, size)
	if _, err := f.ReadAt(data, 0); err != nil && err != io.EOF {
		return s.invalid("scan.invalid.read", "", "read: %v", err)
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		if isText(data[:min(len(data), 4096)]) {
			s.res.Format = "text"
			s.secretsInText(data, "")
			return false
		}
		return s.invalid("scan.invalid.json", "", "not valid JSON: %v", err)
	}
	if m, ok := v.(map[string]any); ok {
		if l, ok := m["learner"].(map[string]any); ok {
			if _, ok := m["version"]; ok {
				s.res.Format = "xgboost-json"
				if _, ok := l["gradient_booster"]; !ok {
					return s.invalid("scan.invalid.xgboost", "learner", "XGBoost model without learner.gradient_booster")
				}
			}
		}
	}
	if bytes.Contains(data, []byte(`"class_name"`)) {
		s.kerasConfig(data, "")
		// keep only Lambda findings for non-Keras JSON; custom objects
		// are a Keras-archive concept
		if s.res.Format != "json" {
			s.dropCode("scan.keras.custom_object")
		}
	}
	if s.o.secrets() {
		s.secretsInText(data, "")
	}
	return false
}

func (s *scanner) dropCode(code string) {
	out := s.res.Findings[:0]
	for _, f := range s.res.Findings {
		if f.Code != code {
			out = append(out, f)
		}
	}
	s.res.Findings = out
}

// scanHDF5 looks for Lambda layers in a legacy Keras .h5 file, whose
// model_config attribute is JSON stored as a string; the search streams
// the file without an HDF5 parser.
func (s *scanner) scanHDF5(f io.ReaderAt, size int64) bool {
	needles := [][]byte{[]byte(`"class_name": "Lambda"`), []byte(`"class_name":"Lambda"`)}
	buf := make([]byte, bufSize+64)
	var off int64
	for off < size {
		n, err := f.ReadAt(buf, off)
		chunk := buf[:n]
		for _, nd := range needles {
			if i := bytes.Index(chunk, nd); i >= 0 {
				s.res.add(Finding{Severity: High, Code: "scan.keras.lambda", Location: loc("", off+int64(i)),
					Message: "Keras Lambda layer in an HDF5 model: it carries Python bytecode that runs when the model is loaded"})
				return false
			}
		}
		if err != nil || n <= 64 {
			break
		}
		off += int64(n - 64) // overlap so a needle across chunks is found
	}
	return false
}
