package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/modelgate/modelgate/tools/redact"
)

// transport is the HTTP layer under langchaingo's client. Retries live
// here, not around GenerateContent, because only here is the response's
// status and Retry-After header still visible; langchaingo turns them into
// an error string.
type transport struct {
	client  *http.Client
	timeout time.Duration
	retries int
	backoff time.Duration
	sleep   func(time.Duration)
	metrics *Metrics
}

func (t *transport) Do(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("read request body: %w", err)
		}
		body = b
	}
	// The last line of defence: messages were masked when built, so a
	// credential pattern still here means a caller slipped; refuse rather
	// than send it.
	if redact.String(string(body)) != string(body) {
		return nil, ErrEgress
	}
	var lastErr error
	for attempt := 0; ; attempt++ {
		resp, err := t.once(req, body)
		retry, wait := t.shouldRetry(req.Context(), resp, err, attempt)
		if !retry {
			if err == nil && resp.StatusCode == http.StatusOK {
				return checked(resp)
			}
			return resp, err
		}
		if resp != nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			_ = resp.Body.Close()
			lastErr = fmt.Errorf("status %d", resp.StatusCode)
		} else {
			lastErr = err
		}
		if attempt >= t.retries {
			return nil, fmt.Errorf("llm endpoint: giving up after %d attempts: %w", attempt+1, lastErr)
		}
		t.metrics.retried()
		if err := sleepCtx(req.Context(), t.sleep, wait); err != nil {
			return nil, err
		}
	}
}

// once makes one attempt under its own timeout. The timeout covers reading
// the body too, so the cancel runs when the caller closes it.
func (t *transport) once(req *http.Request, body []byte) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(req.Context(), t.timeout)
	r := req.Clone(ctx)
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	resp, err := t.client.Do(r)
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelBody{ReadCloser: io.NopCloser(io.LimitReader(resp.Body, maxResponseBodyLen)), close: resp.Body.Close, cancel: cancel}
	return resp, nil
}

type cancelBody struct {
	io.ReadCloser
	close  func() error
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.close()
	b.cancel()
	return err
}

// shouldRetry retries what a later attempt can fix: rate limits, server
// errors and transport failures. A 4xx other than 429 (bad key, unknown
// model) fails at once, and so does the caller's own cancellation.
func (t *transport) shouldRetry(ctx context.Context, resp *http.Response, err error, attempt int) (bool, time.Duration) {
	wait := t.backoff << min(attempt, 10)
	wait = wait/2 + time.Duration(rand.Int64N(int64(wait/2)+1)) // jitter, so clients do not retry in step
	if err != nil {
		if ctx.Err() != nil || errors.Is(err, ErrEgress) {
			return false, 0
		}
		return true, wait
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode >= 500:
		if ra, ok := retryAfter(resp.Header.Get("Retry-After")); ok {
			wait = ra
		}
		return true, wait
	default:
		return false, 0
	}
}

// retryAfter reads a Retry-After header: seconds or an HTTP date, capped
// so that a server asking for an hour does not hold a run for an hour.
func retryAfter(v string) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	var d time.Duration
	if n, err := strconv.ParseFloat(v, 64); err == nil && n >= 0 && n < 1e6 {
		d = time.Duration(n * float64(time.Second))
	} else if at, err := http.ParseTime(v); err == nil {
		d = time.Until(at)
	} else {
		return 0, false
	}
	return max(0, min(d, maxRetryAfter)), true
}

func sleepCtx(ctx context.Context, sleep func(time.Duration), d time.Duration) error {
	done := make(chan struct{})
	go func() { sleep(d); close(done) }()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-done:
		return nil
	}
}

// checked reads a 200 answer and refuses shapes langchaingo would crash on
// (a null choice dereferences a nil pointer in v0.1.14), so that a broken
// or hostile endpoint yields an error, not a panic in the server.
func checked(resp *http.Response) (*http.Response, error) {
	b, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("read llm answer: %w", err)
	}
	var shape struct {
		Choices []*struct {
			Message *json.RawMessage `json:"message"`
		} `json:"choices"`
	}
	if err := json.Unmarshal(b, &shape); err != nil {
		return nil, fmt.Errorf("llm answer is not a chat completion: %w", err)
	}
	for i, c := range shape.Choices {
		if c == nil || c.Message == nil || string(*c.Message) == "null" {
			return nil, fmt.Errorf("llm answer: choice %d has no message", i)
		}
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	resp.ContentLength = int64(len(b))
	return resp, nil
}
