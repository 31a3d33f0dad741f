package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/modelgate/modelgate/internal/store"
)

// SessionEnd marks a session ended until its expiry; Redis drops the key
// then, since the session's cookie is refused anyway.
func (s *Store) SessionEnd(ctx context.Context, id string, until time.Time) error {
	if id == "" {
		return errors.New("end session: id is required")
	}
	// A session already expired needs no record, but a zero or past expiry
	// must still end it now: keep it a minute.
	exp := until
	if min := s.now().Add(time.Minute); exp.Before(min) {
		exp = min
	}
	k := s.key("session", "ended", id)
	// Keep the later expiry when a session is ended twice.
	if ttl, err := s.c.PTTL(ctx, k).Result(); err == nil && ttl > 0 && s.now().Add(ttl).After(exp) {
		return nil
	}
	if err := s.c.SetArgs(ctx, k, "1", goredis.SetArgs{ExpireAt: exp}).Err(); err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	return nil
}

// SessionState reads whether id was ended and the current epoch in one
// round trip.
func (s *Store) SessionState(ctx context.Context, id string) (store.SessionState, error) {
	vs, err := s.c.MGet(ctx, s.key("session", "ended", id), s.key("session", "epoch")).Result()
	if err != nil {
		return store.SessionState{}, fmt.Errorf("read session state: %w", err)
	}
	st := store.SessionState{Ended: vs[0] != nil}
	if e, ok := vs[1].(string); ok {
		if st.Epoch, err = strconv.ParseInt(e, 10, 64); err != nil {
			return store.SessionState{}, fmt.Errorf("read session state: epoch %q: %w", e, err)
		}
	}
	return st, nil
}

// SessionEpochBump ends every session issued so far.
func (s *Store) SessionEpochBump(ctx context.Context) (int64, error) {
	n, err := s.c.Incr(ctx, s.key("session", "epoch")).Result()
	if err != nil {
		return 0, fmt.Errorf("bump session epoch: %w", err)
	}
	return n, nil
}
