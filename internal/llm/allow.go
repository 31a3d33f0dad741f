package llm

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// ErrNotAllowed is returned for an endpoint outside the operator's
// allowlist: a submitted pipeline must not make the server call an
// address its submitter chose (an internal service, a metadata address).
var ErrNotAllowed = errors.New("llm: endpoint is not on the operator's allowlist")

// Allowlist is the set of OpenAI-compatible base URLs a server may call
// for prompt candidates and judges (--llm-endpoint-allow). An endpoint is
// allowed when its scheme, host and port equal an entry's and its path is
// the entry's path or below it. Any is for run --local, where the
// pipeline's author is the operator.
type Allowlist struct {
	Entries []string
	Any     bool
}

type origin struct{ scheme, host, path string }

func parseOrigin(s string) (origin, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return origin{}, err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return origin{}, fmt.Errorf("scheme %q: want http or https", u.Scheme)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return origin{}, errors.New("a base URL has no user info, query or fragment")
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if host == "" {
		return origin{}, errors.New("no host")
	}
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	p := "/" + strings.Trim(u.EscapedPath(), "/")
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." || seg == "." {
			return origin{}, errors.New("a base URL has no . or .. segments")
		}
	}
	return origin{u.Scheme, net.JoinHostPort(host, port), p}, nil
}

// Check returns nil when endpoint may be called.
func (a Allowlist) Check(endpoint string) error {
	o, err := parseOrigin(endpoint)
	if err != nil {
		return fmt.Errorf("llm endpoint %q: %w", endpoint, err)
	}
	if a.Any {
		return nil
	}
	for _, e := range a.Entries {
		w, err := parseOrigin(e)
		if err != nil {
			continue // Validate reports bad entries at start-up
		}
		if w.scheme == o.scheme && w.host == o.host && (w.path == "/" || o.path == w.path || strings.HasPrefix(o.path, w.path+"/")) {
			return nil
		}
	}
	return fmt.Errorf("%w: %s (allowed: %s)", ErrNotAllowed, endpoint, strings.Join(a.Entries, ", "))
}

// Validate reports an entry that is not a base URL.
func (a Allowlist) Validate() error {
	for _, e := range a.Entries {
		if _, err := parseOrigin(e); err != nil {
			return fmt.Errorf("--llm-endpoint-allow %q: %w", e, err)
		}
	}
	return nil
}
