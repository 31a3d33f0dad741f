package redis

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/modelgate/modelgate/internal/store"
)

// A lease is a string key "<token> <owner>" set with PX, so Redis itself
// ends it; the key's token sequence lives in a separate key that never
// expires, so the next owner's token is always larger.

var leaseAcquireScript = goredis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur then
  local sp = string.find(cur, ' ', 1, true)
  local owner = string.sub(cur, sp + 1)
  if owner ~= ARGV[1] then
    return redis.error_reply('CONFLICT held by ' .. owner)
  end
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return string.sub(cur, 1, sp - 1)
end
local t = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], t .. ' ' .. ARGV[1], 'NX', 'PX', ARGV[2])
return tostring(t)
`)

// LeaseAcquire takes the key with SET NX PX under a new token, or extends
// the caller's own lease.
func (s *Store) LeaseAcquire(ctx context.Context, p store.LeaseAcquireParams) (store.Lease, error) {
	if err := store.CheckLeaseParams(p); err != nil {
		return store.Lease{}, err
	}
	now := s.now()
	v, err := leaseAcquireScript.Run(ctx, s.c, []string{s.key("lease", p.Key), s.key("leasetoken", p.Key)},
		p.Owner, p.TTL.Milliseconds()).Text()
	if err != nil {
		return store.Lease{}, mapErr(err, "acquire lease "+p.Key)
	}
	tok, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return store.Lease{}, fmt.Errorf("acquire lease %s: token %q: %w", p.Key, v, err)
	}
	return store.Lease{Key: p.Key, Owner: p.Owner, Token: tok, Until: now.Add(p.TTL).UTC()}, nil
}

func leaseValue(l store.Lease) string { return strconv.FormatInt(l.Token, 10) + " " + l.Owner }

var leaseRenewScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return redis.error_reply('FENCED') end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`)

// LeaseRenew extends a lease still held with the same token.
func (s *Store) LeaseRenew(ctx context.Context, l store.Lease, ttl time.Duration) (store.Lease, error) {
	if ttl < time.Millisecond {
		return store.Lease{}, fmt.Errorf("renew lease %s: ttl must be at least 1ms", l.Key)
	}
	now := s.now()
	err := leaseRenewScript.Run(ctx, s.c, []string{s.key("lease", l.Key)}, leaseValue(l), ttl.Milliseconds()).Err()
	if err != nil {
		return store.Lease{}, mapFence(err, "renew lease "+l.Key)
	}
	l.Until = now.Add(ttl).UTC()
	return l, nil
}

var leaseReleaseScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
`)

// LeaseRelease deletes the lease key if it still holds l.
func (s *Store) LeaseRelease(ctx context.Context, l store.Lease) error {
	if err := leaseReleaseScript.Run(ctx, s.c, []string{s.key("lease", l.Key)}, leaseValue(l)).Err(); err != nil {
		return fmt.Errorf("release lease %s: %w", l.Key, err)
	}
	return nil
}

// LeaseGet returns the live lease on key.
func (s *Store) LeaseGet(ctx context.Context, key string) (store.Lease, error) {
	pipe := s.c.Pipeline()
	get := pipe.Get(ctx, s.key("lease", key))
	ttl := pipe.PTTL(ctx, s.key("lease", key))
	now := s.now()
	if _, err := pipe.Exec(ctx); err != nil {
		return store.Lease{}, mapErr(err, "lease "+key)
	}
	tok, owner, ok := strings.Cut(get.Val(), " ")
	t, err := strconv.ParseInt(tok, 10, 64)
	if !ok || err != nil {
		return store.Lease{}, fmt.Errorf("lease %s: malformed value %q", key, get.Val())
	}
	return store.Lease{Key: key, Owner: owner, Token: t, Until: now.Add(ttl.Val()).UTC()}, nil
}

var runTransitionFencedScript = goredis.NewScript(`
if redis.call('GET', KEYS[2]) ~= ARGV[4] then return redis.error_reply('FENCED') end
local st = redis.call('HGET', KEYS[1], 'state')
if not st then return redis.error_reply('NOTFOUND') end
local ok = false
for i = 6, #ARGV do if ARGV[i] == st then ok = true end end
if not ok then return redis.error_reply('CONFLICT it is ' .. st) end
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'updated', ARGV[3], 'fence', ARGV[5])
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'error', ARGV[2]) end
redis.call('HINCRBY', KEYS[1], 'version', 1)
return redis.call('HGETALL', KEYS[1])
`)

// RunTransitionFenced compares the lease and moves the run in one script.
func (s *Store) RunTransitionFenced(ctx context.Context, p store.RunTransitionFencedParams) (store.Run, error) {
	if p.To == "" {
		return store.Run{}, fmt.Errorf("transition run %s: target state is empty", p.ID)
	}
	from := p.FromStates()
	args := []any{string(p.To), p.Error, nanos(s.now()), leaseValue(p.Lease), p.Lease.Token}
	for _, st := range from {
		args = append(args, string(st))
	}
	v, err := runTransitionFencedScript.Run(ctx, s.c, []string{s.key("run", p.ID), s.key("lease", p.Lease.Key)}, args...).Slice()
	if err != nil {
		return store.Run{}, mapFence(err, fmt.Sprintf("transition run %s to %s", p.ID, p.To))
	}
	return runFromHash(pairs(v))
}

var stagePutFencedScript = goredis.NewScript(`
if redis.call('GET', KEYS[4]) ~= ARGV[3] then return redis.error_reply('FENCED') end
if redis.call('EXISTS', KEYS[1]) == 0 then return redis.error_reply('NOTFOUND') end
if redis.call('HSET', KEYS[2], ARGV[1], ARGV[2]) == 1 then redis.call('RPUSH', KEYS[3], ARGV[1]) end
return 1
`)

// StagePutFenced compares the lease and puts the stage in one script.
func (s *Store) StagePutFenced(ctx context.Context, st store.Stage, l store.Lease) error {
	b, err := stageDoc(st)
	if err != nil {
		return err
	}
	err = stagePutFencedScript.Run(ctx, s.c, []string{s.key("run", st.RunID), s.key("stages", st.RunID), s.key("stageorder", st.RunID),
		s.key("lease", l.Key)}, st.Name, b, leaseValue(l)).Err()
	return mapFence(err, fmt.Sprintf("put stage %s: run %s", st.Name, st.RunID))
}

// RunFence returns the token of the run's last fenced transition.
func (s *Store) RunFence(ctx context.Context, runID string) (int64, error) {
	v, err := s.c.HMGet(ctx, s.key("run", runID), "state", "fence").Result()
	if err != nil {
		return 0, fmt.Errorf("fence of run %s: %w", runID, err)
	}
	if v[0] == nil {
		return 0, fmt.Errorf("run %s: %w", runID, store.ErrNotFound)
	}
	f, _ := v[1].(string)
	if f == "" {
		return 0, nil
	}
	return strconv.ParseInt(f, 10, 64)
}

// mapFence is mapErr that also knows the scripts' FENCED reply.
func mapFence(err error, what string) error {
	if err != nil && strings.HasPrefix(strings.TrimPrefix(err.Error(), "ERR "), "FENCED") {
		return fmt.Errorf("%s: %w", what, store.ErrFenced)
	}
	return mapErr(err, what)
}
