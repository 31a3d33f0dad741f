package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// Client talks to one modelgate server.
type Client struct {
	Base  string // e.g. http://127.0.0.1:8080
	Token string
	HTTP  *http.Client
}

// New builds a client; empty arguments fall back to MODELGATE_SERVER and
// MODELGATE_TOKEN, then to http://127.0.0.1:8080.
func New(base, token string) *Client {
	if base == "" {
		base = os.Getenv("MODELGATE_SERVER")
	}
	if base == "" {
		base = "http://127.0.0.1:8080"
	}
	if token == "" {
		token = os.Getenv("MODELGATE_TOKEN")
	}
	return &Client{Base: strings.TrimRight(base, "/"), Token: token, HTTP: &http.Client{Timeout: 60 * time.Second}}
}

// Error is an error answered by the server.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("server answered %d %s: %s", e.Status, e.Code, e.Message)
}

// Do sends a request with an optional JSON body and decodes a JSON answer into out.
func (c *Client) Do(ctx context.Context, method, path string, body any, out any, headers ...string) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] != "" {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("reach modelgate server at %s: %w", c.Base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return resp, fmt.Errorf("read answer of %s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		return resp, errorOf(resp.StatusCode, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return resp, fmt.Errorf("decode answer of %s %s: %w", method, path, err)
		}
	}
	return resp, nil
}

// errorOf reads the API's error envelope, or keeps the body as text.
func errorOf(status int, data []byte) error {
	var env struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if json.Unmarshal(data, &env) == nil && env.Error.Code != "" {
		return &Error{Status: status, Code: env.Error.Code, Message: env.Error.Message}
	}
	return &Error{Status: status, Code: http.StatusText(status), Message: strings.TrimSpace(string(data))}
}

func decodeError(resp *http.Response) error {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return errorOf(resp.StatusCode, data)
}

// Event is one server-sent event.
type Event struct {
	ID   string // the SSE id: the audit sequence number it came from
	Type string
	Data json.RawMessage
}

// EventsParams tune how Events follows a stream across restarts of the
// server.
type EventsParams struct {
	// Reconnecting, when set, is told of each lost connection before the
	// next try, so that a CLI can say why it is quiet.
	Reconnecting func(err error, wait time.Duration)
	// GiveUpAfter bounds how long the server may stay unreachable;
	// default 5 minutes.
	GiveUpAfter time.Duration
	// MinBackoff and MaxBackoff bound the wait between tries, doubling
	// from the first; defaults 250ms and 5s.
	MinBackoff, MaxBackoff time.Duration
}

// Events streams a run's events until the run ends (a snapshot or state
// event with a terminal state), fn returns an error, or ctx is done. A
// stream that breaks before the run ends (the server restarted, a proxy
// cut it) is resumed with backoff from the last event id, so fn sees
// every event once. Errors the server answers with (401, 403, 404) end
// it at once.
func (c *Client) Events(ctx context.Context, runID string, fn func(Event) error) error {
	return c.EventsWith(ctx, runID, EventsParams{}, fn)
}

// EventsWith is Events with its reconnection tuned.
func (c *Client) EventsWith(ctx context.Context, runID string, p EventsParams, fn func(Event) error) error {
	if p.GiveUpAfter <= 0 {
		p.GiveUpAfter = 5 * time.Minute
	}
	if p.MinBackoff <= 0 {
		p.MinBackoff = 250 * time.Millisecond
	}
	if p.MaxBackoff <= 0 {
		p.MaxBackoff = 5 * time.Second
	}
	var lastID string
	wait := p.MinBackoff
	var downSince time.Time
	for {
		progressed, ended, err := c.eventsOnce(ctx, runID, &lastID, fn)
		if ended {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var ae *Error
		if errors.As(err, &ae) && ae.Status < 500 {
			return err
		}
		var se streamError
		if errors.As(err, &se) {
			return se.err // fn said stop
		}
		if err == nil {
			err = errors.New("event stream ended before the run did")
		}
		if progressed {
			downSince, wait = time.Time{}, p.MinBackoff
		}
		if downSince.IsZero() {
			downSince = time.Now()
		}
		if time.Since(downSince) > p.GiveUpAfter {
			return fmt.Errorf("follow run %s: server unreachable for %s: %w", runID, p.GiveUpAfter, err)
		}
		if p.Reconnecting != nil {
			p.Reconnecting(err, wait)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, p.MaxBackoff)
	}
}

// streamError carries an error fn returned, which ends Events as it is.
type streamError struct{ err error }

func (e streamError) Error() string { return e.err.Error() }

// eventsOnce reads one connection of the stream. It reports whether any
// event arrived (the server was up) and whether the run ended.
func (c *Client) eventsOnce(ctx context.Context, runID string, lastID *string, fn func(Event) error) (progressed, ended bool, err error) {
	req, err := http.NewRequestWithContext(ctx, "GET", c.Base+"/v1/runs/"+runID+"/events", nil)
	if err != nil {
		return false, false, err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("Accept", "text/event-stream")
	if *lastID != "" {
		req.Header.Set("Last-Event-ID", *lastID)
	}
	hc := *c.HTTP
	hc.Timeout = 0 // a stream lives as long as the run
	resp, err := hc.Do(req)
	if err != nil {
		return false, false, fmt.Errorf("reach modelgate server at %s: %w", c.Base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return false, false, decodeError(resp)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var ev Event
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "id: "):
			ev.ID = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "event: "):
			ev.Type = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			ev.Data = append(ev.Data, strings.TrimPrefix(line, "data: ")...)
		case line == "":
			if ev.Type != "" {
				progressed = true
				if ev.ID != "" {
					*lastID = ev.ID
				}
				if err := fn(ev); err != nil {
					return progressed, false, streamError{err}
				}
				if ev.Type == "snapshot" || ev.Type == "state" {
					var st struct {
						State string `json:"state"`
					}
					if json.Unmarshal(ev.Data, &st) == nil && terminal(st.State) {
						return progressed, true, nil
					}
				}
			}
			ev = Event{}
		}
	}
	if err := sc.Err(); err != nil {
		return progressed, false, fmt.Errorf("read event stream: %w", err)
	}
	return progressed, false, nil
}

// terminal mirrors store.RunState.Terminal; the client does not import
// the store.
func terminal(state string) bool {
	switch state {
	case "succeeded", "failed", "rolled_back", "cancelled":
		return true
	}
	return false
}
