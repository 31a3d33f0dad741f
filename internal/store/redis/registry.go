package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/modelgate/modelgate/internal/store"
)

var modelVersionPutScript = goredis.NewScript(`
local d = redis.call('HGET', KEYS[2], ARGV[2])
if d then
  if d ~= ARGV[3] then return redis.error_reply('CONFLICT registered with digest ' .. d .. ', not ' .. ARGV[3]) end
  return 0
end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[4])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
local n = redis.call('INCR', KEYS[5])
redis.call('ZADD', KEYS[3], ARGV[5], string.format('%016x', n) .. ':' .. ARGV[2])
redis.call('SADD', KEYS[4], ARGV[1])
return 1
`)

// ModelVersionPut registers a version; the same digest again is a no-op,
// another digest ErrConflict.
func (s *Store) ModelVersionPut(ctx context.Context, v store.ModelVersion) error {
	if v.Model == "" || v.Version == "" {
		return fmt.Errorf("put model version %q of %q: model and version are required", v.Version, v.Model)
	}
	if v.CreatedAt.IsZero() {
		v.CreatedAt = s.now()
	}
	v.CreatedAt = v.CreatedAt.UTC().Round(0)
	doc, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("put model version %s@%s: encode: %w", v.Model, v.Version, err)
	}
	err = modelVersionPutScript.Run(ctx, s.c,
		[]string{s.key("mv", v.Model), s.key("mvdigest", v.Model), s.key("mvorder", v.Model), s.key("models"), s.key("mv", "counter")},
		v.Model, v.Version, v.Digest, string(doc), score(v.CreatedAt)).Err()
	return mapErr(err, fmt.Sprintf("put model version %s@%s", v.Model, v.Version))
}

// ModelVersionGet returns one registered version.
func (s *Store) ModelVersionGet(ctx context.Context, model, version string) (store.ModelVersion, error) {
	doc, err := s.c.HGet(ctx, s.key("mv", model), version).Result()
	if err != nil {
		return store.ModelVersion{}, mapErr(err, fmt.Sprintf("model version %s@%s", model, version))
	}
	var v store.ModelVersion
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		return store.ModelVersion{}, fmt.Errorf("model version %s@%s: decode: %w", model, version, err)
	}
	return v, nil
}

// ModelVersionList returns a model's versions, newest first.
func (s *Store) ModelVersionList(ctx context.Context, model string) ([]store.ModelVersion, error) {
	members, err := s.c.ZRevRange(ctx, s.key("mvorder", model), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("list versions of model %s: %w", model, err)
	}
	out := []store.ModelVersion{}
	if len(members) == 0 {
		return out, nil
	}
	versions := make([]string, len(members))
	for i, m := range members {
		versions[i] = m[orderMemberPrefix:]
	}
	docs, err := s.c.HMGet(ctx, s.key("mv", model), versions...).Result()
	if err != nil {
		return nil, fmt.Errorf("list versions of model %s: %w", model, err)
	}
	for _, d := range docs {
		str, _ := d.(string)
		var v store.ModelVersion
		if err := json.Unmarshal([]byte(str), &v); err != nil {
			return nil, fmt.Errorf("list versions of model %s: decode: %w", model, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// ModelList returns every model with a version or a production pointer.
func (s *Store) ModelList(ctx context.Context) ([]string, error) {
	ms, err := s.c.SMembers(ctx, s.key("models")).Result()
	if err != nil {
		return nil, fmt.Errorf("list models: %w", err)
	}
	sort.Strings(ms)
	return ms, nil
}

var productionSetScript = goredis.NewScript(`
local cur = redis.call('HMGET', KEYS[1], 'version', 'previous')
local curv = cur[1] or ''
if ARGV[5] == '1' and ARGV[6] ~= curv then
  return redis.error_reply('CONFLICT current version is "' .. curv .. '", expected "' .. ARGV[6] .. '"')
end
local prev = ''
if cur[1] then
  if curv == ARGV[4] then prev = cur[2] or '' else prev = curv end
end
redis.call('HSET', KEYS[1], 'model', ARGV[2], 'environment', ARGV[3], 'version', ARGV[4], 'previous', prev,
  'run_id', ARGV[7], 'reason', ARGV[8], 'updated', ARGV[9])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[2])
return prev
`)

func (s *Store) prodKey(model, env string) string { return s.key("prod", model+"\x00"+env) }

// ProductionSet points an environment at a version, keeping the one it
// replaces as Previous.
func (s *Store) ProductionSet(ctx context.Context, p store.ProductionSetParams) (store.Production, error) {
	if p.Model == "" || p.Version == "" {
		return store.Production{}, fmt.Errorf("set production of %q in %q: model and version are required", p.Model, p.Environment)
	}
	has, expect := "0", ""
	if p.ExpectVersion != nil {
		has, expect = "1", *p.ExpectVersion
	}
	now := s.now().UTC().Round(0)
	prev, err := productionSetScript.Run(ctx, s.c, []string{s.prodKey(p.Model, p.Environment), s.key("prodkeys"), s.key("models")},
		p.Model+"\x00"+p.Environment, p.Model, p.Environment, p.Version, has, expect, p.RunID, p.Reason, nanos(now)).Text()
	if err != nil {
		return store.Production{}, mapErr(err, fmt.Sprintf("set production of %s in %s", p.Model, p.Environment))
	}
	return store.Production{Model: p.Model, Environment: p.Environment, Version: p.Version, Previous: prev,
		RunID: p.RunID, Reason: p.Reason, UpdatedAt: now}, nil
}

func productionFromHash(h map[string]string) store.Production {
	return store.Production{Model: h["model"], Environment: h["environment"], Version: h["version"], Previous: h["previous"],
		RunID: h["run_id"], Reason: h["reason"], UpdatedAt: parseNanos(h["updated"])}
}

// ProductionGet returns which version serves model in env.
func (s *Store) ProductionGet(ctx context.Context, model, env string) (store.Production, error) {
	h, err := s.c.HGetAll(ctx, s.prodKey(model, env)).Result()
	if err != nil {
		return store.Production{}, fmt.Errorf("get production of %s in %s: %w", model, env, err)
	}
	if len(h) == 0 {
		return store.Production{}, fmt.Errorf("production of %s in %s: %w", model, env, store.ErrNotFound)
	}
	return productionFromHash(h), nil
}

// ProductionList returns a model's production pointers by environment;
// every model's when model is empty.
func (s *Store) ProductionList(ctx context.Context, model string) ([]store.Production, error) {
	members, err := s.c.SMembers(ctx, s.key("prodkeys")).Result()
	if err != nil {
		return nil, fmt.Errorf("list production of %s: %w", model, err)
	}
	sort.Strings(members) // model NUL env: sorts by model, then environment
	out := []store.Production{}
	for _, m := range members {
		mdl, env, _ := strings.Cut(m, "\x00")
		if model != "" && mdl != model {
			continue
		}
		p, err := s.ProductionGet(ctx, mdl, env)
		if err != nil {
			return nil, fmt.Errorf("list production of %s: %w", model, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// RouteSet replaces a model's gateway route table.
func (s *Store) RouteSet(ctx context.Context, model string, table json.RawMessage) error {
	if err := store.CheckRoutes(model, table); err != nil {
		return err
	}
	if err := s.c.HSet(ctx, s.key("routes"), model, string(table)).Err(); err != nil {
		return fmt.Errorf("set routes of %s: %w", model, err)
	}
	s.routeChanged(ctx, model) // routechanges.go
	return nil
}

// RouteGet returns a model's route table.
func (s *Store) RouteGet(ctx context.Context, model string) (json.RawMessage, error) {
	t, err := s.c.HGet(ctx, s.key("routes"), model).Result()
	if err != nil {
		return nil, mapErr(err, "routes of "+model)
	}
	return json.RawMessage(t), nil
}

// RouteList returns every model's route table.
func (s *Store) RouteList(ctx context.Context) (map[string]json.RawMessage, error) {
	m, err := s.c.HGetAll(ctx, s.key("routes")).Result()
	if err != nil {
		return nil, fmt.Errorf("list routes: %w", err)
	}
	out := make(map[string]json.RawMessage, len(m))
	for k, v := range m {
		out[k] = json.RawMessage(v)
	}
	return out, nil
}

// RolloutGet returns a run's rollout state.
func (s *Store) RolloutGet(ctx context.Context, runID string) (store.Rollout, error) {
	h, err := s.c.HGetAll(ctx, s.key("rollout", runID)).Result()
	if err != nil {
		return store.Rollout{}, fmt.Errorf("get rollout of run %s: %w", runID, err)
	}
	if len(h) == 0 {
		return store.Rollout{}, fmt.Errorf("rollout of run %s: %w", runID, store.ErrNotFound)
	}
	r := store.Rollout{RunID: runID, Model: h["model"], UpdatedAt: parseNanos(h["updated"])}
	r.Version, _ = strconv.ParseInt(h["version"], 10, 64)
	if d := h["data"]; d != "" {
		r.Data = json.RawMessage(d)
	}
	return r, nil
}

var rolloutSaveScript = goredis.NewScript(`
local v = redis.call('HGET', KEYS[1], 'version')
if ARGV[1] == '0' then
  if v then return redis.error_reply('CONFLICT it already exists') end
else
  if not v then return redis.error_reply('CONFLICT no rollout is stored') end
  if v ~= ARGV[1] then return redis.error_reply('CONFLICT version is ' .. v .. ', expected ' .. ARGV[1]) end
end
redis.call('HSET', KEYS[1], 'model', ARGV[2], 'data', ARGV[3], 'version', ARGV[5], 'updated', ARGV[4])
return 1
`)

// RolloutSave writes r if r.Version is the stored version (0 = new) and
// returns it with the bumped version.
func (s *Store) RolloutSave(ctx context.Context, r store.Rollout) (store.Rollout, error) {
	if err := store.CheckRollout(r); err != nil {
		return store.Rollout{}, err
	}
	now := s.now().UTC().Round(0)
	err := rolloutSaveScript.Run(ctx, s.c, []string{s.key("rollout", r.RunID)},
		strconv.FormatInt(r.Version, 10), r.Model, string(r.Data), nanos(now), strconv.FormatInt(r.Version+1, 10)).Err()
	if err != nil {
		return store.Rollout{}, mapErr(err, "save rollout of run "+r.RunID)
	}
	r.Version++
	r.UpdatedAt = now
	return r, nil
}
