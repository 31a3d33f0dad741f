package config

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Security configures artifact scanning (security agent).
type Security struct {
	Allow []string `yaml:"allow" json:"allow,omitempty"` // extra pickle globals allowed, exact "module.qualname" only; each is listed in the report
	Deny  []string `yaml:"deny" json:"deny,omitempty"`   // extra pickle globals graded critical, "module.name" or "module.*"
	// RequireSignature makes the agent verify an Ed25519 signature over
	// the artifact's manifest (modelgate sign) before anything else.
	RequireSignature bool   `yaml:"require_signature" json:"require_signature,omitempty"`
	PublicKey        string `yaml:"public_key" json:"public_key,omitempty"` // public key file; required with require_signature
	Signature        string `yaml:"signature" json:"signature,omitempty"`   // signature file; default <artifact>.sig
	// MaxSize caps the whole artifact (all files of a folder); 0 means no cap.
	MaxSize             ByteSize `yaml:"max_size" json:"max_size,omitempty"`
	AllowUnknownFormats bool     `yaml:"allow_unknown_formats" json:"allow_unknown_formats,omitempty"`
	MaxArchiveMembers   int      `yaml:"max_archive_members" json:"max_archive_members,omitempty"` // default 5000
	Secrets             *bool    `yaml:"secrets" json:"secrets,omitempty"`                         // look for credentials in configs and metadata; default true
}

// ScanSecrets reports whether the secret scan is on.
func (c *Security) ScanSecrets() bool { return c.Secrets == nil || *c.Secrets }

func (c *Security) setDefaults() {
	if c.MaxArchiveMembers == 0 {
		c.MaxArchiveMembers = 5000
	}
}

func (c *Security) validate(v *validator) {
	for i, e := range c.Allow {
		if msg := globalEntryProblem(e); msg != "" {
			v.add(fmt.Sprintf("security.allow[%d]", i), msg)
		} else if strings.Contains(e, "*") {
			v.add(fmt.Sprintf("security.allow[%d]", i), fmt.Sprintf("%q: allowlist extensions are exact names (mypkg.models.Ranker); a wildcard would also allow what the module re-exports", e))
		}
	}
	for i, e := range c.Deny {
		if msg := globalEntryProblem(e); msg != "" {
			v.add(fmt.Sprintf("security.deny[%d]", i), msg)
		}
	}
	if c.RequireSignature && c.PublicKey == "" {
		v.add("security.public_key", "is required when require_signature is true (a file written by modelgate sign keygen)")
	}
	if c.MaxSize < 0 {
		v.add("security.max_size", "must not be negative")
	}
	if c.MaxArchiveMembers < 0 || c.MaxArchiveMembers > 10_000_000 {
		v.add("security.max_archive_members", "must be between 1 and 10000000")
	}
}

// globalEntryProblem checks an allow/deny entry; the scan package has the
// same rule, repeated here so that config stays free of tool imports.
func globalEntryProblem(e string) string {
	if strings.ContainsAny(e, " \t\n/\\") {
		return fmt.Sprintf("%q: want module.name or module.*, without spaces or slashes", e)
	}
	i := strings.LastIndexByte(e, '.')
	if i <= 0 || i == len(e)-1 {
		return fmt.Sprintf("%q: want module.name or module.* (e.g. mypkg.MyModel, mypkg.*)", e)
	}
	return ""
}

// ByteSize is a size in bytes, written as 1048576, "500MB" or "2GiB".
type ByteSize int64

var byteUnits = []struct {
	suffix string
	mult   float64
}{
	{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30}, {"TIB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40}, {"B", 1},
}

// ParseByteSize reads "2GB" (decimal), "2GiB" (binary), "2G" (binary,
// as du and sort write it) or a plain number of bytes.
func ParseByteSize(s string) (ByteSize, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	mult := 1.0
	for _, u := range byteUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) || f*mult > math.MaxInt64 {
		return 0, fmt.Errorf("%q is not a size (want e.g. 500MB, 2GiB or a number of bytes)", s)
	}
	return ByteSize(f * mult), nil
}

// UnmarshalYAML accepts a number of bytes or a string with a unit.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d column %d: want a size such as 500MB or 2GiB", n.Line, n.Column)
	}
	v, err := ParseByteSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d column %d: %w", n.Line, n.Column, err)
	}
	*b = v
	return nil
}

// MarshalJSON writes the number of bytes.
func (b ByteSize) MarshalJSON() ([]byte, error) { return json.Marshal(int64(b)) }

// UnmarshalJSON accepts a number of bytes or a string with a unit.
func (b *ByteSize) UnmarshalJSON(data []byte) error {
	var n int64
	if err := json.Unmarshal(data, &n); err == nil {
		*b = ByteSize(n)
		return nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("want a size: %w", err)
	}
	v, err := ParseByteSize(s)
	if err != nil {
		return err
	}
	*b = v
	return nil
}
