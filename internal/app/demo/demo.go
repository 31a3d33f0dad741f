package demo

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/charmbracelet/log"

	"github.com/modelgate/modelgate/agents/assistant"
	"github.com/modelgate/modelgate/coordinator"
	"github.com/modelgate/modelgate/internal/app"
	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/auth"
	"github.com/modelgate/modelgate/internal/oversight"
	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/tools/dataset"
	"github.com/modelgate/modelgate/tools/gateway"
	"github.com/modelgate/modelgate/tools/model"
	"github.com/modelgate/modelgate/tools/sign"
)

//go:embed example
var example embed.FS

// ModelName is the demo model's name.
const ModelName = "tumor-classifier"

// Options configures the demo.
type Options struct {
	Out     io.Writer
	DataDir string // default: a temporary folder, removed afterwards
	Logger  *log.Logger
	// ServeBinary is the modelgate binary local model servers run from;
	// default os.Executable().
	ServeBinary string
	// Fast shortens rollout intervals (tests).
	Fast bool
	// StoreURL runs the demo on another store (redis://…); default SQLite
	// in the demo's folder.
	StoreURL string
	// Color sets headings in bold; only for a terminal, so that a log
	// or a pipe gets no escape codes.
	Color bool
	// Split runs the worker and the gateway as processes of their own
	// on the Redis store StoreURL (processes.go); StorePrefix starts their
	// keys; ChildLogs gets their logs.
	Split       bool
	StorePrefix string
	ChildLogs   io.Writer
}

// Result is what the demo saw, for its test.
type Result struct {
	Good, Broken     store.Run
	AuditEntries     int64
	AuditOK          bool
	TrafficGood      gateway.ReplayResult
	TrafficBroken    gateway.ReplayResult
	Approvals        int
	ProductionBefore string
	ProductionAfter  string
	Brief            string // the reviewer brief of the last approval (template form without an LLM)
}

type demo struct {
	o    Options
	out  io.Writer
	dir  string
	srv  *app.Server
	gw   string
	rows [][]float64
	res  Result

	workerToken string   // Split: the worker's
	stops       []func() // Split: stop the child processes
}

// Run runs the demo end to end.
func Run(ctx context.Context, o Options) (Result, error) {
	if o.Out == nil {
		o.Out = os.Stdout
	}
	if o.Logger == nil {
		o.Logger = log.NewWithOptions(io.Discard, log.Options{})
	}
	d := &demo{o: o, out: o.Out}
	defer d.stopChildren()
	if err := d.prepare(ctx); err != nil {
		return d.res, err
	}
	defer d.srv.Close()
	if err := d.goodCandidate(ctx); err != nil {
		return d.res, err
	}
	if err := d.brokenCandidate(ctx); err != nil {
		return d.res, err
	}
	return d.res, d.verifyAudit(ctx)
}

func (d *demo) say(format string, args ...any) { fmt.Fprintf(d.out, format+"\n", args...) }

func (d *demo) heading(s string) {
	if d.o.Color {
		d.say("\n\x1b[1m== %s\x1b[0m", s)
		return
	}
	d.say("\n== %s", s)
}

// prepare writes the example, starts the server, serves production v1
// and points the gateway at it.
func (d *demo) prepare(ctx context.Context) error {
	dir := d.o.DataDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "modelgate-demo-")
		if err != nil {
			return err
		}
		dir = tmp
	}
	d.dir = dir
	work := filepath.Join(dir, "example")
	if err := copyFS(work, example); err != nil {
		return fmt.Errorf("write example: %w", err)
	}
	if err := writeV3(work); err != nil {
		return err
	}
	d.heading("modelgate demo")
	d.say("example pipeline in %s (breast-cancer classifier, XGBoost; 398 training rows, 171 holdout rows)", work)

	tick := 250 * time.Millisecond
	ao := app.Options{DataDir: filepath.Join(dir, "data"), StoreURL: d.o.StoreURL, Logger: d.o.Logger,
		ServeBinary: d.o.ServeBinary, DeployTick: tick}
	if err := d.splitOptions(&ao); err != nil {
		return err
	}
	srv, err := app.Build(ctx, ao)
	if err != nil {
		return err
	}
	d.srv = srv
	if err := srv.Start(ctx); err != nil {
		return err
	}
	gwURL, err := serveOn(ctx, srv.Gateway)
	if err != nil {
		return err
	}
	d.gw = gwURL
	apiURL, err := serveOn(ctx, srv.Handler)
	if err != nil {
		return err
	}
	d.say("server: API %s/v1, reviewers' page %s/ui/, gateway %s (state in %s)", apiURL, apiURL, gwURL, filepath.Join(dir, "data"))
	if err := d.startProcesses(ctx, apiURL); err != nil {
		return err
	}

	// production v1 is already serving before any candidate arrives
	v1Path := filepath.Join(work, "model-production.json")
	v1, err := model.Load(v1Path)
	if err != nil {
		return err
	}
	v1URL, err := serveOn(ctx, model.NewServer(model.ServerOptions{Models: map[string]model.Predictor{ModelName: v1}}))
	if err != nil {
		return err
	}
	digest, _, err := sign.FileDigest(v1Path)
	if err != nil {
		return err
	}
	st := srv.Store
	if err := st.ModelVersionPut(ctx, store.ModelVersion{Model: ModelName, Version: "v1", Digest: digest, ArtifactPath: v1Path,
		Endpoint: v1URL, CreatedAt: time.Now().UTC()}); err != nil {
		return err
	}
	if _, err := st.ProductionSet(ctx, store.ProductionSetParams{Model: ModelName, Environment: "production", Version: "v1", Reason: "demo bootstrap"}); err != nil {
		return err
	}
	if err := srv.Trail.Record(ctx, "model.registered", "", "demo", map[string]any{"model": ModelName, "version": "v1", "digest": digest, "endpoint": v1URL}); err != nil {
		return err
	}
	if err := srv.Gateway.SetRoutes(ctx, ModelName, gateway.RouteTable{Model: ModelName, Mode: "stable",
		Stable: gateway.Backend{Version: "v1", URL: v1URL, Name: ModelName}}); err != nil {
		return err
	}
	d.res.ProductionBefore = "v1"
	d.say("production: %s v1 (15 trees, depth 2) served at %s, routed by the gateway", ModelName, v1URL)

	hold, err := dataset.Read(filepath.Join(work, "holdout.csv"), dataset.Options{})
	if err != nil {
		return err
	}
	b, err := model.BatchFromFrame(hold, v1.Info().Features)
	if err != nil {
		return err
	}
	for i := range b.Rows {
		d.rows = append(d.rows, append([]float64(nil), b.Row(i)...))
	}
	return nil
}

// goodCandidate takes the better model through the whole flow.
func (d *demo) goodCandidate(ctx context.Context) error {
	d.heading("run 1: candidate v2 (80 trees, depth 3)")
	cfg, err := os.ReadFile(filepath.Join(d.dir, "example", "modelgate.yaml"))
	if err != nil {
		return err
	}
	traffic := d.startTraffic(ctx)
	run, err := d.follow(ctx, cfg, true)
	d.res.TrafficGood = traffic()
	if err != nil {
		return err
	}
	d.res.Good = run
	d.say("traffic during run 1: %d requests, %d ok, by version %v, p99 %.1f ms", d.res.TrafficGood.Sent, d.res.TrafficGood.OK,
		d.res.TrafficGood.ByVersion, d.res.TrafficGood.LatencyP99Ms)
	p, err := d.srv.Store.ProductionGet(ctx, ModelName, "production")
	if err != nil {
		return err
	}
	d.res.ProductionAfter = p.Version
	d.say("registry: production is now %s (previous %s)", p.Version, p.Previous)
	return nil
}

// brokenCandidate deploys a model whose serving upstream fails half its
// requests: every offline check passes, the canary does not.
func (d *demo) brokenCandidate(ctx context.Context) error {
	d.heading("run 2: candidate v3 with a broken serving upstream")
	work := filepath.Join(d.dir, "example")
	v3path := filepath.Join(work, "model-candidate-v3.json")
	v3, err := model.Load(v3path)
	if err != nil {
		return err
	}
	v3digest, _, err := sign.FileDigest(v3path)
	if err != nil {
		return err
	}
	// It does hold v3's bytes (and says so in its metadata, as the rollout
	// checks); what is broken is how it feeds them the features.
	inner := model.NewServer(model.ServerOptions{Models: map[string]model.Predictor{ModelName: v3}, Versions: map[string]string{ModelName: v3digest}})
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(1, 2))
	// The serving image reads the features in the wrong order: every
	// answer is well-formed, and wrong.
	broken := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/infer") {
			inner.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		inner.ServeHTTP(rec, r)
		var resp map[string]any
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &resp) != nil {
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
			return
		}
		if outs, ok := resp["outputs"].([]any); ok {
			for _, o := range outs {
				if om, ok := o.(map[string]any); ok {
					if data, ok := om["data"].([]any); ok {
						mu.Lock()
						for i := range data {
							data[i] = rng.Float64()
						}
						mu.Unlock()
					}
				}
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(resp)
	})
	url, err := serveOn(ctx, broken)
	if err != nil {
		return err
	}
	d.say("v3 is the same trees recalibrated; its serving upstream %s reads features in the wrong order: well-formed, wrong answers", url)
	// The operator's grant: a submitted run may name only upstreams the
	// server was told about (modelgate server --allow-endpoint).
	if err := d.srv.Endpoints.Add(url); err != nil {
		return err
	}
	cfg, err := os.ReadFile(filepath.Join(work, "modelgate-v3.yaml"))
	if err != nil {
		return err
	}
	cfg = []byte(strings.ReplaceAll(string(cfg), "{{BROKEN_UPSTREAM}}", url))
	traffic := d.startTraffic(ctx)
	run, err := d.follow(ctx, cfg, true)
	d.res.TrafficBroken = traffic()
	if err != nil {
		return err
	}
	d.res.Broken = run
	d.say("traffic during run 2: %d requests, %d ok, %d answered by stable after the candidate failed, by version %v",
		d.res.TrafficBroken.Sent, d.res.TrafficBroken.OK, d.res.TrafficBroken.Fallbacks, d.res.TrafficBroken.ByVersion)
	p, err := d.srv.Store.ProductionGet(ctx, ModelName, "production")
	if err != nil {
		return err
	}
	d.say("registry: production is still %s", p.Version)
	return nil
}

// follow submits a run, prints its progress, approves it as two
// reviewers when the policy asks, and waits for the end.
func (d *demo) follow(ctx context.Context, cfg []byte, approve bool) (store.Run, error) {
	c := d.srv.Coordinator
	events, done := c.Subscribe("*")
	defer done()
	run, _, err := c.Submit(ctx, coordinator.SubmitParams{Config: cfg, File: "modelgate.yaml", BaseDir: filepath.Join(d.dir, "example"),
		Trigger: "demo", Requester: "ci-bot", CommitAuthor: "dev-dana"})
	if err != nil {
		return run, err
	}
	d.say("run %s accepted", run.ID)
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	for {
		select {
		case <-ctx.Done():
			return run, fmt.Errorf("demo run %s did not finish: %w", run.ID, ctx.Err())
		case e := <-events:
			if e.RunID != run.ID {
				continue
			}
			el := time.Since(start).Seconds()
			switch e.Type {
			case "stage":
				if e.StageState == store.StageRunning {
					continue
				}
				d.say("  %5.1fs  %-9s %-9s %-5s %s", el, e.Stage, e.StageState, e.Verdict, short(e.Message, 110))
			case "state":
				d.say("  %5.1fs  » %s %s", el, e.State, short(e.Message, 120))
				if e.State == store.RunAwaitingApproval && approve {
					if err := d.approve(ctx, run.ID); err != nil {
						return run, err
					}
				}
				if e.State.Terminal() {
					r, err := d.srv.Store.RunGet(ctx, run.ID)
					if err == nil {
						d.deployDetails(ctx, r)
					}
					return r, err
				}
			}
		}
	}
}

// deployDetails prints what the rollout measured.
func (d *demo) deployDetails(ctx context.Context, run store.Run) {
	stages, err := d.srv.Store.StageList(ctx, run.ID)
	if err != nil {
		return
	}
	for _, s := range stages {
		if s.Name != "deploy" || len(s.Report) == 0 {
			continue
		}
		rep, err := s.AgentReport()
		if err != nil {
			return
		}
		d.say("          rollout: %s", rep.Summary)
		keys := make([]string, 0, len(rep.Metrics))
		for k := range rep.Metrics {
			if strings.HasPrefix(k, "shadow.") || strings.HasPrefix(k, "canary.") || strings.HasPrefix(k, "bluegreen.") {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			d.say("            %-28s %.4g", k, rep.Metrics[k])
		}
	}
}

// approve shows the decision and approves as two distinct reviewers.
func (d *demo) approve(ctx context.Context, runID string) error {
	run, err := d.srv.Store.RunGet(ctx, runID)
	if err != nil {
		return err
	}
	var dec oversight.Decision
	_ = json.Unmarshal(run.Decision, &dec)
	d.say("          policy %s: risk %s, needs %d approval(s) from %v", short(strings.TrimPrefix(dec.PolicyRevision, "sha256:"), 12), dec.Risk, dec.Approvers.Min, dec.Approvers.Groups)
	for _, r := range dec.Reasons {
		d.say("            - %s", r)
	}
	as, err := d.srv.Queue.List(ctx, store.ApprovalListParams{RunID: runID, States: []store.ApprovalState{store.ApprovalPending}})
	if err != nil || len(as) == 0 {
		return fmt.Errorf("no pending approval for run %s: %v", runID, err)
	}
	a := as[0]
	if brief, _, _, err := assistant.View(ctx, d.srv.Store, run); err == nil {
		d.res.Brief = brief.Text
		d.say("          reviewer brief (%s, %s):", brief.Source, brief.Prompt)
		for _, l := range strings.Split(brief.Text, "\n") {
			d.say("            %s", l)
		}
	}
	// the commit author may not approve their own candidate: shown, then refused
	if _, err := d.srv.Queue.Approve(ctx, a.ID, auth.Principal{Subject: "dev-dana", Roles: []string{"reviewer"}, Groups: a.Groups}, "lgtm"); err != nil {
		d.say("          dev-dana (the commit author) tries to approve: refused: %v", err)
	}
	reviewers := []string{"rita", "sam", "lee"}
	for i := 0; i < a.Min && i < len(reviewers); i++ {
		p := auth.Principal{Subject: reviewers[i], Roles: []string{"reviewer"}, Groups: a.Groups}
		got, err := d.srv.Queue.Approve(ctx, a.ID, p, "reviewed the evaluation report")
		if err != nil {
			return fmt.Errorf("approve as %s: %w", reviewers[i], err)
		}
		d.res.Approvals++
		d.say("          %s approves (%d of %d) → approval %s", reviewers[i], i+1, a.Min, got.State)
	}
	return nil
}

// startTraffic replays the holdout through the gateway until the
// returned function is called, which returns what the clients saw.
func (d *demo) startTraffic(ctx context.Context) func() gateway.ReplayResult {
	ctx, cancel := context.WithCancel(ctx)
	var res gateway.ReplayResult
	done := make(chan struct{})
	go func() {
		defer close(done)
		res, _ = gateway.Replay(ctx, gateway.ReplayOptions{URL: d.gw, Model: ModelName, Rows: d.rows, RPS: 300, Duration: time.Hour,
			Header: func(i int) http.Header { return http.Header{"X-Customer-Id": []string{fmt.Sprint(i % 97)}} }})
	}()
	return func() gateway.ReplayResult {
		cancel()
		<-done
		return res
	}
}

func (d *demo) verifyAudit(ctx context.Context) error {
	d.heading("audit trail")
	if err := d.srv.Trail.Checkpoint(ctx); err != nil {
		return err
	}
	rep, err := audit.Verify(ctx, audit.VerifyParams{Store: d.srv.Store, PublicKey: d.srv.Trail.PublicKey()})
	if err != nil {
		return err
	}
	d.res.AuditEntries = rep.Entries
	d.res.AuditOK = rep.Intact
	d.say("%d entries, hash chain and signed checkpoints verified: %v", rep.Entries, rep.Intact)
	d.say("\nnext: `modelgate server` for the API and the reviewers' page; `modelgate run -f modelgate.yaml --local` on your own model")
	return nil
}

// writeV3 makes the third model: the candidate's trees with a shifted
// base_score, a genuinely different artifact that scores as well.
func writeV3(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, "model-candidate.json"))
	if err != nil {
		return err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	lmp, ok := dig(m, "learner", "learner_model_param")
	if !ok {
		return errors.New("model-candidate.json: no learner_model_param")
	}
	lmp["base_score"] = "5.2E-1"
	out, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "model-candidate-v3.json"), out, 0o644)
}

func dig(m map[string]any, keys ...string) (map[string]any, bool) {
	cur := m
	for _, k := range keys {
		next, ok := cur[k].(map[string]any)
		if !ok {
			return nil, false
		}
		cur = next
	}
	return cur, true
}

func copyFS(dst string, fsys embed.FS) error {
	return fs.WalkDir(fsys, "example", func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, "example"), "/")
		target := filepath.Join(dst, rel)
		if e.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := fsys.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
}

// serveOn serves h on a loopback port until ctx ends.
func serveOn(ctx context.Context, h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	context.AfterFunc(ctx, func() { _ = srv.Close() })
	return "http://" + ln.Addr().String(), nil
}

func short(s string, n int) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > n {
		return s[:n-1] + "…"
	}
	return s
}
