package deployment

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/charmbracelet/log"
	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/internal/audit/audittest"
	"github.com/modelgate/modelgate/internal/config"
	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/internal/store/sqlite"
	"github.com/modelgate/modelgate/tools/gateway"
	"github.com/modelgate/modelgate/tools/model"
	"github.com/modelgate/modelgate/tools/sign"
)

const (
	prodModel = "../../testdata/deploy/model-production.json"
	candModel = "../../testdata/deploy/model-candidate.json"
	holdout   = "../../testdata/deploy/holdout.csv"
)

// TestMain doubles as `modelgate serve` for the local-target tests: the
// agent starts this test binary with the serve command's arguments, and
// it runs the real V2 model server.
func TestMain(m *testing.M) {
	// The agent runs "<binary> serve --model ... --addr ..."; go test never
	// passes a bare "serve" first, so this cannot catch a normal run (or a
	// fuzz worker, which inherits the environment but not these args).
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		serveMain(os.Args[2:])
		return
	}
	os.Exit(m.Run())
}

func serveMain(args []string) {
	var name, path, addr string
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "--model":
			i++
			name, path, _ = strings.Cut(args[i], "=")
		case "--addr":
			i++
			addr = args[i]
		}
	}
	p, err := model.Load(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fmt.Printf("listening on http://%s\n", ln.Addr())
	_ = http.Serve(ln, model.NewServer(model.ServerOptions{Models: map[string]model.Predictor{name: p}, Logger: log.New(io.Discard)}))
}

// faulty wraps a real model server so that a test can break it while it
// serves: 5xx, a delay, garbage scores, or a body that is not V2 at all.
type faulty struct {
	*httptest.Server
	status  atomic.Int64
	delay   atomic.Int64
	garbage atomic.Bool // valid V2, constant 0.999 score
	broken  atomic.Bool // not JSON
	calls   atomic.Int64
}

func serveModel(t *testing.T, name, path string) *faulty {
	t.Helper()
	p, err := model.Load(path)
	require.NoError(t, err)
	// Like modelgate serve, it lists the file's digest as the model's
	// version, which is how the rollout checks an upstream.
	h := model.NewServer(model.ServerOptions{Models: map[string]model.Predictor{name: p}, Logger: log.New(io.Discard),
		Versions: map[string]string{name: fileDigest(t, path)}})
	f := &faulty{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		if d := f.delay.Load(); d > 0 {
			time.Sleep(time.Duration(d))
		}
		if s := f.status.Load(); s != 0 {
			http.Error(w, `{"error":"injected fault"}`, int(s))
			return
		}
		if f.broken.Load() && r.Method == http.MethodPost {
			_, _ = w.Write([]byte(`<html>502 bad gateway</html>`))
			return
		}
		if f.garbage.Load() && r.Method == http.MethodPost {
			_, _ = w.Write([]byte(`{"outputs":[{"name":"predict","shape":[1],"datatype":"FP64","data":[0.999]}]}`))
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

// manualClock only moves when the test says so.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}
func (c *manualClock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	ch <- c.Now()
	return ch
}
func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// recorder keeps audit events in order (the audit package's Recorder
// writes the same calls to the hash chain).
type env struct {
	t      *testing.T
	store  *sqlite.Store
	dbPath string
	gw     *gateway.Gateway
	gwSrv  *httptest.Server
	clock  *manualClock
	audit  *audittest.Recorder
	agent  *Agent
	stable *faulty
	cand   *faulty
	rows   [][]float64
}

func setup(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	dbPath := filepath.Join(t.TempDir(), "modelgate.db")
	st, err := sqlite.Open(ctx, sqlite.Options{Path: dbPath})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	e := &env{t: t, store: st, dbPath: dbPath, clock: &manualClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}, audit: &audittest.Recorder{}}
	e.newGateway()
	e.agent = e.newAgent()
	_, e.rows, err = ReadRows(holdout, "target", 0)
	require.NoError(t, err)
	return e
}

func (e *env) newGateway() {
	gw, err := gateway.New(gateway.Options{Routes: e.store, Logger: log.New(io.Discard), Timeout: 2 * time.Second})
	require.NoError(e.t, err)
	require.NoError(e.t, gw.Load(context.Background()))
	e.t.Cleanup(func() { gw.Close() })
	e.gw = gw
	e.gwSrv = httptest.NewServer(gw)
	e.t.Cleanup(e.gwSrv.Close)
}

// serveBinary is this test binary (see TestMain), or a real modelgate
// binary when MODELGATE_SERVE_BINARY names one (go build -o bin/modelgate
// ./cmd/modelgate; MODELGATE_SERVE_BINARY=$PWD/bin/modelgate go test ...).
func serveBinary() string {
	if b := os.Getenv("MODELGATE_SERVE_BINARY"); b != "" {
		return b
	}
	return os.Args[0]
}

func (e *env) newAgent() *Agent {
	a := New(Options{Store: e.store, Gateway: e.gw, Recorder: e.audit, Clock: e.clock, Logger: log.New(io.Discard), ServeBinary: serveBinary()})
	e.t.Cleanup(func() { a.Close() })
	return a
}

// production puts v1 in production behind the gateway, as a previous
// rollout would have left it.
func (e *env) production() {
	ctx := context.Background()
	e.stable = serveModel(e.t, "fraud", prodModel)
	require.NoError(e.t, e.store.ModelVersionPut(ctx, store.ModelVersion{Model: "fraud", Version: "v1", Digest: "sha256:" + strings.Repeat("1", 64),
		Endpoint: e.stable.URL, CreatedAt: e.clock.Now()}))
	none := ""
	_, err := e.store.ProductionSet(ctx, store.ProductionSetParams{Model: "fraud", Environment: "production", Version: "v1", ExpectVersion: &none})
	require.NoError(e.t, err)
	require.NoError(e.t, e.gw.SetRoutes(ctx, "fraud", gateway.RouteTable{Model: "fraud", Stable: gateway.Backend{Version: "v1", URL: e.stable.URL}, Mode: gateway.ModeStable}))
}

func pipeline(t *testing.T, yaml string) *config.Pipeline {
	t.Helper()
	base := `model: fraud
task: binary
data: {holdout: ` + holdout + `}
candidate: {endpoint: http://127.0.0.1:1}
`
	p, err := config.Parse("modelgate.yaml", []byte(base+yaml))
	require.NoError(t, err)
	return p
}

func (e *env) task(runID string, cfg *config.Pipeline) agents.Task {
	if e.cand == nil {
		e.cand = serveModel(e.t, "fraud", candModel)
	}
	task := agents.Task{RunID: runID, Stage: Stage, Model: "fraud", Environment: "production", Config: cfg,
		Candidate: agents.Candidate{Version: "v2", Endpoint: e.cand.URL, Digest: fileDigest(e.t, candModel)},
		Logger:    log.New(io.Discard)}
	if e.stable != nil {
		task.Production = &agents.Production{Version: "v1", Endpoint: e.stable.URL}
	}
	return task
}

// traffic replays n holdout rows through the gateway and requires every
// client to get an answer, whatever the candidate does.
func (e *env) traffic(n int) gateway.ReplayResult {
	e.t.Helper()
	res, err := gateway.Replay(context.Background(), gateway.ReplayOptions{URL: e.gwSrv.URL, Model: "fraud", Rows: e.rows, Requests: n, Concurrency: 8})
	require.NoError(e.t, err)
	require.Equal(e.t, n, res.OK, "clients must always get an answer: %+v", res)
	return res
}

// drive reconciles tick by tick: traffic, advance the clock, reconcile,
// until the rollout ends. It returns the phases seen after each tick.
func (e *env) drive(a *Agent, task agents.Task, perTick int, step time.Duration, maxTicks int, between func(st State)) (State, []string) {
	e.t.Helper()
	ctx := context.Background()
	var seen []string
	for range maxTicks {
		st, done, err := a.Reconcile(ctx, task)
		require.NoError(e.t, err)
		seen = append(seen, phaseLabel(st))
		if done {
			return st, seen
		}
		if between != nil {
			between(st)
		}
		e.traffic(perTick)
		e.clock.Advance(step)
	}
	e.t.Fatalf("rollout did not finish in %d ticks: %v", maxTicks, seen)
	return State{}, nil
}

func phaseLabel(st State) string {
	if st.Phase == PhaseCanary {
		return fmt.Sprintf("canary:%d", st.Weight)
	}
	return st.Phase
}

func compact(seen []string) []string {
	var out []string
	for _, s := range seen {
		if len(out) == 0 || out[len(out)-1] != s {
			out = append(out, s)
		}
	}
	return out
}

func fileDigest(t *testing.T, p string) string {
	t.Helper()
	d, _, err := sign.FileDigest(p)
	require.NoError(t, err)
	return d
}
