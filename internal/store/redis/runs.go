package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/modelgate/modelgate/internal/store"
)

// A run is a hash: "doc" holds the fields that never change after
// creation (JSON), the others are the fields writes and filters touch.
type runDoc struct {
	ID           string            `json:"id"`
	Model        string            `json:"model"`
	Environment  string            `json:"environment"`
	Trigger      string            `json:"trigger"`
	Requester    string            `json:"requester"`
	CommitAuthor string            `json:"commit_author,omitempty"`
	Config       []byte            `json:"config,omitempty"`
	BaseDir      string            `json:"base_dir,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
}

func runFromHash(h map[string]string) (store.Run, error) {
	var d runDoc
	if err := json.Unmarshal([]byte(h["doc"]), &d); err != nil {
		return store.Run{}, fmt.Errorf("decode run: %w", err)
	}
	r := store.Run{
		ID: d.ID, Model: d.Model, Environment: d.Environment, Trigger: d.Trigger, Requester: d.Requester,
		CommitAuthor: d.CommitAuthor, Config: d.Config, BaseDir: d.BaseDir, Labels: d.Labels,
		State: store.RunState(h["state"]), Error: h["error"],
		CreatedAt: parseNanos(h["created"]), UpdatedAt: parseNanos(h["updated"]),
	}
	r.Version, _ = strconv.ParseInt(h["version"], 10, 64)
	if c := h["candidate"]; c != "" {
		if err := json.Unmarshal([]byte(c), &r.Candidate); err != nil {
			return store.Run{}, fmt.Errorf("decode run %s candidate: %w", r.ID, err)
		}
	}
	if d := h["decision"]; d != "" {
		r.Decision = json.RawMessage(d)
	}
	return r, nil
}

var runCreateScript = goredis.NewScript(`
if ARGV[2] ~= '' then
  local prev = redis.call('HMGET', KEYS[3], 'run_id', 'digest')
  if prev[1] then
    if prev[2] ~= ARGV[3] then
      return redis.error_reply('CONFLICT idempotency key was used for run ' .. prev[1] .. ' with another request')
    end
    return {0, prev[1]}
  end
end
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.error_reply('CONFLICT a run with this id exists') end
redis.call('HSET', KEYS[1], unpack(ARGV, 5))
local n = redis.call('INCR', KEYS[4])
redis.call('ZADD', KEYS[2], ARGV[4], string.format('%016x', n) .. ':' .. ARGV[1])
if ARGV[2] ~= '' then redis.call('HSET', KEYS[3], 'run_id', ARGV[1], 'digest', ARGV[3]) end
return {1, ARGV[1]}
`)

// RunCreate inserts a run, or replays the one created with the same
// idempotency key.
func (s *Store) RunCreate(ctx context.Context, p store.RunCreateParams) (store.Run, bool, error) {
	r, err := store.PrepareRun(p.Run, s.now())
	if err != nil {
		return store.Run{}, false, err
	}
	doc, err := json.Marshal(runDoc{ID: r.ID, Model: r.Model, Environment: r.Environment, Trigger: r.Trigger,
		Requester: r.Requester, CommitAuthor: r.CommitAuthor, Config: r.Config, BaseDir: r.BaseDir, Labels: r.Labels})
	if err != nil {
		return store.Run{}, false, fmt.Errorf("create run %s: encode: %w", r.ID, err)
	}
	cand, err := json.Marshal(r.Candidate)
	if err != nil {
		return store.Run{}, false, fmt.Errorf("create run %s: encode candidate: %w", r.ID, err)
	}
	idem := store.IdempotencyScope(r.Requester, p.IdempotencyKey)
	idemKey := s.key("idem", idem)
	args := []any{r.ID, idem, p.RequestDigest, score(r.CreatedAt),
		"doc", string(doc), "model", r.Model, "state", string(r.State), "error", r.Error,
		"created", nanos(r.CreatedAt), "updated", nanos(r.UpdatedAt), "version", "1", "candidate", string(cand)}
	if len(r.Decision) > 0 {
		args = append(args, "decision", string(r.Decision))
	}
	v, err := runCreateScript.Run(ctx, s.c, []string{s.key("run", r.ID), s.key("runs"), idemKey, s.key("runs", "counter")}, args...).Slice()
	if err != nil {
		return store.Run{}, false, mapErr(err, "create run "+r.ID)
	}
	if created, _ := v[0].(int64); created == 1 {
		return r, true, nil
	}
	id, _ := v[1].(string)
	prev, err := s.RunGet(ctx, id)
	if err != nil {
		return store.Run{}, false, fmt.Errorf("create run: replay of idempotency key %q: %w", p.IdempotencyKey, err)
	}
	return prev, false, nil
}

// RunGet returns one run.
func (s *Store) RunGet(ctx context.Context, id string) (store.Run, error) {
	h, err := s.c.HGetAll(ctx, s.key("run", id)).Result()
	if err != nil {
		return store.Run{}, fmt.Errorf("get run %s: %w", id, err)
	}
	if len(h) == 0 {
		return store.Run{}, fmt.Errorf("run %s: %w", id, store.ErrNotFound)
	}
	return runFromHash(h)
}

// RunList returns runs newest first.
func (s *Store) RunList(ctx context.Context, p store.RunListParams) ([]store.Run, error) {
	lp := listParams{zset: s.key("runs"), kind: "run:", before: p.Before, limit: limitOr(p.Limit, 100)}
	if p.Model != "" {
		lp.eq = append(lp.eq, [2]string{"model", p.Model})
	}
	for _, st := range p.States {
		lp.states = append(lp.states, string(st))
	}
	ids, err := s.list(ctx, lp)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return s.runsByID(ctx, ids)
}

func (s *Store) runsByID(ctx context.Context, ids []string) ([]store.Run, error) {
	pipe := s.c.Pipeline()
	cmds := make([]*goredis.MapStringStringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HGetAll(ctx, s.key("run", id))
	}
	if len(ids) > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, fmt.Errorf("list runs: %w", err)
		}
	}
	out := make([]store.Run, 0, len(ids))
	for _, c := range cmds {
		if len(c.Val()) == 0 {
			continue
		}
		r, err := runFromHash(c.Val())
		if err != nil {
			return nil, fmt.Errorf("list runs: %w", err)
		}
		out = append(out, r)
	}
	return out, nil
}

var runTransitionScript = goredis.NewScript(`
local st = redis.call('HGET', KEYS[1], 'state')
if not st then return redis.error_reply('NOTFOUND') end
local ok = false
for i = 4, #ARGV do if ARGV[i] == st then ok = true end end
if not ok then return redis.error_reply('CONFLICT it is ' .. st) end
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'updated', ARGV[3])
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'error', ARGV[2]) end
redis.call('HINCRBY', KEYS[1], 'version', 1)
return redis.call('HGETALL', KEYS[1])
`)

// RunTransition moves a run between states atomically.
func (s *Store) RunTransition(ctx context.Context, p store.RunTransitionParams) (store.Run, error) {
	if p.To == "" {
		return store.Run{}, fmt.Errorf("transition run %s: target state is empty", p.ID)
	}
	from := p.FromStates()
	args := []any{string(p.To), p.Error, nanos(s.now())}
	for _, st := range from {
		args = append(args, string(st))
	}
	v, err := runTransitionScript.Run(ctx, s.c, []string{s.key("run", p.ID)}, args...).Slice()
	if err != nil {
		return store.Run{}, mapErr(err, fmt.Sprintf("transition run %s to %s", p.ID, p.To))
	}
	return runFromHash(pairs(v))
}

var runUpdateScript = goredis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return redis.error_reply('NOTFOUND') end
redis.call('HSET', KEYS[1], 'updated', ARGV[1], unpack(ARGV, 2))
redis.call('HINCRBY', KEYS[1], 'version', 1)
return redis.call('HGETALL', KEYS[1])
`)

// RunUpdate changes the fields that are set.
func (s *Store) RunUpdate(ctx context.Context, p store.RunUpdateParams) (store.Run, error) {
	args := []any{nanos(s.now())}
	if p.Candidate != nil {
		b, err := json.Marshal(p.Candidate)
		if err != nil {
			return store.Run{}, fmt.Errorf("update run %s: encode candidate: %w", p.ID, err)
		}
		args = append(args, "candidate", string(b))
	}
	if p.Decision != nil {
		if !json.Valid(p.Decision) {
			return store.Run{}, fmt.Errorf("update run %s: decision is not valid JSON", p.ID)
		}
		args = append(args, "decision", string(p.Decision))
	}
	if p.Error != nil {
		args = append(args, "error", *p.Error)
	}
	v, err := runUpdateScript.Run(ctx, s.c, []string{s.key("run", p.ID)}, args...).Slice()
	if err != nil {
		return store.Run{}, mapErr(err, "update run "+p.ID)
	}
	return runFromHash(pairs(v))
}

var stagePutScript = goredis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return redis.error_reply('NOTFOUND') end
if redis.call('HSET', KEYS[2], ARGV[1], ARGV[2]) == 1 then redis.call('RPUSH', KEYS[3], ARGV[1]) end
return 1
`)

// StagePut inserts or replaces a stage of a run.
func (s *Store) StagePut(ctx context.Context, st store.Stage) error {
	b, err := stageDoc(st)
	if err != nil {
		return err
	}
	err = stagePutScript.Run(ctx, s.c, []string{s.key("run", st.RunID), s.key("stages", st.RunID), s.key("stageorder", st.RunID)},
		st.Name, b).Err()
	return mapErr(err, fmt.Sprintf("put stage %s: run %s", st.Name, st.RunID))
}

// stageDoc checks a stage and encodes it as stored.
func stageDoc(st store.Stage) (string, error) {
	if st.Name == "" {
		return "", fmt.Errorf("put stage of run %s: stage name is empty", st.RunID)
	}
	if st.Report != nil && !json.Valid(st.Report) {
		return "", fmt.Errorf("put stage %s of run %s: report is not valid JSON", st.Name, st.RunID)
	}
	st.StartedAt, st.FinishedAt = store.UTCOrZero(st.StartedAt), store.UTCOrZero(st.FinishedAt)
	b, err := json.Marshal(st)
	if err != nil {
		return "", fmt.Errorf("put stage %s of run %s: encode: %w", st.Name, st.RunID, err)
	}
	return string(b), nil
}

// StageList returns a run's stages in the order they were first put.
func (s *Store) StageList(ctx context.Context, runID string) ([]store.Stage, error) {
	names, err := s.c.LRange(ctx, s.key("stageorder", runID), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("list stages of run %s: %w", runID, err)
	}
	out := []store.Stage{}
	if len(names) == 0 {
		return out, nil
	}
	docs, err := s.c.HMGet(ctx, s.key("stages", runID), names...).Result()
	if err != nil {
		return nil, fmt.Errorf("list stages of run %s: %w", runID, err)
	}
	for _, d := range docs {
		str, _ := d.(string)
		var st store.Stage
		if err := json.Unmarshal([]byte(str), &st); err != nil {
			return nil, fmt.Errorf("list stages of run %s: decode: %w", runID, err)
		}
		out = append(out, st)
	}
	return out, nil
}

var logAppendScript = goredis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return redis.error_reply('NOTFOUND') end
local n = redis.call('LLEN', KEYS[2])
for i = 4, #ARGV do
  redis.call('RPUSH', KEYS[2], cjson.encode({run_id = ARGV[1], seq = n + i - 3, stage = ARGV[2], time = ARGV[3], text = ARGV[i]}))
end
return 1
`)

// LogAppend appends lines to a run's log, numbering them after the last.
func (s *Store) LogAppend(ctx context.Context, p store.LogAppendParams) error {
	if len(p.Lines) == 0 {
		return nil
	}
	args := []any{p.RunID, p.Stage, s.now().UTC().Format(time.RFC3339Nano)}
	for _, l := range p.Lines {
		args = append(args, l)
	}
	err := logAppendScript.Run(ctx, s.c, []string{s.key("run", p.RunID), s.key("log", p.RunID)}, args...).Err()
	return mapErr(err, "append log: run "+p.RunID)
}

// LogList returns a run's log in order.
func (s *Store) LogList(ctx context.Context, runID string) ([]store.LogLine, error) {
	lines, err := s.c.LRange(ctx, s.key("log", runID), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("list log of run %s: %w", runID, err)
	}
	out := make([]store.LogLine, 0, len(lines))
	for _, l := range lines {
		var ll store.LogLine
		if err := json.Unmarshal([]byte(l), &ll); err != nil {
			return nil, fmt.Errorf("list log of run %s: decode: %w", runID, err)
		}
		out = append(out, ll)
	}
	return out, nil
}
