package taskq

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// A worker that reaches the queue only through its server (the task API)
// holds a claim: a token the server issued with the delivery, which every
// later call for the task must show. The server keeps the claims and the
// results here, beside the streams, so that any replica can check them.

// Claim is one delivery of a task to one worker.
type Claim struct {
	ID       string    `json:"id"` // TaskID of the task
	Token    string    `json:"token"`
	Worker   string    `json:"worker"`   // the token subject it was issued to
	Consumer string    `json:"consumer"` // the consumer name in the group
	Task     Task      `json:"task"`
	EntryID  string    `json:"entry_id"`
	Issued   time.Time `json:"issued"`
}

// ErrNoClaim is returned for a task id with no current claim, or a token
// that is not the current claim's (a newer delivery superseded it).
var ErrNoClaim = errors.New("no such claim")

// ErrReported is returned by ResultPut when the task's key already has a
// result: the first one stands.
var ErrReported = errors.New("the task was already reported")

// claimTTL bounds how long a claim is kept: far longer than any stage.
const claimTTL = 48 * time.Hour

// resultTTL bounds how long a result is kept once stored: the coordinator
// copies it into the run's stage at once; the key only has to outlive
// redeliveries of the same task.
const resultTTL = 7 * 24 * time.Hour

// TaskID names a delivered task in the worker API: stage and stream entry.
func TaskID(t Task) string { return t.Stage + ":" + t.ID }

// ParseTaskID splits a TaskID, naming what is wrong.
func ParseTaskID(id string) (stage, entry string, err error) {
	stage, entry, ok := strings.Cut(id, ":")
	if !ok || stage == "" || entry == "" || len(id) > 200 || strings.ContainsAny(id, " \t\r\n/") {
		return "", "", fmt.Errorf("task id %q is not <stage>:<entry id>", clipID(id))
	}
	for _, r := range entry {
		if (r < '0' || r > '9') && r != '-' {
			return "", "", fmt.Errorf("task id %q: entry id %q is not <ms>-<seq>", clipID(id), entry)
		}
	}
	return stage, entry, nil
}

func clipID(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

func (q *Queue) claimKey(id string) string   { return q.o.Prefix + "claims:" + id }
func (q *Queue) resultKey(key string) string { return q.o.Prefix + "results:" + key }

// ClaimIssue records a new claim on a delivered task for worker, replacing
// any earlier claim on it (a task redelivered after its worker went quiet
// belongs to the new worker alone), and returns it with its token.
func (q *Queue) ClaimIssue(ctx context.Context, t Task, worker, consumer string) (Claim, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return Claim{}, fmt.Errorf("claim token: %w", err)
	}
	c := Claim{ID: TaskID(t), Token: hex.EncodeToString(b), Worker: worker, Consumer: consumer, Task: t, EntryID: t.ID, Issued: time.Now().UTC()}
	raw, err := json.Marshal(c)
	if err != nil {
		return Claim{}, fmt.Errorf("claim %s: %w", c.ID, err)
	}
	if err := q.c.Set(ctx, q.claimKey(c.ID), raw, claimTTL).Err(); err != nil {
		return Claim{}, fmt.Errorf("claim %s: %w", c.ID, err)
	}
	return c, nil
}

// ClaimCheck returns the claim on task id if token is its current token
// and worker the subject it was issued to; anything else is ErrNoClaim,
// without saying which part was wrong.
func (q *Queue) ClaimCheck(ctx context.Context, id, token, worker string) (Claim, error) {
	raw, err := q.c.Get(ctx, q.claimKey(id)).Bytes()
	if errors.Is(err, goredis.Nil) {
		return Claim{}, ErrNoClaim
	}
	if err != nil {
		return Claim{}, fmt.Errorf("claim %s: %w", id, err)
	}
	var c Claim
	if err := json.Unmarshal(raw, &c); err != nil {
		return Claim{}, fmt.Errorf("claim %s: %w", id, err)
	}
	// both compared whatever the first answer, so the time taken says nothing
	okTok := subtle.ConstantTimeCompare([]byte(c.Token), []byte(token)) == 1
	okWho := subtle.ConstantTimeCompare([]byte(c.Worker), []byte(worker)) == 1
	if !okTok || !okWho {
		return Claim{}, ErrNoClaim
	}
	c.Task.ID = c.EntryID
	return c, nil
}

// ClaimDrop forgets a claim (its task is done).
func (q *Queue) ClaimDrop(ctx context.Context, id string) error {
	return q.c.Del(ctx, q.claimKey(id)).Err()
}

// ResultPut stores a task's result under its key unless one is already
// there (ErrReported): at-least-once delivery makes a second report of
// the same run, stage and attempt a no-op, and no later report changes
// the first.
func (q *Queue) ResultPut(ctx context.Context, key string, result []byte) error {
	ok, err := q.c.SetNX(ctx, q.resultKey(key), result, resultTTL).Result()
	if err != nil {
		return fmt.Errorf("store result of %s: %w", key, err)
	}
	if !ok {
		return ErrReported
	}
	// waiters look again at once; one that misses this looks anyway soon
	_ = q.c.Publish(ctx, q.resultsChannel(), key).Err()
	return nil
}

// ResultGet returns a task's stored result, or nil when there is none yet.
func (q *Queue) ResultGet(ctx context.Context, key string) ([]byte, error) {
	raw, err := q.c.Get(ctx, q.resultKey(key)).Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read result of %s: %w", key, err)
	}
	return raw, nil
}

// Withdraw takes a task that nobody needs any more (its stage timed out
// or its run was cancelled) off the stream: acknowledged and deleted, so
// no worker starts it, and a worker already on it reports to no one.
func (q *Queue) Withdraw(ctx context.Context, t Task) error {
	_, err := q.c.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.XAck(ctx, q.stream(t.Stage), q.o.Group, t.ID)
		p.XDel(ctx, q.stream(t.Stage), t.ID)
		return nil
	})
	if err != nil {
		return fmt.Errorf("withdraw task %s: %w", t.Key(), err)
	}
	return nil
}

// ErrNotPending is returned by Touch for a task no longer waiting for
// its report (reported, withdrawn or dead-lettered).
var ErrNotPending = errors.New("the task is no longer pending")

// Touch tells the group the consumer is still at work on t: its idle
// time starts again (XCLAIM to itself with JUSTID, which leaves the
// delivery count alone), so a stage longer than ClaimIdle is not handed
// to another worker while its worker is alive.
func (q *Queue) Touch(ctx context.Context, t Task, consumer string) error {
	ids, err := q.c.XClaimJustID(ctx, &goredis.XClaimArgs{Stream: q.stream(t.Stage), Group: q.o.Group,
		Consumer: consumer, MinIdle: 0, Messages: []string{t.ID}}).Result()
	if err != nil {
		return fmt.Errorf("touch task %s: %w", t.Key(), err)
	}
	if len(ids) == 0 {
		return ErrNotPending
	}
	return nil
}

// ClaimIdle is how long a delivered task may go untouched.
func (q *Queue) ClaimIdle() time.Duration { return q.o.ClaimIdle }

func (q *Queue) uploadsKey(id string) string { return q.o.Prefix + "uploads:" + id }

// UploadAdd records that the worker holding task id's claim uploaded
// digest (a trained artifact), so that its report may name that blob and
// no other.
func (q *Queue) UploadAdd(ctx context.Context, id, digest string) error {
	_, err := q.c.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.SAdd(ctx, q.uploadsKey(id), digest)
		p.Expire(ctx, q.uploadsKey(id), claimTTL)
		return nil
	})
	if err != nil {
		return fmt.Errorf("record upload of task %s: %w", id, err)
	}
	return nil
}

// UploadHas reports whether digest was uploaded for task id.
func (q *Queue) UploadHas(ctx context.Context, id, digest string) (bool, error) {
	ok, err := q.c.SIsMember(ctx, q.uploadsKey(id), digest).Result()
	if err != nil {
		return false, fmt.Errorf("uploads of task %s: %w", id, err)
	}
	return ok, nil
}
