package oip

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unsafe"
)

// Outputs is the first output tensor of a V2 inference response: what the
// gateway compares between versions.
type Outputs struct {
	Rows   int
	Width  int
	Values []float64 // row-major, Rows×Width
}

// Score is one number per row for distribution checks: the value itself
// for one output per row (a probability or a regression value), the index
// of the largest value (the class) for several.
func (o Outputs) Score(i int) float64 {
	if o.Width <= 1 {
		return o.Values[i]
	}
	row := o.Values[i*o.Width : (i+1)*o.Width]
	best := 0
	for j, v := range row {
		if v > row[best] {
			best = j
		}
	}
	return float64(best)
}

// Class is the class a row is assigned: score ≥ threshold for one output
// per row, the largest value's index for several.
func (o Outputs) Class(i int, threshold float64) int {
	if o.Width <= 1 {
		if o.Values[i] >= threshold {
			return 1
		}
		return 0
	}
	return int(o.Score(i))
}

var errNoOutputs = errors.New("V2 response has no outputs[0].data")

// ParseOutputs reads outputs[0] of a V2 inference response: its shape and
// its data (flat or nested). It walks the bytes instead of decoding into
// maps because it runs on every proxied response. dst is reused.
func ParseOutputs(body []byte, dst []float64) (Outputs, error) {
	p := scanner{b: body}
	p.ws()
	if !p.consume('{') {
		return Outputs{}, p.fail("want a JSON object")
	}
	var out Outputs
	found := false
	for {
		key, end, err := p.member()
		if err != nil {
			return Outputs{}, err
		}
		if end {
			break
		}
		if key == "outputs" && !found {
			if !p.consume('[') {
				return Outputs{}, p.fail("outputs must be an array")
			}
			p.ws()
			if p.peek() == ']' {
				return Outputs{}, errNoOutputs
			}
			out, err = p.tensor(dst)
			if err != nil {
				return Outputs{}, err
			}
			found = true
			for {
				p.ws()
				if p.consume(']') {
					break
				}
				if !p.consume(',') {
					return Outputs{}, p.fail("want ',' or ']' in outputs")
				}
				p.ws()
				if err := p.skip(); err != nil {
					return Outputs{}, err
				}
			}
		} else if err := p.skip(); err != nil {
			return Outputs{}, err
		}
		if done, err := p.next('}', ""); err != nil {
			return Outputs{}, err
		} else if done {
			break
		}
	}
	if !found {
		return Outputs{}, errNoOutputs
	}
	return out, nil
}

type scanner struct {
	b []byte
	i int
}

// member reads the next member's key and colon of an object whose '{'
// was consumed, leaving the scanner at the value; end reports the '}'.
func (p *scanner) member() (key string, end bool, err error) {
	p.ws()
	if p.consume('}') {
		return "", true, nil
	}
	if key, err = p.str(); err != nil {
		return "", false, err
	}
	p.ws()
	if !p.consume(':') {
		return "", false, p.fail("want ':'")
	}
	p.ws()
	return key, false, nil
}

func (p *scanner) fail(msg string) error { return fmt.Errorf("offset %d: %s", p.i, msg) }

func (p *scanner) peek() byte {
	if p.i < len(p.b) {
		return p.b[p.i]
	}
	return 0
}

// next consumes what follows a member or an element: ',' (done is false)
// or the closing bracket (done is true); where ends the error message.
func (p *scanner) next(closing byte, where string) (done bool, err error) {
	p.ws()
	if p.consume(',') {
		return false, nil
	}
	if p.consume(closing) {
		return true, nil
	}
	return false, p.fail(fmt.Sprintf("want ',' or '%c'%s", closing, where))
}

func (p *scanner) consume(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *scanner) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// str reads a string without escapes resolved; keys that matter here
// never contain any.
func (p *scanner) str() (string, error) {
	if !p.consume('"') {
		return "", p.fail("want a string")
	}
	start := p.i
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case '\\':
			p.i += 2
			continue
		case '"':
			s := unsafe.String(unsafe.SliceData(p.b[start:]), p.i-start)
			p.i++
			return s, nil
		}
		p.i++
	}
	return "", p.fail("unterminated string")
}

func (p *scanner) skip() error {
	p.ws()
	switch c := p.peek(); {
	case c == '"':
		_, err := p.str()
		return err
	case c == '{' || c == '[':
		depth := 0
		for p.i < len(p.b) {
			switch p.b[p.i] {
			case '"':
				if _, err := p.str(); err != nil {
					return err
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					p.i++
					return nil
				}
			}
			p.i++
		}
		return p.fail("unterminated value")
	case c == 0:
		return p.fail("unexpected end")
	default:
		for p.i < len(p.b) {
			switch p.b[p.i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return nil
			}
			p.i++
		}
		return nil
	}
}

func (p *scanner) number() (float64, error) {
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		if c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
			p.i++
			continue
		}
		break
	}
	if start == p.i {
		// V2 servers write non-finite FP values as strings or bare words;
		// accept the common spellings so a NaN score is seen as one.
		if p.peek() == '"' {
			s, err := p.str()
			if err != nil {
				return 0, err
			}
			return parseSpecial(s, p)
		}
		for p.i < len(p.b) && (p.b[p.i] >= 'a' && p.b[p.i] <= 'z' || p.b[p.i] >= 'A' && p.b[p.i] <= 'Z') {
			p.i++
		}
		return parseSpecial(string(p.b[start:p.i]), p)
	}
	s := unsafe.String(unsafe.SliceData(p.b[start:]), p.i-start)
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, p.fail(fmt.Sprintf("bad number %q", s))
	}
	return v, nil
}

func parseSpecial(s string, p *scanner) (float64, error) {
	switch s {
	case "NaN", "nan":
		return math.NaN(), nil
	case "Infinity", "inf", "Inf":
		return math.Inf(1), nil
	case "-Infinity", "-inf", "-Inf":
		return math.Inf(-1), nil
	case "null":
		return math.NaN(), nil // V2 JSON's missing value
	case "true":
		return 1, nil
	case "false":
		return 0, nil
	}
	return 0, p.fail(fmt.Sprintf("want a number, got %q", s))
}

// numbers appends every number of a (possibly nested) array to dst.
func (p *scanner) numbers(dst []float64) ([]float64, error) {
	if !p.consume('[') {
		return dst, p.fail("data must be an array")
	}
	for {
		p.ws()
		if p.consume(']') {
			return dst, nil
		}
		if p.peek() == '[' {
			var err error
			if dst, err = p.numbers(dst); err != nil {
				return dst, err
			}
		} else {
			v, err := p.number()
			if err != nil {
				return dst, err
			}
			dst = append(dst, v)
		}
		if done, err := p.next(']', " in data"); err != nil || done {
			return dst, err
		}
	}
}

func (p *scanner) tensor(dst []float64) (Outputs, error) {
	if !p.consume('{') {
		return Outputs{}, p.fail("outputs[0] must be an object")
	}
	var shape [4]int
	ns := 0
	var data []float64
	haveData := false
	for {
		key, end, err := p.member()
		if err != nil {
			return Outputs{}, err
		}
		if end {
			break
		}
		switch key {
		case "data":
			if data, err = p.numbers(dst[:0]); err != nil {
				return Outputs{}, err
			}
			haveData = true
		case "shape":
			if !p.consume('[') {
				return Outputs{}, p.fail("shape must be an array")
			}
			for {
				p.ws()
				if p.consume(']') {
					break
				}
				v, err := p.number()
				if err != nil {
					return Outputs{}, err
				}
				if ns < len(shape) {
					shape[ns] = int(v)
				}
				ns++
				p.ws()
				p.consume(',')
			}
		default:
			if err := p.skip(); err != nil {
				return Outputs{}, err
			}
		}
		if done, err := p.next('}', " in outputs[0]"); err != nil {
			return Outputs{}, err
		} else if done {
			break
		}
	}
	if !haveData {
		return Outputs{}, errNoOutputs
	}
	o := Outputs{Values: data, Rows: len(data), Width: 1}
	if ns >= 2 && shape[1] > 1 && shape[0] > 0 && shape[0]*shape[1] == len(data) {
		o.Rows, o.Width = shape[0], shape[1]
	}
	return o, nil
}

// v2Request is the part of a V2 inference request the input sample reads.
type v2Request struct {
	Inputs []struct {
		Name  string          `json:"name"`
		Shape []int           `json:"shape"`
		Data  json.RawMessage `json:"data"`
	} `json:"inputs"`
}

// ParseInputs turns a V2 request into rows: one 2-D input [N, F] gives N
// rows whose columns are named by features (or f0, f1...); several 1-D
// inputs of N values each give N rows with one column per input.
func ParseInputs(body []byte, features []string) (names []string, rows [][]float64, err error) {
	var req v2Request
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, nil, fmt.Errorf("V2 request: %w", err)
	}
	if len(req.Inputs) == 0 {
		return nil, nil, errors.New("V2 request has no inputs")
	}
	flat := func(raw json.RawMessage) ([]float64, error) {
		s := scanner{b: raw}
		s.ws()
		return s.numbers(nil)
	}
	if len(req.Inputs) == 1 && len(req.Inputs[0].Shape) == 2 {
		in := req.Inputs[0]
		n, f := in.Shape[0], in.Shape[1]
		vals, err := flat(in.Data)
		if err != nil {
			return nil, nil, fmt.Errorf("V2 request input %q: %w", in.Name, err)
		}
		if n < 0 || f <= 0 || n*f != len(vals) {
			return nil, nil, fmt.Errorf("V2 request input %q: shape %v does not match %d values", in.Name, in.Shape, len(vals))
		}
		names = features
		if len(names) != f {
			names = make([]string, f)
			for j := range names {
				names[j] = "f" + strconv.Itoa(j)
			}
		}
		for i := 0; i < n; i++ {
			rows = append(rows, vals[i*f:(i+1)*f:(i+1)*f])
		}
		return names, rows, nil
	}
	n := -1
	cols := make([][]float64, len(req.Inputs))
	for j, in := range req.Inputs {
		vals, err := flat(in.Data)
		if err != nil {
			return nil, nil, fmt.Errorf("V2 request input %q: %w", in.Name, err)
		}
		if n >= 0 && len(vals) != n {
			return nil, nil, fmt.Errorf("V2 request input %q has %d values, input %q has %d", in.Name, len(vals), req.Inputs[0].Name, n)
		}
		n = len(vals)
		cols[j] = vals
		names = append(names, in.Name)
	}
	for i := 0; i < n; i++ {
		row := make([]float64, len(cols))
		for j := range cols {
			row[j] = cols[j][i]
		}
		rows = append(rows, row)
	}
	return names, rows, nil
}

// EncodeRequest writes a V2 inference request for rows as one FP64 input
// of shape [len(rows), F], the layout MLServer and KServe runtimes take.
func EncodeRequest(rows [][]float64) []byte {
	f := 0
	if len(rows) > 0 {
		f = len(rows[0])
	}
	b := make([]byte, 0, 64+len(rows)*f*12)
	b = append(b, `{"inputs":[{"name":"input-0","shape":[`...)
	b = strconv.AppendInt(b, int64(len(rows)), 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(f), 10)
	b = append(b, `],"datatype":"FP64","data":[`...)
	first := true
	for _, r := range rows {
		for _, v := range r {
			if !first {
				b = append(b, ',')
			}
			first = false
			if math.IsNaN(v) || math.IsInf(v, 0) {
				b = append(b, "null"...) // a missing value, as model servers read it
				continue
			}
			b = strconv.AppendFloat(b, v, 'g', -1, 64)
		}
	}
	return append(b, "]}]}"...)
}
