package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"
)

// ReplayOptions configures a traffic generator that replays rows through
// a gateway, as clients would send them.
type ReplayOptions struct {
	URL         string        // gateway base URL, e.g. http://127.0.0.1:8080
	Model       string        // required
	Rows        [][]float64   // replayed in order, cycling; required
	Features    []string      // column names, for the caller's records only (rows are sent as one [1, F] tensor)
	RPS         int           // requests per second over all workers; 0 = as fast as the workers go
	Duration    time.Duration // how long to send; 0 with Requests > 0 means "until Requests are sent"
	Requests    int           // stop after this many; 0 = no limit
	Concurrency int           // workers; default 4
	Header      func(i int) http.Header
	Client      *http.Client
}

// ReplayResult counts what the clients saw.
type ReplayResult struct {
	Sent         int            `json:"sent"`
	OK           int            `json:"ok"`
	Failed       int            `json:"failed"` // non-2xx or no answer
	ByStatus     map[int]int    `json:"by_status"`
	ByVersion    map[string]int `json:"by_version"` // X-Modelgate-Version of the answers
	Fallbacks    int            `json:"fallbacks"`  // answers stable gave for a failing candidate
	LatencyP50Ms float64        `json:"latency_p50_ms"`
	LatencyP99Ms float64        `json:"latency_p99_ms"`
	Elapsed      time.Duration  `json:"elapsed"`
}

// Replay sends opts.Rows to the gateway's V2 infer route, one row per
// request, at the given rate, until the duration or request count is
// reached or ctx ends. Errors are only for options that cannot work; a
// failing request is counted, not returned.
func Replay(ctx context.Context, o ReplayOptions) (ReplayResult, error) {
	if o.Model == "" || len(o.Rows) == 0 {
		return ReplayResult{}, errors.New("replay: Model and Rows are required")
	}
	if o.Duration <= 0 && o.Requests <= 0 {
		return ReplayResult{}, errors.New("replay: give a Duration or a number of Requests")
	}
	if u, err := url.Parse(o.URL); err != nil || u.Host == "" {
		return ReplayResult{}, fmt.Errorf("replay: gateway URL %q is not a base URL", o.URL)
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 30 * time.Second}
	}
	target := joinURL(o.URL, "/v2/models/"+url.PathEscape(o.Model)+"/infer")
	bodies := make([][]byte, len(o.Rows))
	for i, r := range o.Rows {
		bodies[i] = EncodeRequest([][]float64{r})
	}
	if o.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Duration)
		defer cancel()
	}
	var tick <-chan time.Time
	if o.RPS > 0 {
		t := time.NewTicker(time.Second / time.Duration(o.RPS))
		defer t.Stop()
		tick = t.C
	}
	next := make(chan int)
	go func() {
		defer close(next)
		for i := 0; o.Requests <= 0 || i < o.Requests; i++ {
			if tick != nil {
				select {
				case <-tick:
				case <-ctx.Done():
					return
				}
			}
			select {
			case next <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	res := ReplayResult{ByStatus: map[int]int{}, ByVersion: map[string]int{}}
	var mu sync.Mutex
	var lat []float64
	start := time.Now()
	var wg sync.WaitGroup
	for range o.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				// The request is not tied to ctx: a deadline that ends the
				// replay should not turn the last in-flight calls into failures.
				req, _ := http.NewRequest(http.MethodPost, target, bytes.NewReader(bodies[i%len(bodies)]))
				req.Header.Set("Content-Type", "application/json")
				if o.Header != nil {
					for k, v := range o.Header(i) {
						req.Header[k] = v
					}
				}
				t0 := time.Now()
				resp, err := o.Client.Do(req)
				ms := float64(time.Since(t0).Nanoseconds()) / 1e6
				mu.Lock()
				res.Sent++
				lat = append(lat, ms)
				if err != nil {
					res.Failed++
					res.ByStatus[0]++
					mu.Unlock()
					continue
				}
				res.ByStatus[resp.StatusCode]++
				if resp.StatusCode/100 == 2 {
					res.OK++
				} else {
					res.Failed++
				}
				if v := resp.Header.Get("X-Modelgate-Version"); v != "" {
					res.ByVersion[v]++
				}
				if resp.Header.Get("X-Modelgate-Fallback") != "" {
					res.Fallbacks++
				}
				mu.Unlock()
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	slices.Sort(lat)
	res.LatencyP50Ms, res.LatencyP99Ms = Quantile(lat, 0.5), Quantile(lat, 0.99)
	return res, nil
}
