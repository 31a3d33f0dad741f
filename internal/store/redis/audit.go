package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/modelgate/modelgate/internal/store"
)

// auditDoc keeps Data as bytes (base64 in JSON) so that it comes back
// byte for byte: the chain hash covers it.
type auditDoc struct {
	Seq   int64     `json:"seq"`
	Time  time.Time `json:"time"`
	Type  string    `json:"type"`
	RunID string    `json:"run_id,omitempty"`
	Actor string    `json:"actor,omitempty"`
	Data  []byte    `json:"data,omitempty"`
	Hash  string    `json:"hash"`
}

func (d auditDoc) entry() store.AuditEntry {
	e := store.AuditEntry{Seq: d.Seq, Time: d.Time.UTC(), Type: d.Type, RunID: d.RunID, Actor: d.Actor, Hash: d.Hash}
	if len(d.Data) > 0 {
		e.Data = d.Data
	}
	return e
}

// The trail: hash seq -> doc, sorted sets of seqs (all, per run, per type)
// for paging, and the last seq.
var auditAppendScript = goredis.NewScript(`
local last = tonumber(redis.call('GET', KEYS[3]) or '0')
local first = tonumber(ARGV[2])
if first ~= last + 1 then
  return redis.error_reply('CONFLICT the next seq is ' .. string.format('%d', last + 1))
end
local seq = first
for i = 3, #ARGV, 3 do
  local s = string.format('%d', seq)
  redis.call('HSET', KEYS[1], s, ARGV[i])
  redis.call('ZADD', KEYS[2], s, s)
  if ARGV[i + 1] ~= '' then redis.call('ZADD', ARGV[1] .. 'auditrun:' .. ARGV[i + 1], s, s) end
  redis.call('ZADD', ARGV[1] .. 'audittype:' .. ARGV[i + 2], s, s)
  seq = seq + 1
end
redis.call('SET', KEYS[3], string.format('%d', seq - 1))
return 1
`)

// AuditAppend stores e when e.Seq is the next sequence number.
func (s *Store) AuditAppend(ctx context.Context, e store.AuditEntry) error {
	return s.AuditAppendBatch(ctx, []store.AuditEntry{e})
}

// AuditAppendBatch stores consecutive entries atomically (one script):
// all or none; ErrConflict unless the first is the next seq.
func (s *Store) AuditAppendBatch(ctx context.Context, es []store.AuditEntry) error {
	if len(es) == 0 {
		return nil
	}
	args := []any{s.pfx, es[0].Seq}
	for i, e := range es {
		if i > 0 && e.Seq != es[i-1].Seq+1 {
			return fmt.Errorf("append audit batch: seq %d follows %d: %w", e.Seq, es[i-1].Seq, store.ErrConflict)
		}
		b, err := json.Marshal(auditDoc{Seq: e.Seq, Time: e.Time.UTC(), Type: e.Type, RunID: e.RunID, Actor: e.Actor, Data: e.Data, Hash: e.Hash})
		if err != nil {
			return fmt.Errorf("append audit entry %d: encode: %w", e.Seq, err)
		}
		args = append(args, string(b), e.RunID, e.Type)
	}
	err := auditAppendScript.Run(ctx, s.c, []string{s.key("audit"), s.key("auditz"), s.key("auditlast")}, args...).Err()
	return mapErr(err, fmt.Sprintf("append audit entry %d", es[0].Seq))
}

func (s *Store) auditDocs(ctx context.Context, seqs []string) ([]store.AuditEntry, error) {
	if len(seqs) == 0 {
		return []store.AuditEntry{}, nil
	}
	docs, err := s.c.HMGet(ctx, s.key("audit"), seqs...).Result()
	if err != nil {
		return nil, err
	}
	out := make([]store.AuditEntry, 0, len(docs))
	for i, d := range docs {
		str, ok := d.(string)
		if !ok {
			return nil, fmt.Errorf("audit entry %s is indexed but missing", seqs[i])
		}
		var doc auditDoc
		if err := json.Unmarshal([]byte(str), &doc); err != nil {
			return nil, fmt.Errorf("decode audit entry %s: %w", seqs[i], err)
		}
		out = append(out, doc.entry())
	}
	return out, nil
}

// AuditList pages through the trail in sequence order.
func (s *Store) AuditList(ctx context.Context, p store.AuditListParams) ([]store.AuditEntry, error) {
	limit := limitOr(p.Limit, 1000)
	idx := s.key("auditz")
	switch {
	case p.RunID != "":
		idx = s.key("auditrun", p.RunID)
	case p.Type != "":
		idx = s.key("audittype", p.Type)
	}
	out := []store.AuditEntry{}
	after := p.AfterSeq
	for len(out) < limit {
		seqs, err := s.c.ZRangeByScore(ctx, idx, &goredis.ZRangeBy{
			Min: "(" + strconv.FormatInt(after, 10), Max: "+inf", Count: int64(limit - len(out)),
		}).Result()
		if err != nil {
			return nil, fmt.Errorf("list audit entries after %d: %w", p.AfterSeq, err)
		}
		if len(seqs) == 0 {
			break
		}
		es, err := s.auditDocs(ctx, seqs)
		if err != nil {
			return nil, fmt.Errorf("list audit entries after %d: %w", p.AfterSeq, err)
		}
		for _, e := range es {
			// A run filter uses the run's index; a type filter on top is
			// applied here.
			if p.RunID != "" && p.Type != "" && e.Type != p.Type {
				continue
			}
			out = append(out, e)
		}
		after = es[len(es)-1].Seq
	}
	return out, nil
}

// AuditLast returns the entry with the highest seq.
func (s *Store) AuditLast(ctx context.Context) (store.AuditEntry, error) {
	last, err := s.c.Get(ctx, s.key("auditlast")).Result()
	if errors.Is(err, goredis.Nil) {
		return store.AuditEntry{}, fmt.Errorf("last audit entry: trail is empty: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.AuditEntry{}, fmt.Errorf("last audit entry: %w", err)
	}
	es, err := s.auditDocs(ctx, []string{last})
	if err != nil {
		return store.AuditEntry{}, fmt.Errorf("last audit entry: %w", err)
	}
	return es[0], nil
}

var checkpointPutScript = goredis.NewScript(`
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur then
  if cur == ARGV[2] then return 0 end
  return redis.error_reply('CONFLICT another checkpoint exists there')
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
`)

// AuditCheckpointPut stores a checkpoint; the identical one again is a
// no-op, another at the same seq ErrConflict.
func (s *Store) AuditCheckpointPut(ctx context.Context, c store.Checkpoint) error {
	c.Time = c.Time.UTC()
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("put audit checkpoint at seq %d: encode: %w", c.Seq, err)
	}
	err = checkpointPutScript.Run(ctx, s.c, []string{s.key("checkpoints")}, strconv.FormatInt(c.Seq, 10), string(b)).Err()
	return mapErr(err, fmt.Sprintf("put audit checkpoint at seq %d", c.Seq))
}

// AuditCheckpointList returns every checkpoint by seq.
func (s *Store) AuditCheckpointList(ctx context.Context) ([]store.Checkpoint, error) {
	m, err := s.c.HGetAll(ctx, s.key("checkpoints")).Result()
	if err != nil {
		return nil, fmt.Errorf("list audit checkpoints: %w", err)
	}
	out := make([]store.Checkpoint, 0, len(m))
	for _, v := range m {
		var c store.Checkpoint
		if err := json.Unmarshal([]byte(v), &c); err != nil {
			return nil, fmt.Errorf("list audit checkpoints: decode: %w", err)
		}
		c.Time = c.Time.UTC()
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out, nil
}
