package monitor_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/charmbracelet/log"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/audit/audittest"
	"github.com/modelgate/modelgate/internal/chatops/monitor"
	"github.com/modelgate/modelgate/internal/chatops/triggers"
	"github.com/modelgate/modelgate/internal/config"
	"github.com/modelgate/modelgate/internal/release"
	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/internal/store/sqlite"
	"github.com/modelgate/modelgate/tools/gateway"
)

// upstream is a V2 model server whose answers fail while failing is set.
type upstream struct {
	failing atomic.Bool
	srv     *httptest.Server
}

func newUpstream(t *testing.T) *upstream {
	u := &upstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if u.failing.Load() {
			http.Error(w, `{"error":"model crashed"}`, http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"model_name":"m","outputs":[{"name":"predict","shape":[1],"datatype":"FP64","data":[0.3]}]}`))
	}))
	t.Cleanup(u.srv.Close)
	return u
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

type bundle struct {
	st     store.Store
	gw     *gateway.Gateway
	web    *httptest.Server
	up     *upstream
	clk    *clock
	rec    *audittest.Recorder
	alerts []monitor.Alert
	mu     sync.Mutex
}

func setup(t *testing.T, mon triggers.Monitor) *bundle {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(t.TempDir(), "modelgate.db")})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	gw, err := gateway.New(gateway.Options{Routes: st, Logger: log.New(io.Discard)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = gw.Close() })
	web := httptest.NewServer(gw)
	t.Cleanup(web.Close)
	b := &bundle{st: st, gw: gw, web: web, up: newUpstream(t), clk: &clock{now: time.Now().UTC()}, rec: &audittest.Recorder{}}
	_, _, err = release.Promote(ctx, st, release.PromoteParams{Version: store.ModelVersion{Model: "m", Version: "v1", Endpoint: b.up.srv.URL}, Environment: "production"})
	require.NoError(t, err)
	require.NoError(t, gw.SetRoutes(ctx, "m", gateway.RouteTable{Model: "m", Mode: gateway.ModeStable, Stable: gateway.Backend{Version: "v1", URL: b.up.srv.URL}}))
	set := triggers.Settings{Model: "m", Monitor: &mon}
	require.NoError(t, set.Validate(ctx, "m", nil))
	require.NoError(t, triggers.Save(ctx, st, set))
	return b
}

func (b *bundle) monitor(t *testing.T, leader func() bool) *monitor.Monitor {
	t.Helper()
	m, err := monitor.New(monitor.Options{Store: b.st, Gateway: b.gw, Recorder: b.rec, Now: b.clk.Now, Leader: leader,
		Logger: log.New(io.Discard), Notify: func(_ context.Context, a monitor.Alert) { b.mu.Lock(); b.alerts = append(b.alerts, a); b.mu.Unlock() }})
	require.NoError(t, err)
	return m
}

// send makes n requests through the gateway; fail of them are answered
// by a failing model.
func (b *bundle) send(t *testing.T, n, fail int) {
	t.Helper()
	for i := range n {
		b.up.failing.Store(i < fail)
		resp, err := http.Post(b.web.URL+"/v2/models/m/infer", "application/json",
			strings.NewReader(fmt.Sprintf(`{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP64","data":[%d,1]}]}`, i%7)))
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	b.up.failing.Store(false)
}

func (b *bundle) tick(t *testing.T, m *monitor.Monitor) []monitor.Check {
	t.Helper()
	b.clk.Advance(time.Minute)
	out, err := m.Tick(context.Background())
	require.NoError(t, err)
	return out
}

// TestErrorRateAlertSurvivesARestart: the error rate rising more than
// error_rate above the baseline's is over; the streak is stored, so a
// monitor restarted between two windows over raises the alert on the
// second (K = 2) and only once; a follower checks nothing. The input
// drift cannot be measured here (the run names no reference data), which
// a note says, and does not count as over.
func TestErrorRateAlertSurvivesARestart(t *testing.T) {
	t.Parallel()
	b := setup(t, triggers.Monitor{Every: config.Duration{Duration: time.Minute}, Consecutive: 2, MinSamples: 40, ErrorRate: 0.1})
	m := b.monitor(t, nil)
	require.Empty(t, b.tick(t, m)) // meets v1

	b.send(t, 50, 0)
	c := b.tick(t, m)
	require.Len(t, c, 1)
	require.Contains(t, strings.Join(c[0].Notes, " "), "baseline taken: 50 requests, error rate 0.0000")
	require.Contains(t, strings.Join(c[0].Notes, " "), "no reference data")
	require.Empty(t, c[0].Over)

	b.send(t, 50, 5) // 10 %: at the bound, not over it
	c = b.tick(t, m)
	require.InDelta(t, 0.1, *c[0].ErrorRate, 1e-12)
	require.Empty(t, c[0].Over)

	b.send(t, 50, 15) // 30 %
	c = b.tick(t, m)
	require.Len(t, c[0].Over, 1)
	require.Contains(t, c[0].Over[0], "error rate 0.3000")
	require.Equal(t, 1, c[0].Consecutive)

	follower := b.monitor(t, func() bool { return false })
	require.Empty(t, b.tick(t, follower), "a process that is not the leader checks nothing")

	restarted := b.monitor(t, nil)
	b.send(t, 50, 20)
	c = b.tick(t, restarted)
	require.Equal(t, 2, c[0].Consecutive, "the streak survived the restart")
	require.True(t, c[0].Alert)
	require.Equal(t, "notified", c[0].Result)
	b.send(t, 50, 20)
	c = b.tick(t, restarted)
	require.Equal(t, 3, c[0].Consecutive)
	require.False(t, c[0].Alert, "one alert per streak")
	require.Len(t, b.alerts, 1)
	require.Len(t, b.rec.OfType(monitor.EventAlert), 1)

	st, err := monitor.Status(context.Background(), b.st, "m", "production")
	require.NoError(t, err)
	require.Len(t, st.History, 5)
	require.True(t, st.Alerted)
}

// TestRollbackWithoutPreviousIsAudited: the rollback action on a model
// with no earlier version fails, says why in the check, and is audited.
func TestRollbackWithoutPreviousIsAudited(t *testing.T) {
	t.Parallel()
	b := setup(t, triggers.Monitor{Every: config.Duration{Duration: time.Minute}, Consecutive: 1, MinSamples: 20, Action: triggers.MonitorRollback})
	m, err := monitor.New(monitor.Options{Store: b.st, Gateway: b.gw, Recorder: b.rec, Now: b.clk.Now, Logger: log.New(io.Discard),
		Rollback: func(ctx context.Context, model, env, actor, reason string) (store.Production, error) {
			cur, prev, err := release.Target(ctx, b.st, model, env)
			if err != nil {
				return cur, err
			}
			return release.Rollback(ctx, b.st, release.RollbackParams{From: cur, To: prev, Reason: reason})
		}})
	require.NoError(t, err)
	require.Empty(t, b.tick(t, m))
	b.send(t, 30, 0)
	b.tick(t, m)
	b.send(t, 30, 30)
	c := b.tick(t, m)
	require.True(t, c[0].Alert)
	require.Contains(t, c[0].Result, "rollback failed")
	require.Contains(t, c[0].Result, "no previous production version")
	require.Len(t, b.rec.OfType(monitor.EventActionError), 1)
}

func TestMonitorSettingsValidation(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		m    triggers.Monitor
		want string
	}{
		"action":      {triggers.Monitor{Action: "explode"}, "monitor.action"},
		"retrain":     {triggers.Monitor{Action: triggers.MonitorRetrain}, "retrain needs pipeline"},
		"share":       {triggers.Monitor{DriftShare: 1.5}, "monitor.drift_share"},
		"every":       {triggers.Monitor{Every: config.Duration{Duration: time.Millisecond}}, "monitor.every"},
		"consecutive": {triggers.Monitor{Consecutive: -1}, "monitor.consecutive"},
		"error rate":  {triggers.Monitor{ErrorRate: 2}, "monitor.error_rate"},
		"environment": {triggers.Monitor{Environment: "../prod"}, "monitor.environment"},
	} {
		s := triggers.Settings{Monitor: &tc.m}
		require.ErrorContains(t, s.Validate(context.Background(), "m", nil), tc.want, name)
	}
	d := triggers.Monitor{}.Defaults()
	require.Equal(t, triggers.Monitor{Environment: "production", Every: config.Duration{Duration: 5 * time.Minute}, Consecutive: 3,
		DriftShare: 0.5, ScorePSI: 0.2, ErrorRate: 0.05, MinSamples: 100, Action: triggers.MonitorNotify}, d)
}
