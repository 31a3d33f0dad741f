package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	goredis "github.com/redis/go-redis/v9"

	"github.com/modelgate/modelgate/internal/store"
)

// An approval is a hash: "doc" is the Approval as JSON (the source of
// truth); version, state, run_id and created are copied out for the
// compare-and-swap and the list filters.

var approvalCreateScript = goredis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.error_reply('CONFLICT an approval with this id exists') end
redis.call('HSET', KEYS[1], 'doc', ARGV[2], 'version', '1', 'state', ARGV[3], 'run_id', ARGV[4], 'created', ARGV[5])
local n = redis.call('INCR', KEYS[3])
redis.call('ZADD', KEYS[2], ARGV[6], string.format('%016x', n) .. ':' .. ARGV[1])
return 1
`)

// ApprovalCreate stores a new approval request at version 1.
func (s *Store) ApprovalCreate(ctx context.Context, a store.Approval) (store.Approval, error) {
	a, err := store.PrepareApproval(a, s.now())
	if err != nil {
		return store.Approval{}, err
	}
	doc, err := json.Marshal(a)
	if err != nil {
		return store.Approval{}, fmt.Errorf("create approval %s: encode: %w", a.ID, err)
	}
	err = approvalCreateScript.Run(ctx, s.c, []string{s.key("ap", a.ID), s.key("aps"), s.key("aps", "counter")},
		a.ID, string(doc), string(a.State), a.RunID, nanos(a.CreatedAt), score(a.CreatedAt)).Err()
	if err != nil {
		return store.Approval{}, mapErr(err, "create approval "+a.ID)
	}
	return decodeApproval(string(doc))
}

func decodeApproval(doc string) (store.Approval, error) {
	var a store.Approval
	if err := json.Unmarshal([]byte(doc), &a); err != nil {
		return store.Approval{}, fmt.Errorf("decode approval: %w", err)
	}
	return a, nil
}

// ApprovalGet returns one approval.
func (s *Store) ApprovalGet(ctx context.Context, id string) (store.Approval, error) {
	doc, err := s.c.HGet(ctx, s.key("ap", id), "doc").Result()
	if err != nil {
		return store.Approval{}, mapErr(err, "approval "+id)
	}
	return decodeApproval(doc)
}

// ApprovalList returns approvals newest first.
func (s *Store) ApprovalList(ctx context.Context, p store.ApprovalListParams) ([]store.Approval, error) {
	lp := listParams{zset: s.key("aps"), kind: "ap:", limit: limitOr(p.Limit, 100)}
	if p.RunID != "" {
		lp.eq = append(lp.eq, [2]string{"run_id", p.RunID})
	}
	for _, st := range p.States {
		lp.states = append(lp.states, string(st))
	}
	ids, err := s.list(ctx, lp)
	if err != nil {
		return nil, fmt.Errorf("list approvals: %w", err)
	}
	out := make([]store.Approval, 0, len(ids))
	for _, id := range ids {
		a, err := s.ApprovalGet(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("list approvals: %w", err)
		}
		out = append(out, a)
	}
	return out, nil
}

var approvalDecideScript = goredis.NewScript(`
local v = redis.call('HGET', KEYS[1], 'version')
if not v then return redis.error_reply('NOTFOUND') end
if v ~= ARGV[1] then return redis.error_reply('CONFLICT version is ' .. v .. ', expected ' .. ARGV[1]) end
redis.call('HSET', KEYS[1], 'doc', ARGV[2], 'version', ARGV[3], 'state', ARGV[4])
return 1
`)

// ApprovalDecide writes the new state and votes when the stored version
// is still p.ExpectVersion. The new document is built from a read; the
// script only writes it if the version did not move in between.
func (s *Store) ApprovalDecide(ctx context.Context, p store.ApprovalDecideParams) (store.Approval, error) {
	what := "decide approval " + p.ID
	a, err := s.ApprovalGet(ctx, p.ID)
	if err != nil {
		return store.Approval{}, fmt.Errorf("%s: %w", what, err)
	}
	if a, err = p.Apply(a); err != nil {
		return store.Approval{}, fmt.Errorf("%s: %w", what, err)
	}
	doc, err := json.Marshal(a)
	if err != nil {
		return store.Approval{}, fmt.Errorf("%s: encode: %w", what, err)
	}
	err = approvalDecideScript.Run(ctx, s.c, []string{s.key("ap", p.ID)},
		strconv.FormatInt(p.ExpectVersion, 10), string(doc), strconv.FormatInt(a.Version, 10), string(a.State)).Err()
	if err != nil {
		return store.Approval{}, mapErr(err, what)
	}
	return decodeApproval(string(doc))
}
