// Package egress decides which addresses the server may call because a
// submitted run names them: only those under a URL the operator allowed
// with --allow-endpoint.
//
// A run's config can name a candidate's serving endpoint
// (candidate.endpoint) and an upstream already serving it
// (deploy.target.upstream); the server's agents then send requests there.
// Without this rule a ci token could make the server request any address
// it can reach (a cloud metadata service, an admin port on loopback) and
// read the answer back through the run's report. The operator's list
// bounds that, whatever the config says.
//
// # Matching
//
// An allowed URL is a scheme, a host with its port (the scheme's default
// when absent) and a path prefix that matches whole segments:
// http://models.internal:9001/v2 allows http://models.internal:9001/v2/x,
// not http://models.internal:9001/v2x or another port. Hosts compare
// case-insensitively and as written: a name is not resolved, so an
// allowed name cannot be reached through an address that is not listed.
// URLs carrying user information, a query, a fragment, a . or ..
// segment, or an escaped / or . are refused.
package egress

import (
	"fmt"
	"net"
	"net/url"
	"path"
	"strings"
	"sync"
)

// Allowlist is the operator's list of endpoint prefixes. The zero value
// allows nothing. It is safe for concurrent use.
type Allowlist struct {
	mu    sync.RWMutex
	allow []prefix
}

type prefix struct {
	scheme, hostport, path string // path always ends in "/"
	raw                    string
}

// New parses the prefixes; a malformed one is an error naming it, so a
// mistyped flag is found at start-up.
func New(prefixes []string) (*Allowlist, error) {
	a := &Allowlist{}
	for _, p := range prefixes {
		if err := a.Add(p); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// Add allows one more prefix.
func (a *Allowlist) Add(raw string) error {
	p, err := parse(raw)
	if err != nil {
		return fmt.Errorf("endpoint prefix %q: %w", raw, err)
	}
	p.raw = raw
	a.mu.Lock()
	a.allow = append(a.allow, p)
	a.mu.Unlock()
	return nil
}

// List returns the allowed prefixes as given.
func (a *Allowlist) List() []string {
	if a == nil {
		return nil
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	out := make([]string, len(a.allow))
	for i, p := range a.allow {
		out[i] = p.raw
	}
	return out
}

// Check returns nil when raw may be called, else why not.
func (a *Allowlist) Check(raw string) error {
	p, err := parse(raw)
	if err != nil {
		return fmt.Errorf("%q: %w (the server calls only URLs under an --allow-endpoint prefix)", raw, err)
	}
	if a != nil {
		a.mu.RLock()
		defer a.mu.RUnlock()
		for _, q := range a.allow {
			if q.scheme == p.scheme && q.hostport == p.hostport && strings.HasPrefix(p.path, q.path) {
				return nil
			}
		}
	}
	return fmt.Errorf("%s is not under an endpoint this server may call; an operator allows one with modelgate server --allow-endpoint URL", raw)
}

func parse(raw string) (prefix, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return prefix{}, fmt.Errorf("not a URL: %w", err)
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return prefix{}, fmt.Errorf("want an http(s) URL, got scheme %q", u.Scheme)
	}
	if u.Opaque != "" || u.Host == "" {
		return prefix{}, fmt.Errorf("want an http(s) URL with a host")
	}
	if u.User != nil {
		return prefix{}, fmt.Errorf("a URL with user information is refused")
	}
	if u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return prefix{}, fmt.Errorf("a URL with a query or fragment is refused")
	}
	host, port := u.Hostname(), u.Port()
	if host == "" {
		return prefix{}, fmt.Errorf("want an http(s) URL with a host")
	}
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[scheme]
	}
	p := u.EscapedPath()
	if strings.Contains(p, "%2f") || strings.Contains(p, "%2F") || strings.Contains(p, "%2e") || strings.Contains(p, "%2E") {
		// An escaped slash or dot would be a second spelling of a path
		// the prefix comparison must see as written.
		return prefix{}, fmt.Errorf("a URL with an escaped '/' or '.' in its path is refused")
	}
	for _, seg := range strings.Split(u.Path, "/") {
		if seg == "." || seg == ".." {
			// Refused rather than cleaned: no model server's address has
			// one, and a server behind it may resolve them differently.
			return prefix{}, fmt.Errorf("a URL with a . or .. path segment is refused")
		}
	}
	cp := path.Clean("/" + u.Path)
	if !strings.HasSuffix(cp, "/") {
		cp += "/"
	}
	return prefix{scheme: scheme, hostport: net.JoinHostPort(strings.ToLower(host), port), path: cp}, nil
}

// Valid reports why raw is not a URL the server could call at all
// (scheme, host, user information, query, dot segments), or nil; for
// callers whose operator allowed any endpoint (run --local).
func Valid(raw string) error {
	_, err := parse(raw)
	return err
}
