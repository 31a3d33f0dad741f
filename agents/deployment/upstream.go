package deployment

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/tools/model"
)

// UpstreamCheck is what a server modelgate did not start said it serves,
// asked before any traffic reaches it. A local target needs no check: it
// is started from a verified copy of the approved blob.
type UpstreamCheck struct {
	URL      string   `json:"url"`                // the metadata endpoint asked
	Want     string   `json:"want,omitempty"`     // the approved digest
	Reported []string `json:"reported,omitempty"` // the versions it listed
	Verified bool     `json:"verified"`           // it listed the approved digest
	// Unverified is true when it did not, and the run's config asked to
	// serve it anyway (deploy.target.allow_unverified), which the policy
	// allowed before the run got here.
	Unverified bool   `json:"unverified,omitempty"`
	Message    string `json:"message"`
}

// OK reports whether the rollout may send traffic to the upstream.
func (c UpstreamCheck) OK() bool { return c.Verified || c.Unverified }

// checkUpstream asks the candidate's upstream for its V2 model metadata and
// compares the versions it lists with the approved digest. An upstream
// that lists another digest serves other bytes and is refused even when
// unverified upstreams are allowed; one that lists none can only be
// allowed. An upstream that cannot be reached is a retriable error: the
// stage is tried again rather than judged on a network blip.
func (a *Agent) checkUpstream(ctx context.Context, b Backend, allowUnverified bool) (UpstreamCheck, error) {
	u := joinPath(b.URL, "/v2/models/"+url.PathEscape(b.Name))
	c := UpstreamCheck{URL: u, Want: b.Digest}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return c, fmt.Errorf("deploy.target: %s: %w", u, err)
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		return c, agents.Retriable(fmt.Errorf("ask the candidate's upstream what it serves: %w", err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return c, agents.Retriable(fmt.Errorf("read %s: %w", u, err))
	}
	var md model.V2ModelMetadata
	switch {
	case resp.StatusCode != http.StatusOK:
		c.Message = fmt.Sprintf("GET %s answered %d", u, resp.StatusCode)
	case json.Unmarshal(body, &md) != nil:
		c.Message = fmt.Sprintf("GET %s is not V2 model metadata", u)
	default:
		c.Reported = md.Versions
	}
	var other []string
	for _, v := range c.Reported {
		if strings.HasPrefix(v, "sha256:") && v != c.Want {
			other = append(other, v)
		}
	}
	switch {
	case c.Want != "" && slices.Contains(c.Reported, c.Want):
		c.Verified, c.Message = true, fmt.Sprintf("the upstream serves the approved digest %s", shortDigest(c.Want))
	case len(other) > 0:
		c.Message = fmt.Sprintf("the upstream serves %s, not the approved candidate %s: refusing to send it traffic",
			strings.Join(shortDigests(other), ", "), shortDigest(c.Want))
	case allowUnverified:
		c.Unverified = true
		c.Message = "the upstream does not list the approved digest in its V2 metadata; serving it anyway, as deploy.target.allow_unverified asked and the policy allowed"
	default:
		why := c.Message
		if why == "" {
			why = fmt.Sprintf("its versions are %q", c.Reported)
		}
		want := c.Want
		if want == "" {
			want = "(the candidate has no artifact, so no digest)"
		}
		c.Message = fmt.Sprintf("the upstream does not show it serves the approved candidate %s (%s): list the digest as the model's version in GET /v2/models/NAME (modelgate serve does), or set deploy.target.allow_unverified where the policy allows it",
			want, why)
	}
	return c, nil
}

func joinPath(base, path string) string {
	return strings.TrimRight(base, "/") + path
}

func shortDigests(ds []string) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = shortDigest(d)
	}
	return out
}

// noRedirects calls upstreams: an upstream answers where it was asked, and
// following a redirect would let an allowed upstream send the server's
// requests to an address the operator never allowed (internal/egress).
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
