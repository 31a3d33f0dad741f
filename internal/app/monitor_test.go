package app_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/api"
	"github.com/modelgate/modelgate/internal/api/client"
	"github.com/modelgate/modelgate/internal/chatops/monitor"
	"github.com/modelgate/modelgate/internal/release"
	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/tools/dataset"
	"github.com/modelgate/modelgate/tools/gateway"
	"github.com/modelgate/modelgate/tools/model"
)

// hookSink records the outgoing webhooks the server delivers.
type hookSink struct {
	mu   sync.Mutex
	got  []map[string]any
	sigs []string
	body [][]byte
}

func (h *hookSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	h.mu.Lock()
	h.got, h.sigs, h.body = append(h.got, m), append(h.sigs, r.Header.Get("X-Modelgate-Signature-256")), append(h.body, b)
	h.mu.Unlock()
}

func (h *hookSink) events() []map[string]any {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]map[string]any(nil), h.got...)
}

// modelServer serves one XGBoost model of the example over V2, as a
// registry version's endpoint.
func modelServer(t *testing.T, path string) *httptest.Server {
	t.Helper()
	p, err := model.Load(path)
	require.NoError(t, err)
	srv := httptest.NewServer(model.NewServer(model.ServerOptions{Models: map[string]model.Predictor{"cancer": p}}))
	t.Cleanup(srv.Close)
	return srv
}

// traffic sends n requests of batch rows each through the gateway,
// cycling over rows, every value multiplied by scale (1 = the holdout as
// it is; a covariate shift otherwise). It returns the versions that
// answered.
func (ts *trigServer) traffic(t *testing.T, features []string, rows [][]float64, n, batch int, scale float64, start int) map[string]int {
	t.Helper()
	answered := map[string]int{}
	for i := range n {
		var vals []string
		for j := range batch {
			for _, v := range rows[(start+i*batch+j)%len(rows)] {
				vals = append(vals, fmt.Sprint(v*scale))
			}
		}
		body := fmt.Sprintf(`{"inputs":[{"name":"input-0","shape":[%d,%d],"datatype":"FP64","data":[%s]}]}`, batch, len(features), strings.Join(vals, ","))
		resp, err := http.Post(ts.gw.URL+"/v2/models/cancer/infer", "application/json", strings.NewReader(body))
		require.NoError(t, err)
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, string(out))
		answered[resp.Header.Get("X-Modelgate-Version")]++
	}
	return answered
}

// TestMonitorRollsBackADriftingModel is the loop closed end to end on the
// real server: v2 serves through the gateway; the monitor takes its
// baseline from normal traffic; a shifted window is over the thresholds
// once (no alert: debounce), a normal one ends the streak, two shifted
// windows in a row raise the drift alert, which is audited, delivered to
// the model's webhook, and rolls the model back to v1 — production, the
// gateway's routes and the answers to the next requests.
func TestMonitorRollsBackADriftingModel(t *testing.T) {
	t.Parallel()
	ts, d := newMonitored(t, map[string]any{"every": "1m", "consecutive": 2, "min_samples": 50, "action": "rollback"})
	ctx := context.Background()
	features, rows, sink := d.features, d.rows, d.sink
	const hookSecret = monitorHookSecret
	// This route names its features, as an operator's may.
	named, _ := ts.s.Gateway.Routes("cancer")
	named.Features = features
	require.NoError(t, ts.s.Gateway.SetRoutes(ctx, "cancer", named))

	check := func(scale float64, start int) *monitor.Check {
		t.Helper()
		ts.traffic(t, features, rows, 60, 10, scale, start)
		ts.clock.Advance(time.Minute)
		out, err := ts.s.Monitor.Tick(ctx)
		require.NoError(t, err)
		require.Len(t, out, 1)
		c := out[0]
		t.Logf("check scale %.0f: rows %d, drift share %v, psi %v, over %v, consecutive %d, notes %v", scale, c.Rows, deref(c.DriftShare), deref(c.ScorePSI), c.Over, c.Consecutive, c.Notes)
		return &c
	}
	out, err := ts.s.Monitor.Tick(ctx) // the monitor meets v2: its window starts
	require.NoError(t, err)
	require.Empty(t, out)

	c := check(1, 0)
	require.Empty(t, c.Over, "normal traffic")
	require.NotNil(t, c.DriftShare)
	require.Contains(t, strings.Join(c.Notes, " "), "baseline taken")

	c = check(3, 0)
	require.NotEmpty(t, c.Over, "shifted traffic")
	require.Contains(t, strings.Join(c.Over, " "), "input drift")
	require.Equal(t, 1, c.Consecutive)
	require.False(t, c.Alert, "one window over is not an alert (consecutive: 2)")

	c = check(1, 600)
	require.Empty(t, c.Over, "normal traffic again")
	require.NotNil(t, c.ScorePSI)
	require.Equal(t, 0, c.Consecutive, "the streak ends")

	c = check(3, 0)
	require.Equal(t, 1, c.Consecutive)
	require.False(t, c.Alert)
	c = check(3, 300)
	require.Equal(t, 2, c.Consecutive)
	require.True(t, c.Alert)
	require.Equal(t, "rolled back from v2 to v1", c.Result)

	prod, err := ts.s.Store.ProductionGet(ctx, "cancer", "production")
	require.NoError(t, err)
	require.Equal(t, "v1", prod.Version)
	routes, ok := ts.s.Gateway.Routes("cancer")
	require.True(t, ok)
	require.Equal(t, "v1", routes.Stable.Version)
	require.Equal(t, map[string]int{"v1": 5}, ts.traffic(t, features, rows, 5, 1, 1, 0))

	for _, typ := range []string{monitor.EventAlert, "deploy.rollback"} {
		entries, err := ts.s.Store.AuditList(ctx, store.AuditListParams{Type: typ})
		require.NoError(t, err)
		require.Len(t, entries, 1, typ)
	}
	require.Eventually(t, func() bool { return len(sink.events()) == 1 }, 10*time.Second, 20*time.Millisecond)
	got := sink.events()[0]
	require.Equal(t, "drift.alert", got["event"])
	require.Contains(t, got["text"], "rolled back from v2 to v1")
	mac := hmac.New(sha256.New, []byte(hookSecret))
	mac.Write(sink.body[0])
	require.Equal(t, "sha256="+hex.EncodeToString(mac.Sum(nil)), sink.sigs[0])

	// The history as a reader sees it: the API (the weakest reading
	// token), and the gauges.
	var view monitor.StatusView
	_, err = client.New(ts.api.URL, trigViewer).Do(ctx, "GET", "/v1/models/cancer/monitor", nil, &view)
	require.NoError(t, err)
	require.Len(t, view.History, 5)
	require.True(t, view.History[4].Alert)
	require.Equal(t, "rollback", view.Settings.Action)
	_, err = client.New(ts.api.URL, "").Do(ctx, "GET", "/v1/models/cancer/monitor", nil, nil)
	require.ErrorContains(t, err, "401")
	resp, err := http.Get(ts.api.URL + "/metrics")
	require.NoError(t, err)
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Contains(t, string(metrics), `modelgate_monitor_consecutive_over{environment="production",model="cancer"} 2`)
	require.Contains(t, string(metrics), `modelgate_monitor_alerts_total{action="rollback",environment="production",model="cancer"} 1`)

	// The reviewers' page, signed in as the viewer.
	page := uiPage(t, ts.api.URL, trigViewer, "/ui/monitor")
	require.Contains(t, page, `id="monitor-cancer"`)
	require.Contains(t, page, "alert: rollback")
	require.Contains(t, page, "rolled back from v2 to v1")
	require.Contains(t, page, "Streak: 2 over")

	// The next check meets v1: a new version, a new window, no alert.
	ts.clock.Advance(time.Minute)
	out, err = ts.s.Monitor.Tick(ctx)
	require.NoError(t, err)
	require.Empty(t, out)
	st, err := monitor.Status(ctx, ts.s.Store, "cancer", "production")
	require.NoError(t, err)
	require.Equal(t, "v1", st.Version)
	require.Zero(t, st.Consecutive)
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

const monitorHookSecret = "monitor-hook-secret-0123"

type monitored struct {
	features []string
	rows     [][]float64
	sink     *hookSink
}

// newMonitored is a server with v1 then v2 of cancer in production, both
// built by a run whose reference data (train.csv) the monitor compares
// the live inputs with, v2 serving through the gateway, and monitor
// settings mon with a webhook for drift alerts.
func newMonitored(t *testing.T, mon map[string]any) (*trigServer, monitored) {
	t.Helper()
	ts := newTrigServer(t)
	ctx := context.Background()

	files, _, err := ts.admin.Upload(ctx, client.UploadParams{Root: ts.example, Paths: []string{"train.csv", "holdout.csv", "model-candidate.json"}})
	require.NoError(t, err)
	var run api.RunView
	_, err = ts.admin.Do(ctx, "POST", "/v1/runs", api.RunRequest{Config: retrainConfig, Files: files}, &run)
	require.NoError(t, err)
	ts.waitRun(t, run.ID)
	v1 := modelServer(t, filepath.Join(ts.example, "model-production.json"))
	v2 := modelServer(t, filepath.Join(ts.example, "model-candidate.json"))
	for _, v := range []store.ModelVersion{{Model: "cancer", Version: "v1", Endpoint: v1.URL, RunID: run.ID}, {Model: "cancer", Version: "v2", Endpoint: v2.URL, RunID: run.ID}} {
		_, _, err := release.Promote(ctx, ts.s.Store, release.PromoteParams{Version: v, Environment: "production", Reason: "test"})
		require.NoError(t, err)
	}
	hold, err := dataset.Read(filepath.Join(ts.example, "holdout.csv"), dataset.Options{})
	require.NoError(t, err)
	features := model.FeatureColumns(hold, "target")
	batch, err := model.BatchFromFrame(hold, features)
	require.NoError(t, err)
	rows := make([][]float64, batch.Rows)
	for i := range rows {
		rows[i] = batch.Row(i)
	}
	// As the deployment agent writes it: no feature names (the monitor
	// matches the columns by position).
	require.NoError(t, ts.s.Gateway.SetRoutes(ctx, "cancer", gateway.RouteTable{Model: "cancer", Mode: gateway.ModeStable,
		Stable: gateway.Backend{Version: "v2", URL: v2.URL}}))
	sink := &hookSink{}
	hooks := httptest.NewServer(sink)
	t.Cleanup(hooks.Close)
	const hookSecret = monitorHookSecret
	ts.register(t, map[string]any{
		"monitor":  mon,
		"webhooks": []map[string]any{{"url": hooks.URL, "secret": hookSecret, "events": []string{"drift.alert"}}},
	})

	return ts, monitored{features: features, rows: rows, sink: sink}
}

// TestMonitorActions: with action retrain the alert starts a retraining
// run of the registered pipeline on the real server (trigger "drift"),
// which trains; with notify it only notifies; production stays on v2.
func TestMonitorActions(t *testing.T) {
	t.Parallel()
	for _, action := range []string{"retrain", "notify"} {
		t.Run(action, func(t *testing.T) {
			t.Parallel()
			ts, d := newMonitored(t, map[string]any{"every": "30s", "consecutive": 1, "min_samples": 50, "action": action})
			ctx := context.Background()
			out, err := ts.s.Monitor.Tick(ctx)
			require.NoError(t, err)
			require.Empty(t, out)
			for i, scale := range []float64{1, 3} {
				ts.traffic(t, d.features, d.rows, 60, 10, scale, 0)
				ts.clock.Advance(30 * time.Second)
				out, err = ts.s.Monitor.Tick(ctx)
				require.NoError(t, err)
				require.Len(t, out, 1)
				require.Equal(t, i == 1, out[0].Alert, "check %d: %+v", i, out[0])
				require.NotNil(t, out[0].DriftShare, "input drift measured with columns matched by position: %v", out[0].Notes)
			}
			prod, err := ts.s.Store.ProductionGet(ctx, "cancer", "production")
			require.NoError(t, err)
			require.Equal(t, "v2", prod.Version)
			drift := ts.runsBy(t, "drift")
			if action == "notify" {
				require.Equal(t, "notified", out[0].Result)
				require.Empty(t, drift)
			} else {
				require.Len(t, drift, 1, out[0].Result)
				require.Equal(t, "retraining run "+drift[0].ID+" started", out[0].Result)
				run := ts.waitRun(t, drift[0].ID)
				require.Equal(t, store.RunAwaitingApproval, run.State, run.Error)
				require.Equal(t, "v2", run.Labels["drift.version"])
			}
			require.Eventually(t, func() bool { return len(d.sink.events()) == 1 }, 10*time.Second, 20*time.Millisecond)
		})
	}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

// uiPage signs in to the reviewers' page with token and returns path.
func uiPage(t *testing.T, base, token, path string) string {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	read := func(resp *http.Response, err error) string {
		t.Helper()
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
		return string(b)
	}
	m := csrfField.FindStringSubmatch(read(c.Get(base + "/ui/login")))
	require.NotNil(t, m)
	read(c.PostForm(base+"/ui/login", url.Values{"csrf": {m[1]}, "token": {token}, "next": {path}}))
	return read(c.Get(base + path))
}
