package oversight

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/modelgate/modelgate/internal/pipeline"
)

// InputDigest is "sha256:" and the hex SHA-256 of the input's JSON
// encoding, exactly as encoding/json's Marshal writes it. It fails, as
// Marshal does, on a value JSON cannot hold (NaN or an infinite metric,
// malformed details).
//
// The encoder is written out for Input's fixed shape because the digest
// is taken for every decision and json.Marshal, driven by reflection, cost
// a third of the whole decision; TestInputDigestMatchesMarshal and
// FuzzInputDigest hold it to Marshal's bytes. The free-form parts
// (evidence, artifacts, details) still go through Marshal.
func InputDigest(in Input) (string, error) {
	bp := digestBufs.Get().(*[]byte)
	defer digestBufs.Put(bp)
	buf, err := appendInputJSON((*bp)[:0], in)
	*bp = buf
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(buf)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

var digestBufs = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// appendInputJSON appends json.Marshal(in) to b.
func appendInputJSON(b []byte, in Input) ([]byte, error) {
	var err error
	b = append(b, `{"run":{"id":`...)
	b = appendJSONString(b, in.Run.ID)
	b = append(b, `,"trigger":`...)
	b = appendJSONString(b, in.Run.Trigger)
	if in.Run.CommitAuthor != "" {
		b = append(b, `,"commit_author":`...)
		b = appendJSONString(b, in.Run.CommitAuthor)
	}
	if len(in.Run.Labels) > 0 {
		b = append(b, `,"labels":`...)
		b, _ = appendJSONMap(b, in.Run.Labels, func(b []byte, v string) ([]byte, error) { return appendJSONString(b, v), nil })
	}
	b = append(b, `},"model":`...)
	b = appendJSONString(b, in.Model)
	b = append(b, `,"environment":`...)
	b = appendJSONString(b, in.Environment)
	b = append(b, `,"task":`...)
	b = appendJSONString(b, in.Task)
	b = append(b, `,"candidate":{`...)
	first := true
	for _, f := range [...]struct{ k, v string }{
		{"version", in.Candidate.Version}, {"artifact_path", in.Candidate.ArtifactPath},
		{"digest", in.Candidate.Digest}, {"endpoint", in.Candidate.Endpoint},
	} {
		if f.v == "" {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendJSONString(b, f.k)
		b = append(b, ':')
		b = appendJSONString(b, f.v)
	}
	b = append(b, `},"production":`...)
	if p := in.Production; p == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, `{"version":`...)
		b = appendJSONString(b, p.Version)
		for _, f := range [...]struct{ k, v string }{
			{"artifact_path", p.ArtifactPath}, {"digest", p.Digest}, {"endpoint", p.Endpoint},
		} {
			if f.v != "" {
				b = append(b, ',')
				b = appendJSONString(b, f.k)
				b = append(b, ':')
				b = appendJSONString(b, f.v)
			}
		}
		b = append(b, '}')
	}
	b = append(b, `,"reports":`...)
	if in.Reports == nil {
		b = append(b, "null"...)
	} else if b, err = appendJSONMap(b, in.Reports, appendReportJSON); err != nil {
		return b, fmt.Errorf("reports%w", err)
	}
	b = append(b, `,"deploy":{"strategy":`...)
	b = appendJSONString(b, in.Deploy.Strategy)
	b = append(b, `,"max_traffic_share":`...)
	if b, err = appendJSONFloat(b, in.Deploy.MaxTrafficShare); err != nil {
		return b, fmt.Errorf("deploy.max_traffic_share: %w", err)
	}
	b = append(b, `,"shadow":`...)
	b = strconv.AppendBool(b, in.Deploy.Shadow)
	b = append(b, `,"upstream":`...)
	b = strconv.AppendBool(b, in.Deploy.Upstream)
	b = append(b, `,"unverified":`...)
	b = strconv.AppendBool(b, in.Deploy.Unverified)
	if in.Deploy.RegistryOnly {
		b = append(b, `,"registry_only":true`...)
	}
	b = append(b, `},"requester":{"subject":`...)
	b = appendJSONString(b, in.Requester.Subject)
	if len(in.Requester.Roles) > 0 {
		b = append(b, `,"roles":`...)
		b = appendJSONStrings(b, in.Requester.Roles)
	}
	if len(in.Requester.Groups) > 0 {
		b = append(b, `,"groups":`...)
		b = appendJSONStrings(b, in.Requester.Groups)
	}
	b = append(b, "}}"...)
	return b, nil
}

func appendReportJSON(b []byte, r pipeline.Report) ([]byte, error) {
	var err error
	b = append(b, `{"agent":`...)
	b = appendJSONString(b, r.Agent)
	if r.Stage != "" {
		b = append(b, `,"stage":`...)
		b = appendJSONString(b, r.Stage)
	}
	b = append(b, `,"verdict":`...)
	b = appendJSONString(b, string(r.Verdict))
	b = append(b, `,"metrics":`...)
	if r.Metrics == nil {
		b = append(b, "null"...)
	} else if b, err = appendJSONMap(b, r.Metrics, appendJSONFloat); err != nil {
		return b, fmt.Errorf("metrics%w", err)
	}
	b = append(b, `,"findings":`...)
	if r.Findings == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, f := range r.Findings {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"id":`...)
			b = appendJSONString(b, f.ID)
			b = append(b, `,"severity":`...)
			b = appendJSONString(b, string(f.Severity))
			b = append(b, `,"code":`...)
			b = appendJSONString(b, f.Code)
			b = append(b, `,"message":`...)
			b = appendJSONString(b, f.Message)
			if f.Subject != "" {
				b = append(b, `,"subject":`...)
				b = appendJSONString(b, f.Subject)
			}
			if len(f.Evidence) > 0 {
				b = append(b, `,"evidence":`...)
				if b, err = appendMarshal(b, f.Evidence); err != nil {
					return b, fmt.Errorf("findings[%d].evidence: %w", i, err)
				}
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"summary":`...)
	b = appendJSONString(b, r.Summary)
	if len(r.Artifacts) > 0 {
		b = append(b, `,"artifacts":`...)
		if b, err = appendMarshal(b, r.Artifacts); err != nil {
			return b, fmt.Errorf("artifacts: %w", err)
		}
	}
	if len(r.Details) > 0 {
		b = append(b, `,"details":`...)
		if b, err = appendMarshal(b, r.Details); err != nil {
			return b, fmt.Errorf("details: %w", err)
		}
	}
	return append(b, '}'), nil
}

func appendMarshal(b []byte, v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return b, err
	}
	return append(b, raw...), nil
}

// appendJSONMap writes m as encoding/json writes a map with string keys:
// keys sorted, each value written by value. An error names the key.
func appendJSONMap[V any](b []byte, m map[string]V, value func([]byte, V) ([]byte, error)) ([]byte, error) {
	b = append(b, '{')
	// Sized up front: slices.Sorted(maps.Keys(m)) grows its slice as it
	// goes, 23 more allocations per decision over the benchmark's input.
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		var err error
		if b, err = value(b, m[k]); err != nil {
			return b, fmt.Errorf("[%q]: %w", k, err)
		}
	}
	return append(b, '}'), nil
}

func appendJSONStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

// appendJSONFloat writes f as encoding/json writes a float64: the shortest
// representation, in exponent form below 1e-6 and from 1e21 on, with the
// exponent's leading zero dropped.
func appendJSONFloat(b []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return b, fmt.Errorf("json: unsupported value: %s", strconv.FormatFloat(f, 'g', -1, 64))
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 -> e-9
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}

const hexDigits = "0123456789abcdef"

// appendJSONString writes s as encoding/json does by default: HTML
// characters, control characters, U+2028 and U+2029 escaped, invalid UTF-8
// replaced by U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
