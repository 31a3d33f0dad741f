package scan

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/modelgate/modelgate/tools/scan/pickle"
	"github.com/modelgate/modelgate/tools/scan/safetensors"
)

// scanner scans one file, filling res. Methods return true when the
// file is invalid (the reason is a finding with a scan.invalid code).
type scanner struct {
	ctx context.Context
	o   Options
	res *Result
}

func (s *scanner) invalid(code, loc, format string, args ...any) bool {
	s.res.add(Finding{Severity: High, Code: code, Location: loc, Message: fmt.Sprintf(format, args...), reason: true})
	return true
}

func (s *scanner) addPickle(fs []pickle.Finding, prefix string) {
	for _, f := range fs {
		s.res.add(Finding{Severity: string(f.Severity), Code: f.Code, Message: f.Message,
			Location: loc(prefix, f.Offset), Module: f.Module, Name: f.Name, Offset: f.Offset})
	}
}

func loc(prefix string, off int64) string {
	if prefix == "" {
		return fmt.Sprintf("offset %d", off)
	}
	return fmt.Sprintf("%s offset %d", prefix, off)
}

// Magic numbers of the formats recognised by content.
var (
	magicZip      = []byte("PK\x03\x04")
	magicZipEmpty = []byte("PK\x05\x06")
	magicNpy      = []byte("\x93NUMPY")
	magicGGUF     = []byte("GGUF")
	magicHDF5     = []byte("\x89HDF\r\n\x1a\n")
	magicGzip     = []byte{0x1f, 0x8b}
	magicBzip2    = []byte("BZh")
	magicXz       = []byte{0xfd, '7', 'z', 'X', 'Z', 0}
	magicLzma     = []byte{0x5d, 0, 0}
	magicLz4      = []byte{0x04, 0x22, 0x4d, 0x18}
)

func (s *scanner) scanFile(f io.ReaderAt, size int64) bool {
	if size == 0 {
		s.res.Format = "unknown"
		return s.invalid("scan.invalid.empty", "", "file is empty")
	}
	head := make([]byte, min(size, 4096))
	if _, err := f.ReadAt(head, 0); err != nil && !errors.Is(err, io.EOF) {
		s.res.Format = "unknown"
		return s.invalid("scan.invalid.read", "", "read: %v", err)
	}
	switch {
	case bytes.HasPrefix(head, magicZip) || bytes.HasPrefix(head, magicZipEmpty):
		return s.scanZip(f, size, "", 0)
	case bytes.HasPrefix(head, magicNpy):
		s.res.Format = "numpy"
		return s.scanNpy(bufio.NewReaderSize(io.NewSectionReader(f, 0, size), bufFor(size)), size, "")
	case bytes.HasPrefix(head, magicGGUF):
		s.res.Format = "gguf"
		return s.scanGGUF(f, size)
	case bytes.HasPrefix(head, magicHDF5):
		s.res.Format = "hdf5"
		return s.scanHDF5(f, size)
	case head[0] == 0x80:
		// PROTO: a pickle, or something that wants to be read as one
		return s.scanPickleFile(f, size)
	case isSafetensors(head, size):
		s.res.Format = "safetensors"
		return s.scanSafetensors(f, size)
	case len(head) >= 2 && head[0] == 0x78 && (uint16(head[0])<<8|uint16(head[1]))%31 == 0:
		return s.scanCompressedPickle(f, size, "zlib")
	case bytes.HasPrefix(head, magicGzip):
		return s.scanCompressedPickle(f, size, "gzip")
	case bytes.HasPrefix(head, magicBzip2), bytes.HasPrefix(head, magicXz), bytes.HasPrefix(head, magicLzma), bytes.HasPrefix(head, magicLz4):
		s.res.Format = "compressed"
		return s.invalid("scan.invalid.compression", "", "compressed with bzip2, xz, lzma or lz4 (e.g. a compressed joblib file): not supported, the content cannot be checked; save uncompressed or with zlib/gzip")
	}
	if looksJSON(head) {
		return s.scanJSON(f, size)
	}
	if isOnnx(f, size) {
		s.res.Format = "onnx"
		return s.scanOnnx(f, size)
	}
	if len(head) > 0 && isPickleOpcode(head[0]) {
		// protocol 0 and 1 pickles have no PROTO opcode: try the walker,
		// and fall back to text when it is plain prose.
		if done, invalid := s.tryPickleP0(f, size, head); done {
			return invalid
		}
	}
	if isProtobuf(f, size) {
		s.res.Format = "protobuf"
		s.res.add(Finding{Severity: Low, Code: "scan.protobuf", Message: "protobuf message that is not an ONNX model (a SentencePiece tokenizer, a TensorFlow graph): wire format checked, content not analysed"})
		return false
	}
	if isText(head) {
		s.res.Format = "text"
		s.scanTextSecrets(io.NewSectionReader(f, 0, size), "")
		return false
	}
	s.res.Format = "unknown"
	if s.o.AllowUnknown {
		s.res.add(Finding{Severity: Info, Code: "scan.unknown_format", Message: "format not recognised; allowed by configuration (allow_unknown_formats)"})
		return false
	}
	return s.invalid("scan.invalid.format", "", "format not recognised by content (%s); set allow_unknown_formats to accept it", describeHead(head))
}

func describeHead(h []byte) string {
	n := min(len(h), 8)
	return fmt.Sprintf("first bytes % x", h[:n])
}

func isSafetensors(head []byte, size int64) bool {
	if len(head) < 9 || size < 9 {
		return false
	}
	n := binary.LittleEndian.Uint64(head[:8])
	return n > 0 && n <= uint64(size-8) && head[8] == '{'
}

func looksJSON(head []byte) bool {
	t := bytes.TrimLeft(head, " \t\r\n\xef\xbb\xbf")
	return len(t) > 0 && (t[0] == '{' || t[0] == '[') && utf8.Valid(trimIncompleteRune(head))
}

// isText: valid UTF-8 without control characters other than white
// space, so that binary formats that happen to be valid UTF-8 (a short
// protobuf) are not mistaken for prose.
func isText(head []byte) bool {
	h := trimIncompleteRune(head)
	if !utf8.Valid(h) {
		return false
	}
	for _, b := range h {
		if b < 0x20 && b != '\t' && b != '\n' && b != '\r' && b != '\f' && b != '\v' || b == 0x7f {
			return false
		}
	}
	return true
}

// trimIncompleteRune drops a rune cut by the end of the sniffed window.
func trimIncompleteRune(b []byte) []byte {
	for i := 0; i < 3 && len(b) > 0; i++ {
		if utf8.FullRune(b[max(0, len(b)-4):]) {
			break
		}
		b = b[:len(b)-1]
	}
	return b
}

func isPickleOpcode(b byte) bool {
	return bytes.IndexByte([]byte("(.012FIJKLMNPQRSTUVXabcdeghijlopqrstu}])G"), b) >= 0
}

func (s *scanner) scanSafetensors(f io.ReaderAt, size int64) bool {
	info, err := safetensors.Validate(f, size)
	var fe *safetensors.FormatError
	if errors.As(err, &fe) {
		code := "scan.safetensors.header"
		if strings.Contains(fe.Msg, "offsets") || strings.Contains(fe.Msg, "gap") || strings.Contains(fe.Msg, "cover") {
			code = "scan.safetensors.offsets"
		}
		return s.invalid(code, fe.Where, "%s", fe.Msg)
	}
	if err != nil {
		return s.invalid("scan.invalid.read", "", "%v", err)
	}
	for _, u := range info.Unknown {
		s.res.add(Finding{Severity: Low, Code: "scan.safetensors.unknown_field", Location: u,
			Message: "tensor info has a field the format does not define; loaders ignore it"})
	}
	if s.o.secrets() {
		for k, v := range info.Metadata {
			s.secretsIn(k+"="+v, "__metadata__."+k)
		}
	}
	return false
}

// scanCompressedPickle handles joblib's zlib/gzip compression: the
// pickle is walked while it is decompressed, under a size cap so that a
// compression bomb ends as invalid, not as an out-of-memory kill.
func (s *scanner) scanCompressedPickle(f io.ReaderAt, size int64, kind string) bool {
	sr := io.NewSectionReader(f, 0, size)
	var rc io.ReadCloser
	var err error
	if kind == "zlib" {
		rc, err = zlib.NewReader(sr)
	} else {
		rc, err = gzip.NewReader(sr)
	}
	if err != nil {
		if isText(headOf(f, size)) {
			s.res.Format = "text"
			s.scanTextSecrets(io.NewSectionReader(f, 0, size), "")
			return false
		}
		s.res.Format = kind
		return s.invalid("scan.invalid.compression", "", "%s stream: %v", kind, err)
	}
	defer rc.Close()
	s.res.Format = "joblib"
	limit := max(size*s.o.maxRatio(), 16<<20)
	lr := &capReader{r: rc, n: limit}
	br := bufio.NewReaderSize(lr, bufSize)
	res, err := pickle.Walk(br, 0, pickle.Options{Policy: s.o.policy()})
	s.addPickle(res.Findings, kind+" stream")
	if lr.hit {
		return s.invalid("scan.invalid.bomb", "", "%s stream expands past %d bytes (%d:1): a compression bomb", kind, limit, s.o.maxRatio())
	}
	if err != nil {
		return s.pickleErr(err, kind+" stream")
	}
	return false
}

func headOf(f io.ReaderAt, size int64) []byte {
	h := make([]byte, min(size, 4096))
	n, _ := f.ReadAt(h, 0)
	return h[:n]
}

// capReader fails once more than n bytes have been read.
type capReader struct {
	r   io.Reader
	n   int64
	hit bool
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.n <= 0 {
		c.hit = true
		return 0, fmt.Errorf("decompressed data exceeds the limit")
	}
	if int64(len(p)) > c.n {
		p = p[:c.n]
	}
	n, err := c.r.Read(p)
	c.n -= int64(n)
	return n, err
}

func (s *scanner) pickleErr(err error, prefix string) bool {
	var fe *pickle.FormatError
	if errors.As(err, &fe) {
		return s.invalid("scan.invalid.pickle", loc(prefix, fe.Offset), "malformed pickle: %s", fe.Msg)
	}
	return s.invalid("scan.invalid.read", prefix, "%v", err)
}
