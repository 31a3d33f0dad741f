package scan

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"io/fs"
	"path"
	"strings"
)

// maxTotalUncompressed bounds what an archive may claim to expand to.
const maxTotalUncompressed = 1 << 40

// maxTextMember bounds how much of a text member is read for secrets and
// configuration checks.
const maxTextMember = 64 << 20

// ScanArchive scans a zip archive read from r (exported for fuzzing and
// for callers that hold archives in memory). It never writes to disk.
func ScanArchive(r io.ReaderAt, size int64, o Options) Result {
	res := Result{Findings: []Finding{}}
	s := &scanner{ctx: nil, o: o, res: &res}
	invalid := s.scanZip(r, size, "", 0)
	res.Verdict = verdict(res.Findings, invalid)
	return res
}

func (s *scanner) scanZip(r io.ReaderAt, size int64, prefix string, depth int) bool {
	s.res.Format = "zip"
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return s.invalid("scan.invalid.archive", prefix, "not a readable zip archive: %v", err)
	}
	if len(zr.File) > s.o.maxMembers() {
		return s.invalid("scan.invalid.archive", prefix, "archive has %d members, over the limit of %d (a zip bomb's count, not a model's)", len(zr.File), s.o.maxMembers())
	}
	var total uint64
	names := map[string]bool{}
	kind := classifyZip(zr)
	s.res.Format = kind
	for _, m := range zr.File {
		if total+m.UncompressedSize64 < total {
			return s.invalid("scan.invalid.bomb", prefix, "member sizes overflow")
		}
		total += m.UncompressedSize64
		where := strings.TrimPrefix(prefix+"/"+m.Name, "/")
		if bad := zipSlip(m.Name); bad != "" {
			s.res.add(Finding{Severity: High, Code: "scan.archive.path", Location: where,
				Message: "member path " + bad + "; extracting it writes outside the target folder"})
		}
		if m.Mode()&fs.ModeSymlink != 0 {
			s.res.add(Finding{Severity: High, Code: "scan.archive.symlink", Location: where,
				Message: "member is a symbolic link; extracting it can point anywhere on the machine"})
		}
		if names[m.Name] {
			s.res.add(Finding{Severity: High, Code: "scan.archive.duplicate", Location: where,
				Message: "member name appears twice; tools disagree on which copy they read"})
		}
		names[m.Name] = true
		if m.UncompressedSize64 > 1<<20 && m.CompressedSize64 > 0 && m.UncompressedSize64/m.CompressedSize64 > uint64(s.o.maxRatio()) {
			return s.invalid("scan.invalid.bomb", where, "member expands %d:1 (%d bytes from %d), over the limit of %d:1", m.UncompressedSize64/m.CompressedSize64, m.UncompressedSize64, m.CompressedSize64, s.o.maxRatio())
		}
		if m.UncompressedSize64 > 1<<20 && m.CompressedSize64 == 0 && m.Method != zip.Store {
			return s.invalid("scan.invalid.bomb", where, "member claims %d bytes from 0 compressed bytes", m.UncompressedSize64)
		}
	}
	// The whole archive may not expand beyond the ratio either: many
	// members each just under the per-member check add up to a bomb.
	if capTotal := uint64(max(size*s.o.maxRatio(), 64<<20)); total > maxTotalUncompressed || total > capTotal && total > uint64(size) {
		return s.invalid("scan.invalid.bomb", prefix, "archive members expand to %d bytes from a %d-byte archive, over the %d:1 limit", total, size, s.o.maxRatio())
	}
	torchScript := false
	for _, m := range zr.File {
		if strings.Contains(m.Name, "/code/__torch__") || path.Base(m.Name) == "constants.pkl" {
			torchScript = true
		}
	}
	if torchScript {
		// TorchScript's unpickler resolves these to compiled TorchScript
		s.o.Policy = s.o.policy().WithTrusted("__torch__", "torch.jit._pickle")
	}
	for _, m := range zr.File {
		if s.ctx != nil && s.ctx.Err() != nil {
			return false
		}
		if zipDir(m) {
			continue
		}
		where := strings.TrimPrefix(prefix+"/"+m.Name, "/")
		if inv := s.scanMember(m, where, kind, depth); inv {
			return true
		}
	}
	if torchScript {
		s.res.add(Finding{Severity: Medium, Code: "scan.torch.torchscript", Location: prefix,
			Message: "TorchScript archive: its code/ folder is compiled and run by torch.jit.load"})
	}
	return false
}

func zipSlip(name string) string {
	switch {
	case strings.HasPrefix(name, "/") || strings.HasPrefix(name, "\\"):
		return "is absolute"
	case len(name) > 1 && name[1] == ':':
		return "has a drive letter"
	case strings.Contains(name, "\\"):
		return "contains a backslash"
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == ".." {
			return "contains '..'"
		}
	}
	return ""
}

// classifyZip names the archive by its members, never by the file name:
// a PyTorch checkpoint has a data.pkl in one top folder whatever that
// folder is called.
func classifyZip(zr *zip.Reader) string {
	npy, config, keras, pkl := 0, false, false, false
	for _, m := range zr.File {
		base := path.Base(strings.TrimSuffix(m.Name, "/"))
		switch {
		case base == "data.pkl" || strings.HasSuffix(m.Name, ".pkl"):
			pkl = true
		case strings.HasSuffix(m.Name, ".npy"):
			npy++
		case m.Name == "config.json":
			config = true
		case m.Name == "metadata.json" || m.Name == "model.weights.h5":
			keras = true
		}
	}
	switch {
	case pkl:
		return "pytorch"
	case config && keras:
		return "keras"
	case npy > 0 && npy == len(zr.File):
		return "numpy-npz"
	}
	return "zip"
}

func (s *scanner) scanMember(m *zip.File, where, kind string, depth int) bool {
	rc, err := openMember(m)
	if err != nil {
		return s.invalid("scan.invalid.archive", where, "cannot open member: %v", err)
	}
	defer rc.Close()
	// archive/zip checks the CRC and the declared size at the end; the
	// cap stops a member that lies about its size before that.
	lr := &capReader{r: rc, n: int64(m.UncompressedSize64) + 1}
	head := make([]byte, 8)
	n, _ := io.ReadFull(lr, head)
	head = head[:n]
	body := io.MultiReader(bytes.NewReader(head), lr)
	name := strings.TrimSuffix(m.Name, "/")
	switch {
	case bytes.HasPrefix(head, magicZip) || bytes.HasPrefix(head, magicZipEmpty):
		return s.invalid("scan.invalid.nested_archive", where, "archive inside an archive: nested archives are not scanned (a classic zip-bomb shape)")
	case strings.HasSuffix(name, ".pkl"):
		_, inv := s.scanPickleReader(body, int64(m.UncompressedSize64), where, true)
		return inv
	case bytes.HasPrefix(head, magicNpy):
		return s.scanNpy(bufioReader(body), int64(m.UncompressedSize64), where)
	case len(head) >= 2 && head[0] == 0x80 && head[1] <= 5:
		// a member that is a pickle by content but not by name: torch
		// storages are raw numbers and can start like this by chance
		_, inv := s.scanPickleReader(body, int64(m.UncompressedSize64), where, false)
		return inv
	case len(head) > 0 && isPickleOpcode(head[0]) && !isTextName(name):
		// protocol 0/1 pickles have no PROTO: a loader that unpickles the
		// member does not care what it is called. Streamed: raw tensor
		// storages start with such a byte by chance and are large.
		_, inv := s.scanPickleReader(body, int64(m.UncompressedSize64), where, false)
		if inv {
			return true
		}
	case len(head) > 0 && isPickleOpcode(head[0]) && m.UncompressedSize64 <= maxTextMember:
		// a text member that may be a protocol 0 pickle: kept in memory
		// for the secret scan too
		data, err := io.ReadAll(body)
		if err != nil {
			return s.memberErr(lr, where, m, err)
		}
		if _, inv := s.scanPickleReader(bytes.NewReader(data), int64(len(data)), where, false); inv {
			return true
		}
		if isTextName(name) && s.o.secrets() {
			s.secretsInText(data, where)
		}
		return false
	case isTextName(name):
		if m.UncompressedSize64 > maxTextMember {
			s.res.add(Finding{Severity: Low, Code: "scan.archive.large_text", Location: where,
				Message: fmt.Sprintf("text member of %d bytes: only the first %d checked for secrets", m.UncompressedSize64, maxTextMember)})
		}
		data, err := io.ReadAll(io.LimitReader(body, maxTextMember))
		if err != nil {
			return s.invalid("scan.invalid.archive", where, "read member: %v", err)
		}
		if kind == "keras" && name == "config.json" {
			s.kerasConfig(data, where)
		}
		if s.o.secrets() {
			s.secretsInText(data, where)
		}
	}
	// drain so that archive/zip verifies the CRC-32 of every member
	if _, err := io.Copy(io.Discard, lr); err != nil {
		return s.memberErr(lr, where, m, err)
	}
	return false
}

func (s *scanner) memberErr(lr *capReader, where string, m *zip.File, err error) bool {
	if lr.hit {
		return s.invalid("scan.invalid.bomb", where, "member expands past its declared size of %d bytes", m.UncompressedSize64)
	}
	return s.invalid("scan.invalid.archive", where, "member is corrupt: %v", err)
}

// zipDir reports whether a member is a folder the way Python's zipfile
// (and so numpy.load and torch.load) sees it: a name ending in "/" and no
// data. Mode bits do not count: zipfile opens a member whose external
// attributes say "directory" as a file, so a payload can hide there.
func zipDir(m *zip.File) bool {
	return strings.HasSuffix(m.Name, "/") && m.UncompressedSize64 == 0 && m.CompressedSize64 == 0
}

func isTextName(n string) bool {
	for _, ext := range []string{".json", ".yaml", ".yml", ".txt", ".cfg", ".ini", ".toml", ".env", ".md", ".py", ".jinja"} {
		if strings.HasSuffix(strings.ToLower(n), ext) {
			return true
		}
	}
	return false
}

// kerasConfig flags Lambda layers: their config carries marshalled
// Python bytecode that Keras runs when safe_mode is off.
func (s *scanner) kerasConfig(data []byte, where string) {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		s.res.add(Finding{Severity: Medium, Code: "scan.keras.config", Location: where, Message: "config.json is not valid JSON: " + err.Error()})
		return
	}
	var walk func(v any, depth int)
	walk = func(v any, depth int) {
		if depth > 200 {
			return
		}
		switch t := v.(type) {
		case map[string]any:
			cls, _ := t["class_name"].(string)
			layer := ""
			if c, ok := t["config"].(map[string]any); ok {
				layer, _ = c["name"].(string)
			}
			switch cls {
			case "Lambda", "__lambda__", "TFOpLambda":
				s.res.add(Finding{Severity: High, Code: "scan.keras.lambda", Location: where + " layer " + layer,
					Message: fmt.Sprintf("Keras %s layer: it carries Python code that runs when the model is loaded without safe_mode", cls)})
			}
			if mod, ok := t["module"].(string); ok && cls != "" && !strings.HasPrefix(mod, "keras") && mod != "builtins" {
				s.res.add(Finding{Severity: Medium, Code: "scan.keras.custom_object", Location: where + " " + cls,
					Message: fmt.Sprintf("custom object %s from module %s: loading imports that module", cls, mod)})
			}
			for _, c := range t {
				walk(c, depth+1)
			}
		case []any:
			for _, c := range t {
				walk(c, depth+1)
			}
		}
	}
	walk(v, 0)
}

// openMember opens a member's data. archive/zip refuses data in a member
// whose name ends in "/", but Python's zipfile reads it, so such a member
// is read raw and decompressed here, with its CRC-32 checked at the end.
func openMember(m *zip.File) (io.ReadCloser, error) {
	if !strings.HasSuffix(m.Name, "/") {
		return m.Open()
	}
	raw, err := m.OpenRaw()
	if err != nil {
		return nil, err
	}
	var r io.ReadCloser
	switch m.Method {
	case zip.Store:
		r = io.NopCloser(raw)
	case zip.Deflate:
		r = flate.NewReader(raw)
	default:
		return nil, fmt.Errorf("compression method %d of a member named like a folder is not supported", m.Method)
	}
	return &crcReader{r: r, want: m.CRC32, h: crc32.NewIEEE()}, nil
}

// crcReader fails at EOF when the data does not match the member's CRC-32.
type crcReader struct {
	r    io.ReadCloser
	want uint32
	h    hash.Hash32
}

func (c *crcReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.h.Write(p[:n])
	if errors.Is(err, io.EOF) && c.h.Sum32() != c.want {
		return n, zip.ErrChecksum
	}
	return n, err
}

func (c *crcReader) Close() error { return c.r.Close() }
