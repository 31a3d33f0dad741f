package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	goredis "github.com/redis/go-redis/v9"

	"github.com/modelgate/modelgate/internal/store"
)

// A version's notes live in two keys: its description in the model's
// mvdesc hash and its tags in a hash of their own, so that setting and
// removing tags is HSET and HDEL in one MULTI, with no read-modify-write.
func (s *Store) tagsKey(model, version string) string { return s.key("mvtags", model+"\x00"+version) }

func (s *Store) versionExists(ctx context.Context, model, version string) error {
	ok, err := s.c.HExists(ctx, s.key("mvdigest", model), version).Result()
	if err != nil {
		return fmt.Errorf("model version %s@%s: %w", model, version, err)
	}
	if !ok {
		return fmt.Errorf("model version %s@%s: %w", model, version, store.ErrNotFound)
	}
	return nil
}

// ModelVersionAnnotate changes a version's description and tags.
// Versions are never deleted, so checking that it exists before the
// MULTI cannot race with anything.
func (s *Store) ModelVersionAnnotate(ctx context.Context, p store.ModelVersionAnnotateParams) (store.VersionNotes, error) {
	if err := p.Validate(); err != nil {
		return store.VersionNotes{}, err
	}
	if err := s.versionExists(ctx, p.Model, p.Version); err != nil {
		return store.VersionNotes{}, fmt.Errorf("annotate: %w", err)
	}
	now := s.now().UTC().Round(0)
	_, err := s.c.TxPipelined(ctx, func(tx goredis.Pipeliner) error {
		if p.Description != nil {
			tx.HSet(ctx, s.key("mvdesc", p.Model), p.Version, *p.Description)
		}
		if len(p.SetTags) > 0 {
			tx.HSet(ctx, s.tagsKey(p.Model, p.Version), p.SetTags)
		}
		if len(p.DeleteTags) > 0 {
			tx.HDel(ctx, s.tagsKey(p.Model, p.Version), p.DeleteTags...)
		}
		tx.HSet(ctx, s.key("mvnoted", p.Model), p.Version, nanos(now))
		return nil
	})
	if err != nil {
		return store.VersionNotes{}, fmt.Errorf("annotate %s@%s: %w", p.Model, p.Version, err)
	}
	return s.ModelVersionNotes(ctx, p.Model, p.Version)
}

// ModelVersionNotes returns a version's description and tags.
func (s *Store) ModelVersionNotes(ctx context.Context, model, version string) (store.VersionNotes, error) {
	if err := s.versionExists(ctx, model, version); err != nil {
		return store.VersionNotes{}, err
	}
	var (
		desc, noted *goredis.StringCmd
		tags        *goredis.MapStringStringCmd
	)
	_, err := s.c.Pipelined(ctx, func(pl goredis.Pipeliner) error {
		desc = pl.HGet(ctx, s.key("mvdesc", model), version)
		noted = pl.HGet(ctx, s.key("mvnoted", model), version)
		tags = pl.HGetAll(ctx, s.tagsKey(model, version))
		return nil
	})
	if err != nil && !errors.Is(err, goredis.Nil) {
		return store.VersionNotes{}, fmt.Errorf("notes of %s@%s: %w", model, version, err)
	}
	n := store.VersionNotes{Description: desc.Val(), UpdatedAt: parseNanos(noted.Val())}
	if t := tags.Val(); len(t) > 0 {
		n.Tags = t
	}
	return n, nil
}

var aliasSetScript = goredis.NewScript(`
if redis.call('HEXISTS', KEYS[2], ARGV[2]) == 0 then return redis.error_reply('NOTFOUND version') end
local cur = redis.call('HGET', KEYS[1], ARGV[1])
local curv, curp = '', ''
if cur then
  local a = cjson.decode(cur)
  curv, curp = a['version'] or '', a['previous'] or ''
end
if ARGV[3] == '1' and ARGV[4] ~= curv then
  return redis.error_reply('CONFLICT alias points at "' .. curv .. '", expected "' .. ARGV[4] .. '"')
end
local prev = curv
if prev == ARGV[2] then prev = curp end
local doc = '{"previous":' .. cjson.encode(prev) .. string.sub(ARGV[5], 15)
redis.call('HSET', KEYS[1], ARGV[1], doc)
return doc
`)

// aliasDoc is an alias as stored: Previous is always present so that the
// script can fill it in without decoding and re-encoding the document.
type aliasDoc struct {
	Model     string `json:"model"`
	Name      string `json:"name"`
	Version   string `json:"version"`
	Previous  string `json:"previous"`
	Actor     string `json:"actor"`
	Reason    string `json:"reason"`
	UpdatedAt string `json:"updated_at"`
}

func (d aliasDoc) alias() store.Alias {
	return store.Alias{Model: d.Model, Name: d.Name, Version: d.Version, Previous: d.Previous, Actor: d.Actor, Reason: d.Reason,
		UpdatedAt: parseNanos(d.UpdatedAt)}
}

// AliasSet points an alias at a registered version, compare-and-swapped
// on p.Expect, in one script.
func (s *Store) AliasSet(ctx context.Context, p store.AliasSetParams) (store.Alias, error) {
	if err := p.Validate(); err != nil {
		return store.Alias{}, err
	}
	now := s.now().UTC().Round(0)
	// previous comes first and empty ({"previous":"" is 14 bytes), so
	// the script fills it in by splicing, without decoding the document.
	doc := aliasDoc{Previous: "", Model: p.Model, Name: p.Name, Version: p.Version, Actor: p.Actor, Reason: p.Reason, UpdatedAt: nanos(now)}
	b, err := json.Marshal(struct {
		Previous string `json:"previous"`
		aliasDoc
	}{"", doc})
	if err != nil {
		return store.Alias{}, err
	}
	has, expect := "0", ""
	if p.Expect != nil {
		has, expect = "1", *p.Expect
	}
	out, err := aliasSetScript.Run(ctx, s.c, []string{s.key("alias", p.Model), s.key("mvdigest", p.Model)},
		p.Name, p.Version, has, expect, string(b)).Text()
	if err != nil {
		return store.Alias{}, mapErr(err, fmt.Sprintf("set alias %s of %s to %s", p.Name, p.Model, p.Version))
	}
	return decodeAlias(out)
}

func decodeAlias(doc string) (store.Alias, error) {
	var d aliasDoc
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		return store.Alias{}, fmt.Errorf("decode alias: %w", err)
	}
	return d.alias(), nil
}

// AliasGet returns one alias.
func (s *Store) AliasGet(ctx context.Context, model, name string) (store.Alias, error) {
	doc, err := s.c.HGet(ctx, s.key("alias", model), name).Result()
	if err != nil {
		return store.Alias{}, mapErr(err, fmt.Sprintf("alias %s of %s", name, model))
	}
	return decodeAlias(doc)
}

// AliasList returns a model's aliases by name.
func (s *Store) AliasList(ctx context.Context, model string) ([]store.Alias, error) {
	m, err := s.c.HGetAll(ctx, s.key("alias", model)).Result()
	if err != nil {
		return nil, fmt.Errorf("list aliases of %s: %w", model, err)
	}
	out := []store.Alias{}
	for _, doc := range m {
		a, err := decodeAlias(doc)
		if err != nil {
			return nil, fmt.Errorf("list aliases of %s: %w", model, err)
		}
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
