package llm

import (
	"errors"
	"fmt"
	"strings"

	"github.com/modelgate/modelgate/internal/egress"
)

// ErrNotAllowed is returned for an endpoint outside the operator's
// allowlist: a submitted pipeline must not make the server call an
// address its submitter chose (an internal service, a metadata address).
var ErrNotAllowed = errors.New("llm: endpoint is not on the operator's allowlist")

// Allowlist is the set of OpenAI-compatible base URLs a server may call
// for prompt candidates and judges (--llm-endpoint-allow). Matching is
// internal/egress's, the same as for model endpoints and upstreams: scheme,
// host and port equal to an entry's and the path at or below the entry's
// at a segment boundary. Any is for run --local, where the pipeline's
// author is the operator.
type Allowlist struct {
	Entries []string
	Any     bool
}

// Check returns nil when endpoint may be called.
func (a Allowlist) Check(endpoint string) error {
	if err := egress.Valid(endpoint); err != nil {
		return fmt.Errorf("llm endpoint %q: %w", endpoint, err)
	}
	if a.Any {
		return nil
	}
	l, err := egress.New(a.Entries)
	if err != nil {
		return fmt.Errorf("--llm-endpoint-allow: %w", err)
	}
	if err := l.Check(endpoint); err != nil {
		return fmt.Errorf("%w: %s (allowed: %s)", ErrNotAllowed, endpoint, strings.Join(a.Entries, ", "))
	}
	return nil
}

// Validate reports an entry that is not a base URL.
func (a Allowlist) Validate() error {
	if _, err := egress.New(a.Entries); err != nil {
		return fmt.Errorf("--llm-endpoint-allow: %w", err)
	}
	return nil
}
