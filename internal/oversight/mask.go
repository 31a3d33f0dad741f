package oversight

import (
	"strings"
	"unicode/utf8"

	"github.com/modelgate/modelgate/tools/redact"
)

// engineString masks s only if it is not the shape the engine writes (hex
// digits, dashes and a "sha256:" prefix), which cannot hold a secret.
func engineString(s string) string {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || c == '-') {
			if strings.HasPrefix(s, "sha256:") && i < len("sha256:") {
				continue
			}
			return redact.String(s)
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
		return redact.String(s)
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
