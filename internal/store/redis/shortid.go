package redis

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/modelgate/modelgate/internal/store"
)

// RunResolveID implements store.Store.
func (s *Store) RunResolveID(ctx context.Context, prefix string) (string, error) {
	return s.resolveID(ctx, "run", s.key("runs"), prefix)
}

// ApprovalResolveID implements store.Store.
func (s *Store) ApprovalResolveID(ctx context.Context, prefix string) (string, error) {
	return s.resolveID(ctx, "approval", s.key("aps"), prefix)
}

// resolveID scans the kind's index (members "<seq hex>:<id>") for ids
// starting with prefix. CheckIDPrefix keeps glob characters out of the
// MATCH pattern.
func (s *Store) resolveID(ctx context.Context, kind, zset, prefix string) (string, error) {
	if err := store.CheckIDPrefix(prefix); err != nil {
		return "", fmt.Errorf("%s: %w", err.Error(), store.ErrNotFound)
	}
	var ids []string
	var cursor uint64
	for {
		members, next, err := s.c.ZScan(ctx, zset, cursor, "*:"+prefix+"*", 1000).Result()
		if err != nil {
			return "", fmt.Errorf("resolve %s id %q: %w", kind, prefix, err)
		}
		// ZSCAN returns member, score, member, score...
		for i := 0; i < len(members); i += 2 {
			_, id, ok := strings.Cut(members[i], ":")
			if ok && strings.HasPrefix(id, prefix) && !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
		cursor = next
		if cursor == 0 || len(ids) > 2 {
			break
		}
	}
	slices.Sort(ids)
	return store.ResolveIDs(kind, prefix, ids[:min(len(ids), 3)])
}
