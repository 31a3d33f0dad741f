package store

import (
	"errors"
	"fmt"
	"strings"
)

// ErrAmbiguous is wrapped by AmbiguousError: a short id that more than
// one id starts with.
var ErrAmbiguous = errors.New("ambiguous id")

// MinIDPrefix is the shortest prefix a short id may be: shorter ones
// match too much to be worth resolving.
const MinIDPrefix = 4

// AmbiguousError names the ids a short id matched (a few of them).
type AmbiguousError struct {
	Kind    string // run | approval
	Prefix  string
	Matches []string
}

func (e *AmbiguousError) Error() string {
	return fmt.Sprintf("%s id %q is ambiguous: it starts %s; give more characters", e.Kind, e.Prefix, strings.Join(e.Matches, ", "))
}

func (e *AmbiguousError) Unwrap() error { return ErrAmbiguous }

// CheckIDPrefix refuses what cannot be the start of an id (ids are
// lower-case hex UUIDs): drivers use the prefix in LIKE and MATCH
// patterns, where other characters would be wildcards.
func CheckIDPrefix(prefix string) error {
	if len(prefix) < MinIDPrefix {
		return fmt.Errorf("id %q: give at least %d characters", prefix, MinIDPrefix)
	}
	for _, r := range prefix {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r == '-') {
			return fmt.Errorf("id %q: ids are lower-case hexadecimal with dashes", prefix)
		}
	}
	return nil
}

// ResolveIDs turns the ids a driver found for prefix (at most a few)
// into the one id, or the error the interface promises.
func ResolveIDs(kind, prefix string, ids []string) (string, error) {
	switch len(ids) {
	case 0:
		return "", fmt.Errorf("no %s id starts with %q: %w", kind, prefix, ErrNotFound)
	case 1:
		return ids[0], nil
	}
	return "", &AmbiguousError{Kind: kind, Prefix: prefix, Matches: ids}
}
