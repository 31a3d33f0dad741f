// Package redact masks credentials in text before it is stored or shown:
// audit records, run logs, events and error messages.
package redact

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
	regexp.MustCompile(`\bmg_[0-9a-f]{16,}\b`), // modelgate's own API tokens
	regexp.MustCompile(`(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{8,}`),
	regexp.MustCompile(`(?i)\b(password|passwd|secret|token|api[_-]?key)\s*[=:]\s*[^\s,;"']+`),
}

// String replaces every credential-looking part of s with "***".
func String(s string) string {
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
// also need '=' or ':' and "bearer" respectively). Eight regular
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
	for _, lit := range []string{"-----BEGIN", "AKIA", "ASIA", "gh", "xox", "sk-", "mg_"} {
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
