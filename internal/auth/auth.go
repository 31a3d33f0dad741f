package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"gopkg.in/yaml.v3"
)

// Principal is who is acting: a token's or a session's subject, with the
// roles and groups the identities file gives it. The authz policy decides
// what it may do.
type Principal struct {
	Subject string   `json:"subject"`
	Roles   []string `json:"roles,omitempty"`
	Groups  []string `json:"groups,omitempty"`
}

// Token is one configured credential.
type Token struct {
	Token  string   `yaml:"token,omitempty"`  // the secret itself, or
	SHA256 string   `yaml:"sha256,omitempty"` // its hex SHA-256, so the file need not hold secrets
	Name   string   `yaml:"name"`             // the principal's subject
	Roles  []string `yaml:"roles"`            // ci | trainer | reviewer | operator | viewer | admin
	Groups []string `yaml:"groups,omitempty"`
	// Slack lists the Slack user ids (U…, W… on Enterprise Grid) that act
	// as this principal in chat-ops; a Slack user in no entry may do nothing.
	Slack []string `yaml:"slack,omitempty"`
	// GitHub is the person's GitHub login: a commit they authored starts a
	// run whose approval they may not give.
	GitHub string `yaml:"github,omitempty"`
}

// File is the tokens file's shape.
type File struct {
	Tokens []Token `yaml:"tokens"`
}

// Roles a token may have.
var Roles = []string{"ci", "trainer", "reviewer", "operator", "viewer", "admin", "worker"}

// Authenticator resolves bearer tokens. Its identities can be replaced
// while it serves (Replace, Reload): a revoked token or person stops
// working on the next request.
type Authenticator struct {
	entries atomic.Pointer[[]entry]
}

type entry struct {
	digest [32]byte
	p      Principal
	slack  []string
	github string
}

// New checks tokens and builds an Authenticator.
func New(tokens []Token) (*Authenticator, error) {
	a := &Authenticator{}
	if err := a.Replace(tokens); err != nil {
		return nil, err
	}
	return a, nil
}

// Replace swaps in a new set of tokens at once, after checking all of
// them: on an error nothing changes, so a typo in the tokens file never
// locks everyone out.
func (a *Authenticator) Replace(tokens []Token) error {
	es, err := compile(tokens)
	if err != nil {
		return err
	}
	a.entries.Store(&es)
	return nil
}

// Reload re-reads a tokens file and replaces the identities with it.
func (a *Authenticator) Reload(path string) error {
	tokens, err := Load(path)
	if err != nil {
		return err
	}
	if err := a.Replace(tokens); err != nil {
		return fmt.Errorf("tokens %s: %w", path, err)
	}
	return nil
}

func (a *Authenticator) current() []entry {
	if a == nil {
		return nil
	}
	if es := a.entries.Load(); es != nil {
		return *es
	}
	return nil
}

// BySlack returns the principal a Slack user id acts as. It is false for
// a user in no entry, so an unknown Slack user is refused, never guessed.
func (a *Authenticator) BySlack(userID string) (Principal, bool) {
	if userID == "" {
		return Principal{}, false
	}
	for _, e := range a.current() {
		if contains(e.slack, userID) {
			return e.p, true
		}
	}
	return Principal{}, false
}

// ByGitHub returns the principal of a GitHub login (GitHub logins are
// case-insensitive).
func (a *Authenticator) ByGitHub(login string) (Principal, bool) {
	if login == "" {
		return Principal{}, false
	}
	for _, e := range a.current() {
		if e.github != "" && strings.EqualFold(e.github, login) {
			return e.p, true
		}
	}
	return Principal{}, false
}

// Identify returns the current principal of a subject (a session's
// owner): the roles and groups of the first token with that name. It is
// false when no token has the name any more, which is how a revoked
// person's sessions end.
func (a *Authenticator) Identify(subject string) (Principal, bool) {
	if subject == "" {
		return Principal{}, false
	}
	for _, e := range a.current() {
		if e.p.Subject == subject {
			return e.p, true
		}
	}
	return Principal{}, false
}

func compile(tokens []Token) ([]entry, error) {
	var entries []entry
	var errs []error
	// A Slack id or GitHub login on two different principals would make
	// who acts depend on the file's order: refuse it.
	slackOwner, githubOwner := map[string]string{}, map[string]string{}
	for i, t := range tokens {
		for _, id := range t.Slack {
			if strings.TrimSpace(id) == "" || strings.ContainsAny(id, " \t\n") {
				errs = append(errs, fmt.Errorf("tokens[%d] (%s): slack user id %q is not an id like U012AB3CD", i, t.Name, id))
			} else if o, ok := slackOwner[id]; ok && o != t.Name {
				errs = append(errs, fmt.Errorf("tokens[%d] (%s): slack user id %s is already %s's", i, t.Name, id, o))
			}
			slackOwner[id] = t.Name
		}
		if g := strings.ToLower(t.GitHub); g != "" {
			if o, ok := githubOwner[g]; ok && o != t.Name {
				errs = append(errs, fmt.Errorf("tokens[%d] (%s): github login %s is already %s's", i, t.Name, t.GitHub, o))
			}
			githubOwner[g] = t.Name
		}
		var d [32]byte
		switch {
		case t.Token != "" && t.SHA256 != "":
			errs = append(errs, fmt.Errorf("tokens[%d] (%s): give token or sha256, not both", i, t.Name))
			continue
		case t.Token != "":
			if len(t.Token) < 16 {
				errs = append(errs, fmt.Errorf("tokens[%d] (%s): token is shorter than 16 characters", i, t.Name))
				continue
			}
			d = sha256.Sum256([]byte(t.Token))
		case t.SHA256 != "":
			b, err := hex.DecodeString(t.SHA256)
			if err != nil || len(b) != 32 {
				errs = append(errs, fmt.Errorf("tokens[%d] (%s): sha256 must be 64 hex digits", i, t.Name))
				continue
			}
			copy(d[:], b)
		default:
			errs = append(errs, fmt.Errorf("tokens[%d] (%s): token or sha256 is required", i, t.Name))
			continue
		}
		if t.Name == "" {
			errs = append(errs, fmt.Errorf("tokens[%d]: name is required", i))
			continue
		}
		for _, r := range t.Roles {
			if !contains(Roles, r) {
				errs = append(errs, fmt.Errorf("tokens[%d] (%s): unknown role %q (%s)", i, t.Name, r, strings.Join(Roles, ", ")))
			}
		}
		entries = append(entries, entry{digest: d, p: Principal{Subject: t.Name, Roles: t.Roles, Groups: t.Groups}, slack: t.Slack, github: t.GitHub})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return entries, nil
}

// Lookup returns the principal of a token. It compares against every
// entry so that timing does not reveal which one matched.
func (a *Authenticator) Lookup(token string) (Principal, bool) {
	if a == nil || token == "" {
		return Principal{}, false
	}
	d := sha256.Sum256([]byte(token))
	var found Principal
	ok := false
	for _, e := range a.current() {
		if subtle.ConstantTimeCompare(d[:], e.digest[:]) == 1 {
			found, ok = e.p, true
		}
	}
	return found, ok
}

// FromRequest reads "Authorization: Bearer <token>".
func (a *Authenticator) FromRequest(r *http.Request) (Principal, bool) {
	h := r.Header.Get("Authorization")
	tok, found := strings.CutPrefix(h, "Bearer ")
	if !found {
		return Principal{}, false
	}
	return a.Lookup(strings.TrimSpace(tok))
}

// Load reads a tokens file.
func Load(path string) ([]Token, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read tokens: %w", err)
	}
	var f File
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("parse tokens %s: %w", path, err)
	}
	return f.Tokens, nil
}

// LoadOrCreate reads the tokens file at path, creating it with random
// tokens (admin, ci, two reviewers) when it does not exist, so that a first
// `modelgate server` is usable without writing configuration. The file
// holds only the tokens' SHA-256 digests, so reading it (a backup, a log
// of a misbehaving job) gives no token away; the plain tokens are returned
// once, for the caller to show the operator, and written to
// InitialTokensFile beside it (0600) for the operator to copy and delete.
func LoadOrCreate(path string) ([]Token, bool, error) {
	if _, err := os.Stat(path); err == nil {
		t, err := Load(path)
		return t, false, err
	}
	var plain, stored File
	for _, r := range []struct{ name, role, group string }{
		{"admin", "admin", "ml-platform"},
		{"ci", "ci", ""},
		{"reviewer", "reviewer", "ml-reviewers"},
		// a second reviewer, because the default policy asks two people
		// to approve a critical-risk promotion
		{"reviewer-2", "reviewer", "ml-reviewers"},
	} {
		t := Token{Token: "mg_" + randomHex(24), Name: r.name, Roles: []string{r.role}}
		if r.group != "" {
			t.Groups = []string{r.group}
		}
		plain.Tokens = append(plain.Tokens, t)
		sum := sha256.Sum256([]byte(t.Token))
		t.Token, t.SHA256 = "", hex.EncodeToString(sum[:])
		stored.Tokens = append(stored.Tokens, t)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, fmt.Errorf("create tokens: %w", err)
	}
	for _, f := range []struct {
		path string
		data File
	}{{InitialTokensFile(path), plain}, {path, stored}} {
		b, err := yaml.Marshal(f.data)
		if err != nil {
			return nil, false, err
		}
		if err := os.WriteFile(f.path, b, 0o600); err != nil {
			return nil, false, fmt.Errorf("create tokens: %w", err)
		}
	}
	return plain.Tokens, true, nil
}

// InitialTokensFile is where LoadOrCreate leaves the plain tokens it made.
func InitialTokensFile(tokensFile string) string {
	return filepath.Join(filepath.Dir(tokensFile), "initial-tokens.yaml")
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on Linux; a failure means no entropy at all
	}
	return hex.EncodeToString(b)
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
