package taskq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Options configures a Queue.
type Options struct {
	URL    string // redis:// URL
	Prefix string // starts every key; default "modelgate:"
	Group  string // consumer group; default "workers"
	// MaxDeliveries is how often a task may be delivered before it is
	// dead-lettered; default 5.
	MaxDeliveries int64
	// ClaimIdle is how long a delivered, unacknowledged task waits before
	// another worker may claim it: longer than a stage normally takes to
	// report, or a slow worker's task is run twice; default 1 minute.
	ClaimIdle time.Duration
	// Alert hears of every dead-lettered task (and should audit it).
	Alert func(ctx context.Context, d DeadLetter)
}

// Task is one stage of one run for a worker to do.
type Task struct {
	RunID   string          `json:"run_id"`
	Stage   string          `json:"stage"`
	Attempt int             `json:"attempt"`
	Body    json.RawMessage `json:"body,omitempty"` // what the worker needs, by digest

	// Set on delivery.
	ID         string `json:"-"` // stream entry id
	Deliveries int64  `json:"-"` // 1 on the first delivery
}

// Key names the task for idempotent handling: a redelivery has the same.
func (t Task) Key() string { return fmt.Sprintf("%s/%s/%d", t.RunID, t.Stage, t.Attempt) }

// DeadLetter is a task given up on.
type DeadLetter struct {
	Stage      string    `json:"stage"`
	EntryID    string    `json:"entry_id"`
	Task       Task      `json:"task"`
	Raw        string    `json:"raw,omitempty"` // the entry as stored, when it did not decode
	Deliveries int64     `json:"deliveries"`
	Reason     string    `json:"reason"`
	At         time.Time `json:"at"`
}

// Queue is a connection to the task streams.
type Queue struct {
	c *goredis.Client
	// blocking serves the blocking reads (XREADGROUP BLOCK) alone: each
	// holds a connection for its whole wait, and many waiting workers
	// must not take every connection the rest of the queue needs.
	blocking *goredis.Client
	o        Options
	w        waiters        // result waiters (wait.go)
	closers  []func() error // the result subscription
}

// Open connects and checks that Redis answers.
func Open(ctx context.Context, o Options) (*Queue, error) {
	if o.URL == "" {
		return nil, errors.New("taskq: Options.URL is required")
	}
	opt, err := goredis.ParseURL(o.URL)
	if err != nil {
		return nil, fmt.Errorf("taskq: parse URL: %w", err)
	}
	if o.Prefix == "" {
		o.Prefix = "modelgate:"
	}
	if o.Group == "" {
		o.Group = "workers"
	}
	if o.MaxDeliveries <= 0 {
		o.MaxDeliveries = 5
	}
	if o.ClaimIdle <= 0 {
		o.ClaimIdle = time.Minute
	}
	q := &Queue{c: goredis.NewClient(opt), blocking: goredis.NewClient(opt), o: o}
	if err := q.c.Ping(ctx).Err(); err != nil {
		_ = q.Close()
		return nil, fmt.Errorf("taskq: ping redis: %w", err)
	}
	return q, nil
}

// Close closes the connection pools.
func (q *Queue) Close() error {
	errs := []error{}
	q.w.mu.Lock()
	for _, c := range q.closers {
		errs = append(errs, c())
	}
	q.closers = nil
	q.w.mu.Unlock()
	return errors.Join(append(errs, q.c.Close(), q.blocking.Close())...)
}

func (q *Queue) stream(stage string) string { return q.o.Prefix + "tasks:" + stage }
func (q *Queue) dead() string               { return q.o.Prefix + "tasks:dead" }

// ensureGroup creates the stage's stream and group once; BUSYGROUP means
// another process did.
func (q *Queue) ensureGroup(ctx context.Context, stage string) error {
	err := q.c.XGroupCreateMkStream(ctx, q.stream(stage), q.o.Group, "0").Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return fmt.Errorf("create consumer group for %s: %w", stage, err)
	}
	return nil
}

// Publish adds a task to its stage's stream.
func (q *Queue) Publish(ctx context.Context, t Task) (string, error) {
	if t.RunID == "" || t.Stage == "" {
		return "", errors.New("publish task: run id and stage are required")
	}
	if err := q.ensureGroup(ctx, t.Stage); err != nil {
		return "", err
	}
	b, err := json.Marshal(t)
	if err != nil {
		return "", fmt.Errorf("publish task %s: %w", t.Key(), err)
	}
	id, err := q.c.XAdd(ctx, &goredis.XAddArgs{Stream: q.stream(t.Stage), Values: []any{"task", string(b)}}).Result()
	if err != nil {
		return "", fmt.Errorf("publish task %s: %w", t.Key(), err)
	}
	return id, nil
}

// ReceiveParams asks for tasks of some stages for one consumer.
type ReceiveParams struct {
	Stages   []string
	Consumer string        // this worker's name, unique among workers
	Count    int64         // per stage; default 1
	Block    time.Duration // how long to wait for new tasks; 0 = do not wait
}

// Receive returns tasks for the consumer: first those of dead workers
// idle past ClaimIdle, then new ones. Tasks over MaxDeliveries, and
// entries that do not decode, are dead-lettered instead of returned.
func (q *Queue) Receive(ctx context.Context, p ReceiveParams) ([]Task, error) {
	if p.Consumer == "" || len(p.Stages) == 0 {
		return nil, errors.New("receive tasks: a consumer and at least one stage are required")
	}
	if p.Count <= 0 {
		p.Count = 1
	}
	var out []Task
	for _, st := range p.Stages {
		if err := q.ensureGroup(ctx, st); err != nil {
			return nil, err
		}
		msgs, _, err := q.c.XAutoClaim(ctx, &goredis.XAutoClaimArgs{Stream: q.stream(st), Group: q.o.Group,
			MinIdle: q.o.ClaimIdle, Start: "0", Count: p.Count, Consumer: p.Consumer}).Result()
		if err != nil {
			return nil, fmt.Errorf("reclaim %s tasks: %w", st, err)
		}
		got, err := q.deliver(ctx, st, msgs)
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
	}
	if len(out) > 0 {
		return out, nil
	}
	streams := make([]string, 0, 2*len(p.Stages))
	for _, st := range p.Stages {
		streams = append(streams, q.stream(st))
	}
	for range p.Stages {
		streams = append(streams, ">")
	}
	block, rc := p.Block, q.blocking
	if block <= 0 {
		block, rc = -1, q.c // go-redis: no BLOCK argument
	}
	res, err := rc.XReadGroup(ctx, &goredis.XReadGroupArgs{Group: q.o.Group, Consumer: p.Consumer,
		Streams: streams, Count: p.Count, Block: block}).Result()
	if errors.Is(err, goredis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read tasks: %w", err)
	}
	for _, s := range res {
		got, err := q.deliver(ctx, strings.TrimPrefix(s.Stream, q.o.Prefix+"tasks:"), s.Messages)
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
	}
	return out, nil
}

// deliver decodes delivered entries with their delivery counts and
// dead-letters those that must not run again.
func (q *Queue) deliver(ctx context.Context, stage string, msgs []goredis.XMessage) ([]Task, error) {
	var out []Task
	for _, m := range msgs {
		if m.Values == nil {
			continue // deleted while pending
		}
		n, err := q.deliveries(ctx, stage, m.ID)
		if err != nil {
			return nil, err
		}
		t, derr := Decode(m.Values)
		t.ID, t.Deliveries = m.ID, n
		switch {
		case derr != nil:
			raw, _ := json.Marshal(m.Values)
			err = q.deadLetter(ctx, DeadLetter{Stage: stage, EntryID: m.ID, Raw: string(raw), Deliveries: n, Reason: derr.Error()})
		case n > q.o.MaxDeliveries:
			err = q.deadLetter(ctx, DeadLetter{Stage: stage, EntryID: m.ID, Task: t, Deliveries: n,
				Reason: fmt.Sprintf("delivered %d times (more than %d): its workers keep dying on it", n, q.o.MaxDeliveries)})
		default:
			out = append(out, t)
			continue
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (q *Queue) deliveries(ctx context.Context, stage, id string) (int64, error) {
	p, err := q.c.XPendingExt(ctx, &goredis.XPendingExtArgs{Stream: q.stream(stage), Group: q.o.Group, Start: id, End: id, Count: 1}).Result()
	if err != nil {
		return 0, fmt.Errorf("delivery count of %s task %s: %w", stage, id, err)
	}
	if len(p) == 0 {
		return 1, nil
	}
	return p[0].RetryCount, nil
}

// Decode reads a stream entry's fields as a Task, naming what is wrong.
func Decode(v map[string]any) (Task, error) {
	raw, ok := v["task"].(string)
	if !ok {
		return Task{}, errors.New("task entry has no \"task\" field")
	}
	var t Task
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return Task{}, fmt.Errorf("task entry: %w", err)
	}
	switch {
	case t.RunID == "":
		return Task{}, errors.New("task entry: run_id is empty")
	case t.Stage == "":
		return Task{}, errors.New("task entry: stage is empty")
	case t.Attempt < 0:
		return Task{}, fmt.Errorf("task entry: attempt %d is negative", t.Attempt)
	}
	return t, nil
}

// deadLetter moves an entry to the dead-letter stream, acknowledges it on
// its stage stream, and raises the alert. The XADD and the XACK go in one
// MULTI so a crash between them neither loses nor doubles the entry.
func (q *Queue) deadLetter(ctx context.Context, d DeadLetter) error {
	d.At = time.Now().UTC()
	b, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("dead-letter %s: %w", d.EntryID, err)
	}
	_, err = q.c.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.XAdd(ctx, &goredis.XAddArgs{Stream: q.dead(), Values: []any{"dead", string(b)}})
		p.XAck(ctx, q.stream(d.Stage), q.o.Group, d.EntryID)
		return nil
	})
	if err != nil {
		return fmt.Errorf("dead-letter %s task %s: %w", d.Stage, d.EntryID, err)
	}
	if q.o.Alert != nil {
		q.o.Alert(ctx, d)
	}
	return nil
}

// Ack acknowledges a task: call it only once its report is stored.
func (q *Queue) Ack(ctx context.Context, t Task) error {
	if err := q.c.XAck(ctx, q.stream(t.Stage), q.o.Group, t.ID).Err(); err != nil {
		return fmt.Errorf("ack task %s: %w", t.Key(), err)
	}
	return nil
}

// DeadLetters lists the dead-letter stream, oldest first.
func (q *Queue) DeadLetters(ctx context.Context) ([]DeadLetter, error) {
	msgs, err := q.c.XRange(ctx, q.dead(), "-", "+").Result()
	if err != nil {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	out := make([]DeadLetter, 0, len(msgs))
	for _, m := range msgs {
		var d DeadLetter
		s, _ := m.Values["dead"].(string)
		if err := json.Unmarshal([]byte(s), &d); err != nil {
			return nil, fmt.Errorf("dead letter %s: %w", m.ID, err)
		}
		out = append(out, d)
	}
	return out, nil
}

// Pending counts the tasks delivered and not yet acknowledged.
func (q *Queue) Pending(ctx context.Context, stage string) (int64, error) {
	p, err := q.c.XPending(ctx, q.stream(stage), q.o.Group).Result()
	if err != nil {
		return 0, fmt.Errorf("pending %s tasks: %w", stage, err)
	}
	return p.Count, nil
}

// DeleteAll removes the streams under the prefix (tests clean up).
func (q *Queue) DeleteAll(ctx context.Context, stages ...string) error {
	keys := []string{q.dead()}
	for _, s := range stages {
		keys = append(keys, q.stream(s))
	}
	return q.c.Del(ctx, keys...).Err()
}
