package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/modelgate/modelgate/internal/store"
)

// Options configures Open.
type Options struct {
	// URL is a redis:// or rediss:// URL (redis://user:pass@host:6379/0).
	URL string
	// Prefix starts every key, so that several installations (or tests)
	// can share one Redis; default "modelgate:".
	Prefix string
	// Now is the clock for created/updated times; default time.Now.
	Now func() time.Time
}

// Store is the Redis implementation of store.Store.
type Store struct {
	c   *goredis.Client
	pfx string
	now func() time.Time
}

var _ store.Store = (*Store)(nil)

// Open connects to Redis and checks that it answers.
func Open(ctx context.Context, o Options) (*Store, error) {
	if o.URL == "" {
		return nil, errors.New("redis: Options.URL is required")
	}
	opt, err := goredis.ParseURL(o.URL)
	if err != nil {
		return nil, fmt.Errorf("redis: parse URL: %w", err)
	}
	if o.Prefix == "" {
		o.Prefix = "modelgate:"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Store{c: goredis.NewClient(opt), pfx: o.Prefix, now: o.Now}
	if err := s.Ping(ctx); err != nil {
		_ = s.c.Close()
		return nil, err
	}
	return s, nil
}

// Ping checks that Redis answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.c.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("ping redis: %w", err)
	}
	return nil
}

// Close closes the connection pool.
func (s *Store) Close() error {
	if err := s.c.Close(); err != nil {
		return fmt.Errorf("close redis: %w", err)
	}
	return nil
}

// DeleteAll removes every key under the store's prefix (tests use it to
// clean up after themselves).
func (s *Store) DeleteAll(ctx context.Context) error {
	iter := s.c.Scan(ctx, 0, globEscape(s.pfx)+"*", 500).Iterator()
	var batch []string
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 500 {
			if err := s.c.Del(ctx, batch...).Err(); err != nil {
				return fmt.Errorf("delete keys under %s: %w", s.pfx, err)
			}
			batch = batch[:0]
		}
	}
	if err := iter.Err(); err != nil {
		return fmt.Errorf("scan keys under %s: %w", s.pfx, err)
	}
	if len(batch) > 0 {
		if err := s.c.Del(ctx, batch...).Err(); err != nil {
			return fmt.Errorf("delete keys under %s: %w", s.pfx, err)
		}
	}
	return nil
}

func globEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`, `]`, `\]`)
	return r.Replace(s)
}

func (s *Store) key(parts ...string) string { return s.pfx + strings.Join(parts, ":") }

// Scripts report outcomes as error replies starting with NOTFOUND or
// CONFLICT; mapErr turns them into the store's sentinels.
func mapErr(err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, goredis.Nil) {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	// Redis prefixes script error replies without an error code with "ERR ".
	msg := strings.TrimPrefix(err.Error(), "ERR ")
	switch {
	case strings.HasPrefix(msg, "NOTFOUND"):
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	case strings.HasPrefix(msg, "CONFLICT"):
		detail := strings.TrimSpace(strings.TrimPrefix(msg, "CONFLICT"))
		if detail != "" {
			return fmt.Errorf("%s: %s: %w", what, detail, store.ErrConflict)
		}
		return fmt.Errorf("%s: %w", what, store.ErrConflict)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// Times go into hash fields as zero-padded Unix nanoseconds, so that Lua
// can compare them as strings (Lua numbers are doubles: too coarse).
func nanos(t time.Time) string { return fmt.Sprintf("%019d", t.UnixNano()) }

func parseNanos(s string) time.Time {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || s == "" {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// score orders sorted sets by time at microsecond precision, which a
// double holds exactly for the next few centuries.
func score(t time.Time) float64 { return float64(t.UnixMicro()) }

func pairs(v []any) map[string]string {
	m := make(map[string]string, len(v)/2)
	for i := 0; i+1 < len(v); i += 2 {
		k, _ := v[i].(string)
		val, _ := v[i+1].(string)
		m[k] = val
	}
	return m
}

func strs(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

func limitOr(n, def int) int {
	if n <= 0 {
		return def
	}
	return n
}

// orderMember makes sorted-set members that tie on score sort by
// insertion: a 16-hex-digit counter, a colon, then the name.
const orderMemberPrefix = 17

// listScript walks a time-ordered sorted set newest first and returns the
// names whose hash (KEYS prefix ARGV[1] .. ARGV[2] .. name) matches the
// filters: ARGV[3] field=value equality pairs count, then the pairs, then
// ARGV[n] before (19-digit nanos or ""), limit, and an optional set of
// allowed values for field "state".
var listScript = goredis.NewScript(`
local pfx, kind = ARGV[1], ARGV[2]
local neq = tonumber(ARGV[3])
local eq = {}
local i = 4
for _ = 1, neq do eq[#eq+1] = {ARGV[i], ARGV[i+1]}; i = i + 2 end
local before, limit = ARGV[i], tonumber(ARGV[i+1])
i = i + 2
local states, hasStates = {}, false
for j = i, #ARGV do states[ARGV[j]] = true; hasStates = true end
local out, offset = {}, 0
while #out < limit do
  local ms = redis.call('ZREVRANGE', KEYS[1], offset, offset + 199)
  if #ms == 0 then break end
  offset = offset + #ms
  for _, m in ipairs(ms) do
    local name = string.sub(m, 18)
    local k = pfx .. kind .. name
    local ok = true
    for _, p in ipairs(eq) do
      if redis.call('HGET', k, p[1]) ~= p[2] then ok = false; break end
    end
    if ok and hasStates then ok = states[redis.call('HGET', k, 'state')] == true end
    if ok and before ~= '' then ok = redis.call('HGET', k, 'created') < before end
    if ok then
      out[#out+1] = name
      if #out >= limit then break end
    end
  end
end
return out
`)

type listParams struct {
	zset, kind string
	eq         [][2]string
	before     time.Time
	limit      int
	states     []string
}

func (s *Store) list(ctx context.Context, p listParams) ([]string, error) {
	args := []any{s.pfx, p.kind, len(p.eq)}
	for _, e := range p.eq {
		args = append(args, e[0], e[1])
	}
	before := ""
	if !p.before.IsZero() {
		before = nanos(p.before)
	}
	args = append(args, before, p.limit)
	for _, st := range p.states {
		args = append(args, st)
	}
	v, err := listScript.Run(ctx, s.c, []string{p.zset}, args...).Result()
	if err != nil && !errors.Is(err, goredis.Nil) {
		return nil, err
	}
	return strs(v), nil
}

// Durability reads the server's persistence settings and names each way
// it can lose a write it acknowledged. A crash of a Redis without AOF
// loses everything since its last snapshot; with appendfsync no, whatever
// the kernel had not flushed. With the default appendfsync everysec a
// Redis crash loses nothing, a machine crash up to about a second (see
// docs/scale-out.md). A Redis that refuses CONFIG (a managed service) is
// named as unknown, not as safe.
func (s *Store) Durability(ctx context.Context) []string {
	cfg, err := s.c.ConfigGet(ctx, "*").Result()
	if err != nil {
		return []string{fmt.Sprintf("could not read Redis persistence settings (CONFIG GET: %v); make sure appendonly is yes", err)}
	}
	var w []string
	switch {
	case cfg["appendonly"] != "yes":
		save := cfg["save"]
		if save == "" {
			save = "none"
		}
		w = append(w, fmt.Sprintf("Redis has appendonly %s: a Redis crash loses every write since its last RDB snapshot (save %q); run it with --appendonly yes", cfg["appendonly"], save))
	case cfg["appendfsync"] == "no":
		w = append(w, "Redis has appendfsync no: a machine crash loses whatever the kernel had not yet written; use appendfsync everysec or always")
	}
	return w
}
