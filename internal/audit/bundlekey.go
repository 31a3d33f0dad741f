package audit

import "crypto/ed25519"

// SigningKey is the trail's Ed25519 key, for the one other thing the
// server signs with it: registry bundles (internal/release/bundle), so
// that the audit.key.pub an operator already publishes verifies both.
func (t *Trail) SigningKey() ed25519.PrivateKey { return t.key }
