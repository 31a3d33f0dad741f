package ui

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/modelgate/modelgate/internal/auth"
)

// session is what the signed cookie carries. The signature makes it
// unforgeable, but a signed cookie alone cannot be taken back; so every
// request also checks, server-side, that the session was not ended (ID,
// logout), that it belongs to the current epoch (Epoch, "sign everyone
// out"), and that its subject still has a token, whose current roles and
// groups replace the ones copied at sign-in. CSRF is the per-session
// secret every form must echo.
type session struct {
	ID      string    `json:"id"`
	Epoch   int64     `json:"epoch"`
	Subject string    `json:"sub"`
	Roles   []string  `json:"roles,omitempty"`
	Groups  []string  `json:"groups,omitempty"`
	CSRF    string    `json:"csrf"`
	Expires time.Time `json:"exp"`
}

func (s session) principal() auth.Principal {
	return auth.Principal{Subject: s.Subject, Roles: s.Roles, Groups: s.Groups}
}

// maxCookie bounds what we are willing to decode; browsers cap cookies at
// about 4 KiB anyway.
const maxCookie = 4096

var errBadSession = errors.New("invalid session cookie")

// encodeSession returns base64url(payload) "." base64url(HMAC-SHA256(key, payload)).
func encodeSession(key []byte, s session) (string, error) {
	payload, err := json.Marshal(s)
	if err != nil {
		return "", fmt.Errorf("encode session: %w", err)
	}
	p := base64.RawURLEncoding.EncodeToString(payload)
	return p + "." + sign(key, p), nil
}

func sign(key []byte, p string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("modelgate-ui-session\x00"))
	m.Write([]byte(p))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// decodeSession verifies the signature before looking at the payload, and
// refuses expired or malformed sessions.
func decodeSession(key []byte, v string, now time.Time) (session, error) {
	if len(v) > maxCookie {
		return session{}, errBadSession
	}
	p, mac, ok := strings.Cut(v, ".")
	if !ok || p == "" || mac == "" {
		return session{}, errBadSession
	}
	want := sign(key, p)
	if subtle.ConstantTimeCompare([]byte(mac), []byte(want)) != 1 {
		return session{}, errBadSession
	}
	payload, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return session{}, errBadSession
	}
	var s session
	if err := json.Unmarshal(payload, &s); err != nil {
		return session{}, errBadSession
	}
	if s.Subject == "" || len(s.ID) < 32 || len(s.CSRF) < 32 || !now.Before(s.Expires) {
		return session{}, errBadSession
	}
	return s, nil
}

func randomToken() string {
	b := make([]byte, 24)
	// Since Go 1.24 crypto/rand.Read never returns an error (it aborts
	// the program instead), so there is nothing to handle here.
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// sameToken compares CSRF tokens in constant time; empty never matches.
func sameToken(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
