package scan

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
)

// ONNX is protobuf. The walker below reads the wire format itself (no
// generated code): it descends only into the messages that matter for
// safety — graphs, nodes, attributes holding subgraphs, tensors and
// their external-data entries — and skips everything else, raw tensor
// bytes included, so a multi-gigabyte model costs constant memory.

type pbKind int

const (
	pbModel pbKind = iota
	pbGraph
	pbNode
	pbAttr
	pbTensor
	pbSparse
	pbEntry    // StringStringEntryProto
	pbOpset    // OperatorSetIdProto
	pbFunction // FunctionProto
	pbTraining // TrainingInfoProto
)

// children maps (message, field) to the sub-message worth descending into.
var pbChildren = map[pbKind]map[uint64]pbKind{
	pbModel:    {7: pbGraph, 8: pbOpset, 14: pbEntry, 20: pbTraining, 25: pbFunction},
	pbGraph:    {1: pbNode, 5: pbTensor, 15: pbSparse},
	pbNode:     {5: pbAttr},
	pbAttr:     {5: pbTensor, 6: pbGraph, 10: pbTensor, 11: pbGraph, 22: pbSparse},
	pbSparse:   {1: pbTensor, 2: pbTensor},
	pbTensor:   {13: pbEntry},
	pbFunction: {7: pbNode, 9: pbOpset},
	pbTraining: {1: pbGraph, 3: pbGraph},
}

// strings kept per message kind: field numbers whose text is needed.
var pbStrings = map[pbKind]map[uint64]bool{
	pbNode:   {3: true, 4: true, 7: true},
	pbTensor: {8: true},
	pbEntry:  {1: true, 2: true},
	pbOpset:  {1: true},
}

const maxPBDepth = 64

type pbMsg struct {
	strs map[uint64]string
	kids []*pbMsg
	kind pbKind
}

type pbReader struct {
	r   *bufio.Reader
	off int64
}

var errPB = errors.New("protobuf")

func (p *pbReader) varint() (uint64, error) {
	var x uint64
	for i := 0; i < 10; i++ {
		b, err := p.r.ReadByte()
		if err != nil {
			return 0, fmt.Errorf("%w: truncated varint at offset %d", errPB, p.off)
		}
		p.off++
		x |= uint64(b&0x7f) << (7 * i)
		if b < 0x80 {
			return x, nil
		}
	}
	return 0, fmt.Errorf("%w: varint longer than 10 bytes at offset %d", errPB, p.off)
}

func (p *pbReader) skip(n uint64) error {
	for n > 0 {
		k := int(min(n, 1<<30))
		m, err := p.r.Discard(k)
		p.off += int64(m)
		if err != nil {
			return fmt.Errorf("%w: field runs past the end of the file at offset %d", errPB, p.off)
		}
		n -= uint64(k)
	}
	return nil
}

// message parses fields until end; nodes and entries it keeps are small.
func (p *pbReader) message(kind pbKind, end int64, depth int, keep *int) (*pbMsg, error) {
	if depth > maxPBDepth {
		return nil, fmt.Errorf("%w: messages nested deeper than %d", errPB, maxPBDepth)
	}
	m := &pbMsg{kind: kind}
	for p.off < end {
		tag, err := p.varint()
		if err != nil {
			return nil, err
		}
		field, wt := tag>>3, tag&7
		if field == 0 {
			return nil, fmt.Errorf("%w: field number 0 at offset %d", errPB, p.off)
		}
		switch wt {
		case 0:
			if _, err := p.varint(); err != nil {
				return nil, err
			}
		case 1:
			if err := p.skip(8); err != nil {
				return nil, err
			}
		case 5:
			if err := p.skip(4); err != nil {
				return nil, err
			}
		case 2:
			n, err := p.varint()
			if err != nil {
				return nil, err
			}
			if n > uint64(end-p.off) {
				return nil, fmt.Errorf("%w: field %d of %d bytes runs past its message at offset %d", errPB, field, n, p.off)
			}
			if ck, ok := pbChildren[kind][field]; ok {
				*keep++
				if *keep > 1<<22 {
					return nil, fmt.Errorf("%w: more than %d messages", errPB, 1<<22)
				}
				c, err := p.message(ck, p.off+int64(n), depth+1, keep)
				if err != nil {
					return nil, err
				}
				m.kids = append(m.kids, c)
				continue
			}
			if pbStrings[kind][field] && n <= 4096 {
				b := make([]byte, n)
				if _, err := io.ReadFull(p.r, b); err != nil {
					return nil, fmt.Errorf("%w: truncated string at offset %d", errPB, p.off)
				}
				p.off += int64(n)
				if m.strs == nil {
					m.strs = map[uint64]string{}
				}
				m.strs[field] = string(b)
				continue
			}
			if err := p.skip(n); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("%w: wire type %d (field %d) at offset %d", errPB, wt, field, p.off)
		}
	}
	if p.off != end {
		return nil, fmt.Errorf("%w: message overruns its length at offset %d", errPB, p.off)
	}
	return m, nil
}

func parseOnnx(r io.Reader, size int64) (*pbMsg, error) {
	p := &pbReader{r: bufio.NewReaderSize(r, bufFor(size))}
	keep := 0
	m, err := p.message(pbModel, size, 0, &keep)
	if err != nil {
		return nil, err
	}
	hasGraph := false
	for _, k := range m.kids {
		if k.kind == pbGraph {
			hasGraph = true
		}
	}
	if !hasGraph {
		return nil, fmt.Errorf("%w: ModelProto without a graph", errPB)
	}
	return m, nil
}

// isOnnx sniffs: the first tag must be a ModelProto field and the whole
// file must parse as one with a graph.
func isOnnx(f io.ReaderAt, size int64) bool {
	h := headOf(f, size)
	if len(h) == 0 {
		return false
	}
	switch h[0] {
	case 0x08, 0x12, 0x1a, 0x22, 0x28, 0x32, 0x3a, 0x42, 0x72, 0xa2, 0xca:
	default:
		return false
	}
	_, err := parseOnnx(io.NewSectionReader(f, 0, size), size)
	return err == nil
}

// standardDomains ship with every ONNX runtime; others need a custom
// operator library, which is native code loaded with the model.
var standardDomains = map[string]bool{"": true, "ai.onnx": true, "ai.onnx.ml": true,
	"ai.onnx.training": true, "ai.onnx.preview.training": true}

func (s *scanner) scanOnnx(f io.ReaderAt, size int64) bool {
	m, err := parseOnnx(io.NewSectionReader(f, 0, size), size)
	if err != nil {
		return s.invalid("scan.invalid.onnx", "", "not a valid ONNX model: %v", strings.TrimPrefix(err.Error(), "protobuf: "))
	}
	custom := map[string]map[string]bool{}
	var walk func(m *pbMsg, where string)
	walk = func(m *pbMsg, where string) {
		switch m.kind {
		case pbNode:
			if d := m.strs[7]; !standardDomains[d] {
				if custom[d] == nil {
					custom[d] = map[string]bool{}
				}
				custom[d][m.strs[4]] = true
			}
			where = "node " + quoteName(m.strs[3], m.strs[4])
		case pbOpset:
			if d := m.strs[1]; !standardDomains[d] && custom[d] == nil {
				custom[d] = map[string]bool{}
			}
		case pbTensor:
			where = "tensor " + quoteName(m.strs[8], "")
			for _, e := range m.kids {
				if e.kind == pbEntry && e.strs[1] == "location" {
					s.externalData(e.strs[2], where)
				}
			}
		case pbEntry:
			if s.o.secrets() && where == "" {
				s.secretsIn(m.strs[1]+"="+m.strs[2], "metadata_props."+m.strs[1])
			}
		}
		for _, k := range m.kids {
			walk(k, where)
		}
	}
	walk(m, "")
	domains := make([]string, 0, len(custom))
	for d := range custom {
		domains = append(domains, d)
	}
	sort.Strings(domains)
	for _, d := range domains {
		ops := make([]string, 0, len(custom[d]))
		for op := range custom[d] {
			ops = append(ops, op)
		}
		sort.Strings(ops)
		sev, why := Medium, "needs a custom operator library (native code) to run"
		if d == "com.microsoft" {
			sev, why = Low, "ONNX Runtime contrib operators"
		}
		s.res.add(Finding{Severity: sev, Code: "scan.onnx.custom_domain", Location: "domain " + d,
			Message: fmt.Sprintf("custom operator domain %q (%s): %s", d, strings.Join(ops, ", "), why)})
	}
	return false
}

// externalData: a tensor's data lives in a file next to the model. A
// location that escapes the model's folder reads any file on the machine
// into the weights.
func (s *scanner) externalData(location, where string) {
	clean := path.Clean(strings.ReplaceAll(location, "\\", "/"))
	switch {
	case location == "":
		s.res.add(Finding{Severity: High, Code: "scan.onnx.external_data", Location: where, Message: "external data with an empty location"})
	case strings.HasPrefix(clean, "/") || (len(location) > 1 && location[1] == ':'):
		s.res.add(Finding{Severity: High, Code: "scan.onnx.external_data", Location: where,
			Message: fmt.Sprintf("external data location %q is an absolute path", location)})
	case clean == ".." || strings.HasPrefix(clean, "../"):
		s.res.add(Finding{Severity: High, Code: "scan.onnx.external_data", Location: where,
			Message: fmt.Sprintf("external data location %q escapes the model's folder", location)})
	default:
		s.res.external = append(s.res.external, clean)
		s.res.add(Finding{Severity: Info, Code: "scan.onnx.external_data", Location: where,
			Message: fmt.Sprintf("tensor data in the external file %q; scan that file too", location)})
	}
}

func quoteName(name, op string) string {
	if name == "" {
		return fmt.Sprintf("(unnamed %s)", op)
	}
	return fmt.Sprintf("%q", name)
}

// isProtobuf reports whether the whole file is one well-formed protobuf
// message of some schema (SentencePiece tokenizers, TensorFlow graphs).
func isProtobuf(f io.ReaderAt, size int64) bool {
	// Short inputs parse as protobuf by chance; real tokenizers and
	// graphs are kilobytes and start with a one-byte tag of a low field.
	h := headOf(f, 1)
	if size < 64 || size > 1<<30 || len(h) == 0 || h[0] >= 0x80 || h[0]>>3 == 0 || h[0]&7 > 5 || h[0]&7 == 3 || h[0]&7 == 4 {
		return false
	}
	p := &pbReader{r: bufio.NewReaderSize(io.NewSectionReader(f, 0, size), bufFor(size))}
	fields := 0
	for p.off < size {
		tag, err := p.varint()
		if err != nil || tag>>3 == 0 {
			return false
		}
		var n uint64
		switch tag & 7 {
		case 0:
			_, err = p.varint()
		case 1:
			err = p.skip(8)
		case 5:
			err = p.skip(4)
		case 2:
			if n, err = p.varint(); err == nil {
				if n > uint64(size-p.off) {
					return false
				}
				err = p.skip(n)
			}
		default:
			return false
		}
		if err != nil {
			return false
		}
		fields++
	}
	return fields >= 2
}
