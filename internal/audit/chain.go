package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/modelgate/modelgate/internal/store"
)

// Hash is a chain head or leaf: 32 bytes of SHA-256.
type Hash [sha256.Size]byte

// String is the lowercase hex form stored in AuditEntry.Hash.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// ParseHash decodes a hex hash.
func ParseHash(s string) (Hash, error) {
	var h Hash
	if len(s) != 2*len(h) {
		return h, fmt.Errorf("hash %q is not %d hex digits", s, 2*len(h))
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, fmt.Errorf("hash %q: %w", s, err)
	}
	return h, nil
}

// Link is h_i = SHA-256(0x01 || h_{i-1} || leaf_i).
func Link(prev, leaf Hash) Hash {
	var buf [1 + 2*sha256.Size]byte
	buf[0] = 0x01
	copy(buf[1:], prev[:])
	copy(buf[1+sha256.Size:], leaf[:])
	return sha256.Sum256(buf[:])
}

// Chainer computes successive chain heads, reusing one buffer.
type Chainer struct {
	buf []byte
}

// Next returns the chain head after e given the previous head (the zero
// Hash before seq 1).
func (c *Chainer) Next(prev Hash, e store.AuditEntry) (Hash, error) {
	// The leaf is SHA-256(0x00 || canonical entry): the domain-separation
	// byte keeps a leaf from ever being mistaken for a chain node (RFC 6962
	// does the same). It goes in the same buffer so that one Sum256 hashes
	// it without allocating a digest.
	var err error
	c.buf, err = AppendEntryCanonical(append(c.buf[:0], 0x00), e)
	if err != nil {
		return Hash{}, err
	}
	return Link(prev, sha256.Sum256(c.buf)), nil
}
