package oversight

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// secretPatterns are credentials that policies or agents might echo into
// a message; each match is replaced whole.
var secretPatterns = []*regexp.Regexp{
	regexp.MustCompile(`-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)`),
	regexp.MustCompile(`\b(AKIA|ASIA)[0-9A-Z]{16}\b`),
	regexp.MustCompile(`\bgh[pousr]_[A-Za-z0-9]{20,}\b`),
	regexp.MustCompile(`\bxox[abposr]-[A-Za-z0-9-]{10,}\b`),
	regexp.MustCompile(`\bsk-[A-Za-z0-9_-]{20,}\b`),
	regexp.MustCompile(`(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{8,}`),
	regexp.MustCompile(`(?i)\b(password|passwd|secret|token|api[_-]?key)\s*[=:]\s*[^\s,;"']+`),
}

func maskString(s string) string {
	if !mayHoldSecret(s) {
		return s
	}
	for _, re := range secretPatterns {
		if re.MatchString(s) {
			s = re.ReplaceAllString(s, "***")
		}
	}
	return s
}

// mayHoldSecret is a cheap test that every match of secretPatterns passes:
// each pattern needs a literal (case-insensitive for the last two, which
// also need '=' or ':' and "bearer" respectively). Seven regular
// expressions cost microseconds per string, and a decision has a dozen
// strings, almost never with a secret in them. Case-insensitive matching
// in Go folds a few non-ASCII letters onto ASCII ones (K, ſ), so a string
// with any non-ASCII byte always goes to the regular expressions.
func mayHoldSecret(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return true
		}
	}
	for _, lit := range []string{"-----BEGIN", "AKIA", "ASIA", "gh", "xox", "sk-"} {
		if strings.Contains(s, lit) {
			return true
		}
	}
	if containsFoldASCII(s, "bearer") {
		return true
	}
	if strings.ContainsAny(s, "=:") {
		for _, w := range []string{"password", "passwd", "secret", "token", "api"} {
			if containsFoldASCII(s, w) {
				return true
			}
		}
	}
	return false
}

// containsFoldASCII reports whether the ASCII string s contains the
// lower-case ASCII word w, ignoring case.
func containsFoldASCII(s, w string) bool {
	for i := 0; i+len(w) <= len(s); i++ {
		if s[i]|0x20 != w[0] {
			continue
		}
		j := 0
		for ; j < len(w); j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != w[j] {
				break
			}
		}
		if j == len(w) {
			return true
		}
	}
	return false
}

// engineString masks s only if it is not the shape the engine writes (hex
// digits, dashes and a "sha256:" prefix), which cannot hold a secret.
func engineString(s string) string {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || c == '-') {
			if strings.HasPrefix(s, "sha256:") && i < len("sha256:") {
				continue
			}
			return maskString(s)
		}
	}
	return s
}

// maskDecision is Mask for a Decision without the JSON round trip: it
// builds the same document Mask's decoding gives (json.Number for numbers,
// nil for nil slices, the time as encoding/json writes it) and masks its
// strings. ok is false when the round trip could change a string (invalid
// UTF-8 becomes U+FFFD) or fail (a time outside years 0-9999); the caller
// then takes the general path.
func maskDecision(d Decision) (map[string]any, bool) {
	ts, err := d.EvaluatedAt.MarshalJSON()
	if err != nil {
		return nil, false
	}
	at := string(ts[1 : len(ts)-1]) // RFC 3339, nothing to escape
	ok := true
	str := func(s string) any {
		if !utf8.ValidString(s) {
			ok = false
		}
		return maskString(s)
	}
	strs := func(ss []string) any {
		if ss == nil {
			return nil
		}
		out := make([]any, len(ss))
		for i, s := range ss {
			out[i] = str(s)
		}
		return out
	}
	var deny any
	if d.Deny != nil {
		list := make([]any, len(d.Deny))
		for i, r := range d.Deny {
			list[i] = map[string]any{"code": str(r.Code), "message": str(r.Message)}
		}
		deny = list
	}
	// id, policy_revision, input_digest and evaluated_at are the
	// engine's own (a UUID, two "sha256:<hex>", a time): nothing a policy
	// or an agent wrote, so nothing to mask, as long as they are what they
	// should be.
	if !utf8.ValidString(d.ID) || !utf8.ValidString(d.PolicyRevision) || !utf8.ValidString(d.InputDigest) {
		ok = false
	}
	m := map[string]any{
		"id":               engineString(d.ID),
		"allow":            d.Allow,
		"deny":             deny,
		"require_approval": d.RequireApproval,
		"approvers":        map[string]any{"groups": strs(d.Approvers.Groups), "min": jsonInt(d.Approvers.Min)},
		"risk":             str(d.Risk),
		"reasons":          strs(d.Reasons),
		"policy_revision":  engineString(d.PolicyRevision),
		"input_digest":     engineString(d.InputDigest),
		"evaluated_at":     at,
	}
	return m, ok
}
