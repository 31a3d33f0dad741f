package scan

import (
	"archive/zip"
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
	"strings"
	"unicode"

	"github.com/modelgate/modelgate/tools/scan/pickle"
)

// torchMagic is the first pickle of PyTorch's legacy (pre-1.6) format.
var torchMagic, _ = new(big.Int).SetString("1950a86a20f9469cfc6c", 16)

// maxStreamPickles bounds how many concatenated pickles a file may hold.
const maxStreamPickles = 16

func (s *scanner) walkOpts() pickle.Options { return pickle.Options{Policy: s.o.policy()} }

func (s *scanner) scanPickleFile(f io.ReaderAt, size int64) bool {
	br := bufio.NewReaderSize(io.NewSectionReader(f, 0, size), bufFor(size))
	s.res.Format = "pickle"
	res, err := pickle.Walk(br, 0, s.walkOpts())
	s.addPickle(res.Findings, "")
	if err != nil {
		return s.pickleErr(err, "")
	}
	if res.Joblib {
		s.res.Format = "joblib"
	}
	if res.TopInt != nil && res.TopInt.Cmp(torchMagic) == 0 {
		return s.scanTorchLegacy(br, res.End, size)
	}
	if done, inv := s.polyglot(f, res.End, size); done {
		return inv
	}
	return s.trailing(br, res.End, size, "")
}

// polyglot scans a zip that follows a pickle. numpy.load and
// pickle.load read the pickle at the front; zipfile, and so torch.load
// and np.load of an .npz, find the zip from the end of the file and
// ignore what precedes it. Both are scanned and both verdicts count.
func (s *scanner) polyglot(f io.ReaderAt, end, size int64) (done, invalid bool) {
	if end >= size {
		return false, false
	}
	if _, err := zip.NewReader(f, size); err != nil {
		return false, false
	}
	first := s.res.Format
	s.res.add(Finding{Severity: Medium, Code: "scan.polyglot", Location: loc("", end),
		Message: fmt.Sprintf("a %s is followed by a zip archive: pickle loaders read the first, zip-based loaders (torch.load, numpy.load of .npz) the second; both were scanned", first)})
	inv := s.scanZip(f, size, "", 0)
	s.res.Format = first + "+" + s.res.Format
	return true, inv
}

// scanTorchLegacy walks the four pickles after the magic number
// (protocol version, system info, the object, the storage keys); what
// follows is raw storage data.
func (s *scanner) scanTorchLegacy(br *bufio.Reader, off, size int64) bool {
	s.res.Format = "pytorch-legacy"
	for i := 0; i < 4; i++ {
		res, err := pickle.Walk(br, off, s.walkOpts())
		s.addPickle(res.Findings, "")
		if err != nil {
			return s.pickleErr(err, fmt.Sprintf("legacy torch pickle %d", i+2))
		}
		off = res.End
	}
	return false
}

// trailing looks at bytes after STOP. pickle.load ignores them, but a
// loader that reads several pickles from one file (legacy torch, joblib,
// custom code) runs the next one: a benign first pickle can hide a
// malicious second.
func (s *scanner) trailing(br *bufio.Reader, off, size int64, prefix string) bool {
	for n := 0; off < size; n++ {
		b, err := br.Peek(1)
		if err != nil {
			return false
		}
		if b[0] != 0x80 || n >= maxStreamPickles {
			s.res.add(Finding{Severity: Medium, Code: "scan.pickle.trailing", Location: loc(prefix, off),
				Message: fmt.Sprintf("%d bytes after the pickle's STOP; pickle.load ignores them, other loaders may not", size-off)})
			return false
		}
		res, err := pickle.Walk(br, off, s.walkOpts())
		s.addPickle(res.Findings, prefix)
		if err != nil {
			var fe *pickle.FormatError
			if errors.As(err, &fe) {
				s.res.add(Finding{Severity: Medium, Code: "scan.pickle.trailing", Location: loc(prefix, off),
					Message: fmt.Sprintf("%d bytes after the pickle's STOP that start like a pickle but are malformed: %s", size-off, fe.Msg)})
				return false
			}
			return s.pickleErr(err, prefix)
		}
		s.res.add(Finding{Severity: Medium, Code: "scan.pickle.trailing", Location: loc(prefix, off),
			Message: "a second pickle follows the first; loaders that read several pickles run it"})
		off = res.End
	}
	return false
}

// tryPickleP0 decides whether a file without PROTO is a protocol 0/1
// pickle. done is false when the file is better read as text.
func (s *scanner) tryPickleP0(f io.ReaderAt, size int64, head []byte) (done, invalid bool) {
	br := bufio.NewReaderSize(io.NewSectionReader(f, 0, size), bufFor(size))
	res, err := pickle.Walk(br, 0, s.walkOpts())
	if err != nil && isText(head) && !slices.ContainsFunc(res.Findings, pythonImport) {
		// prose or CSV that starts with an opcode letter ("cat\n…" reads
		// as GLOBAL) and does not parse as a pickle
		return false, false
	}
	s.res.Format = "pickle"
	s.addPickle(res.Findings, "")
	if err != nil {
		return true, s.pickleErr(err, "")
	}
	if done, inv := s.polyglot(f, res.End, size); done {
		return true, inv
	}
	return true, s.trailing(br, res.End, size, "")
}

// pythonImport: the finding names a module and attribute that Python
// could import (dotted identifiers), not text that merely parsed as one.
func pythonImport(f pickle.Finding) bool {
	return f.Code == "scan.pickle.global" && dottedIdent(f.Module) && dottedIdent(f.Name)
}

func dottedIdent(s string) bool {
	for _, part := range strings.Split(s, ".") {
		if part == "" {
			return false
		}
		for i, r := range part {
			if !(r == '_' || unicode.IsLetter(r) || i > 0 && unicode.IsDigit(r)) {
				return false
			}
		}
	}
	return true
}

// scanPickleReader walks an in-archive pickle member of known size.
func (s *scanner) scanPickleReader(r io.Reader, size int64, prefix string, strict bool) (ok, invalid bool) {
	br := bufio.NewReaderSize(r, 64<<10)
	res, err := pickle.Walk(br, 0, s.walkOpts())
	if err != nil && !strict {
		// a data member that merely starts like a pickle: only findings
		// from a complete walk count, and critical imports of real
		// Python names (a payload cut short still runs its REDUCE)
		var fe *pickle.FormatError
		if errors.As(err, &fe) {
			var keep []pickle.Finding
			for _, f := range res.Findings {
				if f.Severity == pickle.Critical && pythonImport(f) {
					keep = append(keep, f)
				}
			}
			s.addPickle(keep, prefix)
			return false, false
		}
	}
	s.addPickle(res.Findings, prefix)
	if err != nil {
		return true, s.pickleErr(err, prefix)
	}
	if res.TopInt != nil && res.TopInt.Cmp(torchMagic) == 0 {
		return true, s.scanTorchLegacy(br, res.End, size)
	}
	return true, s.trailing(br, res.End, size, prefix)
}
