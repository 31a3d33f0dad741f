package taskq

import (
	"context"
	"sync"
	"time"
)

// Waiting for a result: a stored result is announced on the channel
// <prefix>results, and every queue that has a waiter listens there, so a
// coordinator hears of a report at once instead of polling for it.
// Pub/sub drops what a disconnected subscriber misses, so a waiter also
// looks every fallback interval whatever it heard.

type waiters struct {
	once sync.Once
	mu   sync.Mutex
	m    map[string]map[chan struct{}]bool
}

func (q *Queue) resultsChannel() string { return q.o.Prefix + "results" }

// listen relays result announcements to the waiters of their keys until
// the queue is closed.
func (q *Queue) listen() {
	ps := q.blocking.Subscribe(context.Background(), q.resultsChannel())
	go func() {
		defer ps.Close()
		for msg := range ps.Channel() {
			q.w.mu.Lock()
			for ch := range q.w.m[msg.Payload] {
				select {
				case ch <- struct{}{}:
				default:
				}
			}
			q.w.mu.Unlock()
		}
	}()
	q.w.mu.Lock()
	q.closers = append(q.closers, ps.Close)
	q.w.mu.Unlock()
}

// ResultWait returns the result stored under key, waiting for it until
// ctx ends; it looks again every fallback (default 1 s) in case an
// announcement was missed.
func (q *Queue) ResultWait(ctx context.Context, key string, fallback time.Duration) ([]byte, error) {
	if fallback <= 0 {
		fallback = time.Second
	}
	q.w.once.Do(q.listen)
	ch := make(chan struct{}, 1)
	q.w.mu.Lock()
	if q.w.m == nil {
		q.w.m = map[string]map[chan struct{}]bool{}
	}
	if q.w.m[key] == nil {
		q.w.m[key] = map[chan struct{}]bool{}
	}
	q.w.m[key][ch] = true
	q.w.mu.Unlock()
	defer func() {
		q.w.mu.Lock()
		delete(q.w.m[key], ch)
		if len(q.w.m[key]) == 0 {
			delete(q.w.m, key)
		}
		q.w.mu.Unlock()
	}()
	t := time.NewTicker(fallback)
	defer t.Stop()
	for {
		raw, err := q.ResultGet(ctx, key)
		if err != nil && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err == nil && raw != nil {
			return raw, nil
		}
		// an error other than ctx's: Redis may be back at the next look
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-ch:
		case <-t.C:
		}
	}
}
