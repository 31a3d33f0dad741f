package gateway

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

func TestRouteTableValidate(t *testing.T) {
	t.Parallel()
	st := Backend{Version: "v1", URL: "http://127.0.0.1:1"}
	cand := &Backend{Version: "v2", URL: "http://127.0.0.1:2"}
	tests := []struct {
		name  string
		table RouteTable
		field string
	}{
		{"ok stable", RouteTable{Model: "m", Stable: st, Mode: ModeStable}, ""},
		{"ok canary", RouteTable{Model: "m", Stable: st, Candidate: cand, CandidateWeight: 10, Mode: ModeCanary}, ""},
		{"ok shadow", RouteTable{Model: "m", Stable: st, Candidate: cand, ShadowShare: 1, Mode: ModeShadow}, ""},
		{"no model", RouteTable{Stable: st, Mode: ModeStable}, "model"},
		{"slash in model", RouteTable{Model: "a/b", Stable: st, Mode: ModeStable}, "model"},
		{"no stable version", RouteTable{Model: "m", Stable: Backend{URL: st.URL}, Mode: ModeStable}, "stable"},
		{"bad url", RouteTable{Model: "m", Stable: Backend{Version: "v1", URL: "ftp://x"}, Mode: ModeStable}, "stable"},
		{"weight 101", RouteTable{Model: "m", Stable: st, Candidate: cand, CandidateWeight: 101, Mode: ModeCanary}, "candidate_weight"},
		{"negative shadow", RouteTable{Model: "m", Stable: st, Candidate: cand, ShadowShare: -0.1, Mode: ModeShadow}, "shadow_share"},
		{"NaN shadow", RouteTable{Model: "m", Stable: st, Candidate: cand, ShadowShare: math.NaN(), Mode: ModeShadow}, "shadow_share"},
		{"canary without candidate", RouteTable{Model: "m", Stable: st, CandidateWeight: 5, Mode: ModeCanary}, "candidate"},
		{"candidate same version", RouteTable{Model: "m", Stable: st, Candidate: &Backend{Version: "v1", URL: st.URL}, CandidateWeight: 5, Mode: ModeCanary}, "candidate.version"},
		{"stable mode with weight", RouteTable{Model: "m", Stable: st, Candidate: cand, CandidateWeight: 5, Mode: ModeStable}, "mode"},
		{"shadow mode with weight", RouteTable{Model: "m", Stable: st, Candidate: cand, CandidateWeight: 5, Mode: ModeShadow}, "mode"},
		{"bluegreen half", RouteTable{Model: "m", Stable: st, Candidate: cand, CandidateWeight: 50, Mode: ModeBlueGreen}, "candidate_weight"},
		{"unknown mode", RouteTable{Model: "m", Stable: st, Mode: "yolo"}, "mode"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.table.Validate()
			if tc.field == "" {
				require.NoError(t, err)
				return
			}
			var re *RouteError
			require.ErrorAs(t, err, &re)
			require.Equal(t, tc.field, re.Field, err.Error())
		})
	}
}

func TestRoutesPersistAndReload(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	up := newUpstream(t, constScore(0.3))
	ctx := context.Background()
	table := RouteTable{Model: "fraud", Stable: Backend{Version: "v1", URL: up.URL}, Mode: ModeStable}
	require.NoError(t, b.gw.SetRoutes(ctx, "fraud", table))
	// A route the store refuses never carries traffic; a bad one never reaches the store.
	err := b.gw.SetRoutes(ctx, "fraud", RouteTable{Model: "fraud", Stable: Backend{Version: "v2"}, Mode: ModeStable})
	require.Error(t, err)
	got, ok := b.gw.Routes("fraud")
	require.True(t, ok)
	require.Equal(t, "v1", got.Stable.Version)

	gw2, err := New(Options{Routes: b.store, Logger: log.New(io.Discard)})
	require.NoError(t, err)
	defer gw2.Close()
	_, ok = gw2.Routes("fraud")
	require.False(t, ok)
	require.NoError(t, gw2.Load(ctx))
	got, ok = gw2.Routes("fraud")
	require.True(t, ok)
	require.Equal(t, up.URL, got.Stable.URL)

	// A corrupt stored table is reported by name; the good ones still load.
	require.NoError(t, b.store.RouteSet(ctx, "broken", []byte(`{"model":"broken","mode":"canary"}`)))
	gw3, err := New(Options{Routes: b.store, Logger: log.New(io.Discard)})
	require.NoError(t, err)
	defer gw3.Close()
	err = gw3.Load(ctx)
	require.ErrorContains(t, err, `"broken"`)
	_, ok = gw3.Routes("fraud")
	require.True(t, ok)
}

func TestSplitAndSticky(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{StickyHeader: "X-Customer"})
	stable := newUpstream(t, constScore(0.1))
	cand := newUpstream(t, constScore(0.2))
	ctx := context.Background()
	set := func(w int) {
		require.NoError(t, b.gw.SetRoutes(ctx, "m", RouteTable{Model: "m", Stable: Backend{Version: "v1", URL: stable.URL},
			Candidate: &Backend{Version: "v2", URL: cand.URL}, CandidateWeight: w, Mode: ModeCanary}))
	}
	set(10)
	res, err := Replay(ctx, ReplayOptions{URL: b.srv.URL, Model: "m", Rows: [][]float64{{1, 2}}, Requests: 2000, Concurrency: 8})
	require.NoError(t, err)
	require.Equal(t, 2000, res.OK)
	// Binomial(2000, 0.1): mean 200, sd 13.4; ±6 sd never fails by chance.
	require.InDelta(t, 200, res.ByVersion["v2"], 80, "%v", res.ByVersion)

	// Sticky: the same key always lands on the same version, and raising
	// the weight only moves keys from stable to the candidate.
	versionOf := func(key string) string {
		resp, _ := infer(t, b.srv.URL, "m", [][]float64{{1}}, http.Header{"X-Customer": {key}})
		require.Equal(t, 200, resp.StatusCode)
		return resp.Header.Get("X-Modelgate-Version")
	}
	before := map[string]string{}
	for i := range 200 {
		k := "cust-" + strconv.Itoa(i)
		before[k] = versionOf(k)
		require.Equal(t, before[k], versionOf(k), "key %s moved without a route change", k)
	}
	set(50)
	moved := 0
	for k, v := range before {
		now := versionOf(k)
		if v == "v2" {
			require.Equal(t, "v2", now, "key %s went back to stable when the weight grew", k)
		} else if now == "v2" {
			moved++
		}
	}
	require.Greater(t, moved, 40) // about 40% of the 180 stable keys move at 50%
}

func TestCandidateFaultsFallBackToStable(t *testing.T) {
	t.Parallel()
	faults := []struct {
		name   string
		inject func(u *upstream)
	}{
		{"5xx", func(u *upstream) { u.status.Store(503) }},
		{"malformed body", func(u *upstream) { u.garbage.Store(true) }},
		{"down", func(u *upstream) { u.Close() }},
		{"unknown version at the upstream", func(u *upstream) { u.status.Store(404) }},
	}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, Options{Timeout: 2 * time.Second})
			stable := newUpstream(t, constScore(0.1))
			cand := newUpstream(t, constScore(0.2))
			f.inject(cand)
			ctx := context.Background()
			require.NoError(t, b.gw.SetRoutes(ctx, "m", RouteTable{Model: "m", Stable: Backend{Version: "v1", URL: stable.URL},
				Candidate: &Backend{Version: "v2", URL: cand.URL}, CandidateWeight: 100, Mode: ModeCanary}))
			mark := b.gw.Mark("m")
			for range 5 {
				resp, body := infer(t, b.srv.URL, "m", [][]float64{{1}}, nil)
				require.Equal(t, 200, resp.StatusCode, string(body))
				require.Equal(t, "v1", resp.Header.Get("X-Modelgate-Version"))
				require.Equal(t, "v2", resp.Header.Get("X-Modelgate-Fallback"))
				out, err := ParseOutputs(body, nil)
				require.NoError(t, err)
				require.Equal(t, []float64{0.1}, out.Values)
			}
			cs := b.gw.Stats("m", "v2", mark)
			require.EqualValues(t, 5, cs.Requests)
			require.EqualValues(t, 5, cs.Errors)
			require.EqualValues(t, 5, cs.Fallbacks)
			require.Equal(t, 1.0, cs.ErrorRate)
			ss := b.gw.Stats("m", "v1", mark)
			require.EqualValues(t, 5, ss.Requests)
			require.Zero(t, ss.Errors)
		})
	}
}

func TestClientErrorsAndStableDown(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{MaxBodyBytes: 1024})
	stable := newUpstream(t, constScore(0.1))
	ctx := context.Background()
	require.NoError(t, b.gw.SetRoutes(ctx, "m", RouteTable{Model: "m", Stable: Backend{Version: "v1", URL: stable.URL}, Mode: ModeStable}))
	post := func(path, body string) (int, string) {
		resp, err := http.Post(b.srv.URL+path, "application/json", strings.NewReader(body))
		require.NoError(t, err)
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(raw)
	}
	errCode := func(body string) string {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		require.NoError(t, json.Unmarshal([]byte(body), &e), body)
		require.NotEmpty(t, e.Error.Message)
		return e.Error.Code
	}
	tests := []struct {
		name, path, body string
		status           int
		code             string
	}{
		{"oversized", "/v2/models/m/infer", `{"inputs":[{"data":[` + strings.Repeat("1,", 600) + `1]}]}`, 413, "request_too_large"},
		{"malformed", "/v2/models/m/infer", `{"inputs":[`, 400, "malformed_request"},
		{"unknown model", "/v2/models/nope/infer", `{}`, 404, "model_not_found"},
		{"unknown path", "/v3/x", `{}`, 404, "not_found"},
		{"chat without model", "/v1/chat/completions", `{"messages":[]}`, 400, "malformed_request"},
		{"preview without candidate", "/preview/v2/models/m/infer", `{}`, 404, "no_candidate"},
	}
	for _, tc := range tests {
		status, body := post(tc.path, tc.body)
		require.Equal(t, tc.status, status, tc.name+": "+body)
		require.Equal(t, tc.code, errCode(body), tc.name)
	}
	resp, err := http.Get(b.srv.URL + "/v2/models/m/infer")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 405, resp.StatusCode)

	// Upstream 4xx passes through and is not the version's error.
	mark := b.gw.Mark("m")
	status, _ := post("/v2/models/m/infer", `{"inputs":[]}`)
	require.Equal(t, 400, status)
	st := b.gw.Stats("m", "v1", mark)
	require.EqualValues(t, 1, st.ClientErrors)
	require.Zero(t, st.Errors)

	// Stable routed to a server without the model: 502 naming the route's fault.
	stable.status.Store(404)
	status, body := post("/v2/models/m/infer", string(EncodeRequest([][]float64{{1}})))
	require.Equal(t, 502, status)
	require.Equal(t, "upstream_unavailable", errCode(body))
	require.Contains(t, body, "does not serve this model")
	host := strings.TrimPrefix(stable.URL, "http://")
	require.NotContains(t, body, host, "a client never learns where model servers listen")
	stable.status.Store(200)

	// Stable down: a 502 in the project's error shape, never a hang or a
	// panic, and without the upstream's address.
	stable.Close()
	status, body = post("/v2/models/m/infer", string(EncodeRequest([][]float64{{1}})))
	require.Equal(t, 502, status)
	require.Equal(t, "upstream_unavailable", errCode(body))
	require.NotContains(t, body, host)
	require.NotContains(t, body, "127.0.0.1")
	require.Contains(t, body, "the model server")
}

func TestShadowNeverDelaysPrimary(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{ShadowQueue: 2, ShadowWorkers: 1})
	stable := newUpstream(t, firstFeature)
	cand := newUpstream(t, firstFeature)
	cand.block = make(chan struct{})
	ctx := context.Background()
	require.NoError(t, b.gw.SetRoutes(ctx, "m", RouteTable{Model: "m", Stable: Backend{Version: "v1", URL: stable.URL},
		Candidate: &Backend{Version: "v2", URL: cand.URL}, ShadowShare: 1, Mode: ModeShadow}))
	mark := b.gw.Mark("m")
	// The shadow upstream is blocked: every primary must still answer.
	// One mirror is in the worker, two wait in the queue, the rest drop.
	for i := range 10 {
		resp, body := infer(t, b.srv.URL, "m", [][]float64{{float64(i) / 10}}, nil)
		require.Equal(t, 200, resp.StatusCode, string(body))
		require.Equal(t, "v1", resp.Header.Get("X-Modelgate-Version"))
	}
	require.Eventually(t, func() bool { return cand.calls.Load() == 1 }, 5*time.Second, time.Millisecond)
	sum := b.gw.ShadowStats("m", mark)
	require.EqualValues(t, 3, sum.Mirrored)
	require.EqualValues(t, 7, sum.Dropped)
	close(cand.block)
	require.Eventually(t, func() bool { return b.gw.ShadowStats("m", mark).Compared == 3 }, 5*time.Second, time.Millisecond)
	sum = b.gw.ShadowStats("m", mark)
	require.EqualValues(t, 3, sum.Rows)
	require.Equal(t, 1.0, sum.Agreement)
	require.Zero(t, sum.MeanAbsDelta)
}

func TestShadowComparison(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	stable := newUpstream(t, firstFeature)
	// The candidate adds 0.2: rows with first value in [0.3, 0.5) change class.
	cand := newUpstream(t, func(r []float64) float64 { return r[0] + 0.2 })
	ctx := context.Background()
	require.NoError(t, b.gw.SetRoutes(ctx, "m", RouteTable{Model: "m", Stable: Backend{Version: "v1", URL: stable.URL},
		Candidate: &Backend{Version: "v2", URL: cand.URL}, ShadowShare: 1, Mode: ModeShadow}))
	mark := b.gw.Mark("m")
	rows := make([][]float64, 10)
	for i := range rows {
		rows[i] = []float64{float64(i) / 10}
	}
	res, err := Replay(ctx, ReplayOptions{URL: b.srv.URL, Model: "m", Rows: rows, Requests: 100, Concurrency: 2})
	require.NoError(t, err)
	require.Equal(t, 100, res.OK)
	require.Equal(t, map[string]int{"v1": 100}, res.ByVersion)
	require.Eventually(t, func() bool { return b.gw.ShadowStats("m", mark).Compared == 100 }, 5*time.Second, time.Millisecond)
	sum := b.gw.ShadowStats("m", mark)
	require.EqualValues(t, 100, sum.Rows)
	require.EqualValues(t, 80, sum.AgreeRows) // 0.3 and 0.4 flip to ≥ 0.5
	require.InDelta(t, 0.8, sum.Agreement, 1e-12)
	require.InDelta(t, 0.2, sum.MeanAbsDelta, 1e-9)
	require.InDelta(t, 0.2, sum.MaxAbsDelta, 1e-9)
	require.Greater(t, sum.ShadowP99Ms, 0.0)

	// The input sample saw the replayed rows.
	in := b.gw.Inputs("m")
	require.Equal(t, []string{"f0"}, in.Features)
	require.EqualValues(t, 100, in.Seen)
	require.Len(t, in.Rows, 100)
}

func TestChatCompletionsRoutedByBodyModel(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	llm := newUpstream(t, constScore(0))
	ctx := context.Background()
	require.NoError(t, b.gw.SetRoutes(ctx, "assistant", RouteTable{Model: "assistant", Stable: Backend{Version: "p1", URL: llm.URL}, Mode: ModeStable}))
	resp, err := http.Post(b.srv.URL+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"assistant","messages":[{"role":"user","content":"hi"}]}`))
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	require.Equal(t, 200, resp.StatusCode, string(body))
	require.Contains(t, string(body), "from "+llm.URL)
	require.Equal(t, "p1", resp.Header.Get("X-Modelgate-Version"))
	st := b.gw.Stats("assistant", "p1", Mark{})
	require.EqualValues(t, 1, st.Requests)
}

func TestMarkWindowsAndMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	b := setup(t, Options{Registry: reg})
	up := newUpstream(t, constScore(0.7))
	ctx := context.Background()
	require.NoError(t, b.gw.SetRoutes(ctx, "m", RouteTable{Model: "m", Stable: Backend{Version: "v1", URL: up.URL}, Mode: ModeStable}))
	for range 3 {
		infer(t, b.srv.URL, "m", [][]float64{{1}, {2}}, nil)
	}
	mark := b.gw.Mark("m")
	for range 4 {
		infer(t, b.srv.URL, "m", [][]float64{{1}}, nil)
	}
	all := b.gw.Stats("m", "v1", Mark{})
	require.EqualValues(t, 7, all.Requests)
	require.Equal(t, 10, all.ScoreCount)
	win := b.gw.Stats("m", "v1", mark)
	require.EqualValues(t, 4, win.Requests)
	require.Equal(t, []float64{0.7, 0.7, 0.7, 0.7}, win.Scores)
	require.EqualValues(t, 4, win.Histogram[len(win.Histogram)-1].Count)
	// A mark from another gateway instance measures from this one's start.
	require.EqualValues(t, 7, b.gw.Stats("m", "v1", Mark{Epoch: "other", Versions: mark.Versions}).Requests)
	families, err := reg.Gather()
	require.NoError(t, err)
	found := false
	for _, mf := range families {
		if mf.GetName() != "modelgate_gateway_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["model"] == "m" && labels["version"] == "v1" && labels["outcome"] == "ok" {
				require.Equal(t, 7.0, m.GetCounter().GetValue())
				found = true
			}
		}
	}
	require.True(t, found, "modelgate_gateway_requests_total{model=m,version=v1,outcome=ok} missing")
}

func TestQuantile(t *testing.T) {
	t.Parallel()
	// numpy.quantile([1,2,3,4,5,6,7,8,9,10], [0.5, 0.99, 0.9]) = 5.5, 9.91, 9.1
	v := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	require.InDelta(t, 5.5, Quantile(v, 0.5), 1e-12)
	require.InDelta(t, 9.91, Quantile(v, 0.99), 1e-12)
	require.InDelta(t, 9.1, Quantile(v, 0.9), 1e-12)
	require.Zero(t, Quantile(nil, 0.5))
}
