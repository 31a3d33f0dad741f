package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"sort"
	"unicode/utf8"
)

// MaxHeader is the largest header the format allows (safetensors'
// MAX_HEADER_SIZE): a bigger one is how a file makes a loader allocate
// without bound.
const MaxHeader = 100_000_000

// dtypeBits gives each dtype the format defines its width in bits.
var dtypeBits = map[string]uint64{
	"BOOL": 8, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E4M3FN": 8, "F8_E8M0": 8,
	"I16": 16, "U16": 16, "F16": 16, "BF16": 16,
	"I32": 32, "U32": 32, "F32": 32,
	"I64": 64, "U64": 64, "F64": 64, "C64": 64,
	"F4": 4, "F6_E2M3": 6, "F6_E3M2": 6,
}

// Tensor is one entry of the header.
type Tensor struct {
	Name  string   `json:"name"`
	DType string   `json:"dtype"`
	Shape []uint64 `json:"shape"`
	Begin uint64   `json:"begin"`
	End   uint64   `json:"end"`
}

// Info is what a valid file declares.
type Info struct {
	HeaderSize uint64
	DataSize   uint64
	Tensors    []Tensor
	Metadata   map[string]string
	// Unknown lists tensor-info fields the format does not define
	// ("tensor.field"); loaders ignore them, so they are only noted.
	Unknown []string
}

// FormatError says what makes a file invalid and where.
type FormatError struct {
	Where string // "header", "tensor \"w\"", "__metadata__"
	Msg   string
}

func (e *FormatError) Error() string { return e.Where + ": " + e.Msg }

func bad(where, format string, args ...any) error {
	return &FormatError{Where: where, Msg: fmt.Sprintf(format, args...)}
}

// Validate checks a safetensors file of size bytes as the format defines
// it. It reads only the 8-byte length and the header, never the tensors.
func Validate(r io.ReaderAt, size int64) (Info, error) {
	var info Info
	if size < 8 {
		return info, bad("header", "file is %d bytes, shorter than the 8-byte header length", size)
	}
	var lb [8]byte
	if _, err := r.ReadAt(lb[:], 0); err != nil {
		return info, fmt.Errorf("read header length: %w", err)
	}
	n := binary.LittleEndian.Uint64(lb[:])
	if n == 0 {
		return info, bad("header", "header length is 0")
	}
	if n > MaxHeader {
		return info, bad("header", "header length %d exceeds the format's limit of %d bytes", n, MaxHeader)
	}
	if n > uint64(size)-8 {
		return info, bad("header", "header length %d runs past the end of the %d-byte file", n, size)
	}
	hdr := make([]byte, n)
	if _, err := r.ReadAt(hdr, 8); err != nil && !(errors.Is(err, io.EOF) && len(hdr) == int(n)) {
		return info, fmt.Errorf("read header: %w", err)
	}
	info.HeaderSize = n
	info.DataSize = uint64(size) - 8 - n
	if err := parseHeader(hdr, &info); err != nil {
		return info, err
	}
	return info, checkLayout(&info)
}

// ValidateHeader checks a header alone against a data buffer of dataSize
// bytes (for fuzzing and for callers that hold the header in memory).
func ValidateHeader(hdr []byte, dataSize uint64) (Info, error) {
	info := Info{HeaderSize: uint64(len(hdr)), DataSize: dataSize}
	if err := parseHeader(hdr, &info); err != nil {
		return info, err
	}
	return info, checkLayout(&info)
}

func parseHeader(hdr []byte, info *Info) error {
	if !utf8.Valid(hdr) {
		return bad("header", "header is not valid UTF-8")
	}
	if hdr[0] != '{' {
		return bad("header", "header must start with '{', got %q", hdr[0])
	}
	dec := json.NewDecoder(bytes.NewReader(hdr))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return bad("header", "header is not a JSON object")
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return bad("header", "malformed JSON: %v", err)
		}
		name := t.(string)
		if seen[name] {
			return bad(fmt.Sprintf("tensor %q", name), "appears twice in the header; loaders disagree on which one wins")
		}
		seen[name] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return bad(fmt.Sprintf("tensor %q", name), "malformed JSON: %v", err)
		}
		if name == "__metadata__" {
			m, err := parseMetadata(raw)
			if err != nil {
				return err
			}
			info.Metadata = m
			continue
		}
		t2, unknown, err := parseTensor(name, raw, info.DataSize)
		if err != nil {
			return err
		}
		info.Unknown = append(info.Unknown, unknown...)
		info.Tensors = append(info.Tensors, t2)
	}
	if _, err := dec.Token(); err != nil {
		return bad("header", "malformed JSON: %v", err)
	}
	// The format pads the header with spaces to align the data buffer.
	rest := hdr[dec.InputOffset():]
	if len(bytes.TrimRight(rest, " \t\r\n")) > 0 {
		return bad("header", "%d bytes of non-space data after the JSON object", len(rest))
	}
	return nil
}

func parseMetadata(raw json.RawMessage) (map[string]string, error) {
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, bad("__metadata__", "must be an object of strings: %v", err)
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		s, ok := v.(string)
		if !ok {
			return nil, bad("__metadata__", "value of %q is a %T, the format allows only strings", k, v)
		}
		out[k] = s
	}
	return out, nil
}

func parseTensor(name string, raw json.RawMessage, dataSize uint64) (Tensor, []string, error) {
	where := fmt.Sprintf("tensor %q", name)
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return Tensor{}, nil, bad(where, "must be an object with dtype, shape and data_offsets")
	}
	t := Tensor{Name: name}
	var unknown []string
	for k := range fields {
		if k != "dtype" && k != "shape" && k != "data_offsets" {
			unknown = append(unknown, name+"."+k)
		}
	}
	if err := json.Unmarshal(fields["dtype"], &t.DType); err != nil || t.DType == "" {
		return t, nil, bad(where, "dtype is missing or not a string")
	}
	bitsPer, ok := dtypeBits[t.DType]
	if !ok {
		return t, nil, bad(where, "unknown dtype %q", t.DType)
	}
	if fields["shape"] == nil {
		return t, nil, bad(where, "shape is missing")
	}
	if err := json.Unmarshal(fields["shape"], &t.Shape); err != nil {
		return t, nil, bad(where, "shape must be a list of non-negative integers")
	}
	var offs []uint64
	if err := json.Unmarshal(fields["data_offsets"], &offs); err != nil || len(offs) != 2 {
		return t, nil, bad(where, "data_offsets must be two non-negative integers [begin, end]")
	}
	t.Begin, t.End = offs[0], offs[1]
	if t.Begin > t.End {
		return t, nil, bad(where, "data_offsets begin %d is after end %d", t.Begin, t.End)
	}
	if t.End > dataSize {
		return t, nil, bad(where, "data_offsets end %d is beyond the %d-byte data buffer (end of file)", t.End, dataSize)
	}
	n := uint64(1)
	for _, d := range t.Shape {
		hi, lo := bits.Mul64(n, d)
		if hi != 0 {
			return t, nil, bad(where, "shape %v overflows", t.Shape)
		}
		n = lo
	}
	hi, lo := bits.Mul64(n, bitsPer)
	if hi != 0 {
		return t, nil, bad(where, "shape %v overflows", t.Shape)
	}
	if lo%8 != 0 {
		return t, nil, bad(where, "%d elements of %s do not fill whole bytes", n, t.DType)
	}
	if want := lo / 8; t.End-t.Begin != want {
		return t, nil, bad(where, "data_offsets span %d bytes, but shape %v of %s needs %d", t.End-t.Begin, t.Shape, t.DType, want)
	}
	return t, unknown, nil
}

// checkLayout enforces that the tensors tile the data buffer exactly:
// sorted, contiguous, no overlap, no gap, nothing left over. A gap or a
// tail is room for a hidden payload; an overlap makes two tensors alias.
func checkLayout(info *Info) error {
	ts := append([]Tensor(nil), info.Tensors...)
	sort.Slice(ts, func(i, j int) bool {
		if ts[i].Begin != ts[j].Begin {
			return ts[i].Begin < ts[j].Begin
		}
		return ts[i].End < ts[j].End
	})
	var pos uint64
	for _, t := range ts {
		where := fmt.Sprintf("tensor %q", t.Name)
		if t.End > info.DataSize {
			return bad(where, "data_offsets end %d is beyond the %d-byte data buffer (end of file)", t.End, info.DataSize)
		}
		if t.Begin < pos {
			return bad(where, "data_offsets [%d, %d] overlap the previous tensor, which ends at %d", t.Begin, t.End, pos)
		}
		if t.Begin > pos {
			return bad(where, "gap of %d bytes before data_offsets begin %d", t.Begin-pos, t.Begin)
		}
		pos = t.End
	}
	if pos != info.DataSize {
		return bad("header", "tensors cover %d bytes but the data buffer holds %d", pos, info.DataSize)
	}
	return nil
}
