// Package worker runs stage tasks for a modelgate server: it takes them
// over the worker API, fetches the run's files by digest (checking each
// one's SHA-256), runs the same agent the server would, and reports.
//
// A worker holds a token of the worker role and nothing else: no Redis
// address, no store, no shared disk. What it may fetch is what its task
// names; what it reports is stored once per run, stage and attempt.
package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/charmbracelet/log"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/agents/training"
	"github.com/modelgate/modelgate/internal/api"
	"github.com/modelgate/modelgate/internal/api/client"
	"github.com/modelgate/modelgate/internal/blob"
	"github.com/modelgate/modelgate/internal/config"
	"github.com/modelgate/modelgate/internal/taskq/work"
)

// Options configures a Worker.
type Options struct {
	Client *client.Client
	Name   string                  // this process among the workers of its token
	Agents map[string]agents.Agent // by stage: the stages it asks for
	Dir    string                  // its own folder: a blob cache and one folder per task
	Logger *log.Logger
	// Concurrency is how many tasks run at once; default 1.
	Concurrency int
	// Wait is how long one claim waits for a task; default 10 s.
	Wait time.Duration
	// Delay holds every task this long before its agent runs: fault tests
	// use it to kill a worker in the middle of a task.
	Delay time.Duration
}

// Worker takes and runs tasks until its context ends.
type Worker struct {
	o     Options
	blobs *blob.FS
}

// New checks the options.
func New(o Options) (*Worker, error) {
	if o.Client == nil || o.Name == "" || len(o.Agents) == 0 || o.Dir == "" {
		return nil, errors.New("worker: client, name, agents and folder are required")
	}
	if o.Logger == nil {
		o.Logger = log.Default()
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 1
	}
	if o.Wait <= 0 {
		o.Wait = 10 * time.Second
	}
	bs, err := blob.NewFS(filepath.Join(o.Dir, "blobs"))
	if err != nil {
		return nil, err
	}
	return &Worker{o: o, blobs: bs}, nil
}

// Stages are the stages this worker asks for, sorted.
func (w *Worker) Stages() []string {
	out := make([]string, 0, len(w.o.Agents))
	for s := range w.o.Agents {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// Run claims and runs tasks until ctx ends. An error the server answers
// with that no retry can cure (401, 403, 400) ends it.
func (w *Worker) Run(ctx context.Context) error {
	slots := make(chan struct{}, w.o.Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	backoff := 250 * time.Millisecond
	for ctx.Err() == nil {
		slots <- struct{}{}
		tasks, err := w.claim(ctx)
		if err != nil {
			<-slots
			var ae *client.Error
			if errors.As(err, &ae) && (ae.Status == 401 || ae.Status == 403 || ae.Status == 400 || ae.Status == 501) {
				return fmt.Errorf("take tasks: %w", err)
			}
			if ctx.Err() != nil {
				break
			}
			w.o.Logger.Warn("take tasks; retrying", "err", err, "in", backoff)
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = 250 * time.Millisecond
		if len(tasks) == 0 {
			<-slots
			continue
		}
		// One claim may hand out a task per stage: each is kept (its
		// heartbeat runs) from now, also while it waits for a free slot.
		held := make([]heldTask, len(tasks))
		for i, t := range tasks {
			h := heldTask{t: t, lg: w.o.Logger.With("task", t.ID, "run", t.RunID, "stage", t.Stage, "attempt", t.Attempt)}
			h.ctx, h.lost = context.WithCancelCause(ctx)
			go w.heartbeat(h.ctx, t, h.lost, h.lg)
			held[i] = h
		}
		for i, h := range held {
			if i > 0 {
				slots <- struct{}{}
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-slots }()
				defer h.lost(nil)
				w.handle(ctx, h)
			}()
		}
	}
	return nil
}

func (w *Worker) claim(ctx context.Context) ([]api.ClaimedTask, error) {
	var reply api.ClaimReply
	_, err := w.o.Client.Do(ctx, "POST", "/v1/tasks/claim", api.ClaimRequest{Stages: w.Stages(), Worker: w.o.Name,
		WaitSeconds: int(w.o.Wait / time.Second)}, &reply)
	return reply.Tasks, err
}

// handle runs one task and reports it; a task it cannot report stays
// pending on the server, to be redelivered.
// heldTask is a claimed task with its heartbeat running.
type heldTask struct {
	t    api.ClaimedTask
	lg   *log.Logger
	ctx  context.Context // ends when the claim is lost
	lost context.CancelCauseFunc
}

func (w *Worker) handle(ctx context.Context, h heldTask) {
	t, lg, tctx := h.t, h.lg, h.ctx
	lg.Info("task claimed", "deliveries", t.Deliveries)
	start := time.Now()
	if err := context.Cause(tctx); err != nil && !errors.Is(err, context.Canceled) {
		lg.Warn("task taken from this worker before it started; not running it", "why", err)
		return
	}
	res := w.execute(tctx, t, lg)
	if ctx.Err() != nil {
		lg.Warn("stopping before the task was reported; it will be redelivered")
		return
	}
	if err := context.Cause(tctx); err != nil && !errors.Is(err, context.Canceled) {
		lg.Warn("task taken from this worker; not reporting it", "why", err)
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	var reply api.TaskReportReply
	_, err := w.o.Client.Do(rctx, "POST", "/v1/tasks/"+url.PathEscape(t.ID)+"/report",
		api.TaskReport{RunID: t.RunID, Stage: t.Stage, Attempt: t.Attempt, Result: res}, &reply, api.ClaimHeader, t.Claim)
	var ae *client.Error
	switch {
	case errors.As(err, &ae) && ae.Code == "already_reported":
		lg.Info("task was already reported by another worker; the first report stands")
	case err != nil:
		lg.Error("report task", "err", err)
	default:
		verdict := ""
		if res.Report != nil {
			verdict = string(res.Report.Verdict)
		}
		lg.Info("task reported", "verdict", verdict, "error", res.Error, "seconds", time.Since(start).Seconds())
	}
}

// heartbeat keeps the task this worker's while it works; when the server
// says the claim is gone (another worker has it, or its stage gave up),
// the work stops.
func (w *Worker) heartbeat(ctx context.Context, t api.ClaimedTask, lost context.CancelCauseFunc, lg *log.Logger) {
	every := time.Duration(t.HeartbeatSeconds * float64(time.Second))
	if every <= 0 {
		return
	}
	tick := time.NewTicker(max(every, 100*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		_, err := w.o.Client.Do(ctx, "POST", "/v1/tasks/"+url.PathEscape(t.ID)+"/heartbeat", nil, nil, api.ClaimHeader, t.Claim)
		var ae *client.Error
		if errors.As(err, &ae) && ae.Status == 409 {
			lost(fmt.Errorf("%s: %s", ae.Code, ae.Message))
			return
		}
		if err != nil && ctx.Err() == nil {
			lg.Warn("heartbeat", "err", err) // the next one may pass; past ClaimIdle the task moves on
		}
	}
}

// execute lays the task's files out and runs its agent.
func (w *Worker) execute(ctx context.Context, t api.ClaimedTask, lg *log.Logger) work.Result {
	fail := func(err error, retriable bool) work.Result {
		lg.Warn("task failed", "err", err)
		return work.Result{Error: err.Error(), Retriable: retriable}
	}
	agent, ok := w.o.Agents[t.Stage]
	if !ok {
		return fail(fmt.Errorf("this worker runs no %s agent", t.Stage), true)
	}
	var body work.Body
	dec := json.NewDecoder(strings.NewReader(string(t.Body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		return fail(fmt.Errorf("task body: %w", err), false)
	}
	if err := body.Check(); err != nil {
		return fail(err, false)
	}
	cfg, err := config.Parse("run "+t.RunID+" config", []byte(body.Config))
	if err != nil {
		return fail(err, false)
	}
	dir, err := os.MkdirTemp(filepath.Join(w.o.Dir), "task-")
	if err != nil {
		return fail(fmt.Errorf("task folder: %w", err), true)
	}
	defer os.RemoveAll(dir)
	for _, d := range body.Digests() {
		if err := w.fetch(ctx, t, d); err != nil {
			return fail(err, true)
		}
	}
	inputs := filepath.Join(dir, "inputs")
	if err := w.layOut(ctx, body.Inputs, inputs); err != nil {
		return fail(fmt.Errorf("inputs: %w", err), false)
	}
	task := agents.Task{RunID: t.RunID, Stage: t.Stage, Attempt: t.Attempt, Model: body.Model, Environment: body.Environment,
		Config: cfg, BaseDir: inputs, WorkDir: filepath.Join(dir, "work"), Logger: lg, Reports: body.Reports}
	if err := os.Mkdir(task.WorkDir, 0o700); err != nil {
		return fail(err, true)
	}
	task.Candidate = agents.Candidate{Version: body.Candidate.Version, Digest: body.Candidate.Digest, Endpoint: body.Candidate.Endpoint}
	if task.Candidate.ArtifactPath, err = w.artifact(ctx, body.Candidate, filepath.Join(dir, "candidate")); err != nil {
		return fail(fmt.Errorf("candidate: %w", err), false)
	}
	if p := body.Production; p != nil {
		task.Production = &agents.Production{Version: p.Version, Digest: p.Digest, Endpoint: p.Endpoint}
		if task.Production.ArtifactPath, err = w.artifact(ctx, p.Artifact, filepath.Join(dir, "production")); err != nil {
			return fail(fmt.Errorf("production: %w", err), false)
		}
	}
	if w.o.Delay > 0 {
		select {
		case <-ctx.Done():
			return fail(ctx.Err(), true)
		case <-time.After(w.o.Delay):
		}
	}
	actx, cancel := ctx, context.CancelFunc(func() {})
	if d := cfg.Stages.Timeout.Duration; d > 0 {
		actx, cancel = context.WithTimeout(ctx, d) // the server gives up then too
	}
	defer cancel()
	rep, err := run(actx, agent, task)
	if err != nil {
		return fail(err, agents.IsRetriable(err) || actx.Err() != nil)
	}
	if rep.Verdict == "" {
		rep.Verdict = agents.Pass
	}
	if rep.Agent == "" {
		rep.Agent = agent.Name()
	}
	if t.Stage == "train" {
		if err := w.handBack(ctx, t, rep); err != nil {
			return fail(err, true)
		}
	}
	rep = relative(rep, inputs)
	return work.Result{Report: &rep}
}

// relative writes the report's mentions of the task's input folder as the
// inputs' own relative names: the folder is this worker's and gone once
// the task is, and the report should read as the server's would.
func relative(rep agents.Report, inputs string) agents.Report {
	raw, err := json.Marshal(rep)
	if err != nil {
		return rep
	}
	prefix, err := json.Marshal(inputs + string(filepath.Separator))
	if err != nil {
		return rep
	}
	p := strings.Trim(string(prefix), `"`)
	var out agents.Report
	if err := json.Unmarshal([]byte(strings.ReplaceAll(string(raw), p, "")), &out); err != nil {
		return rep
	}
	return out
}

// handBack uploads a trained artifact for the task: the server takes the
// candidate from these bytes, checked against the digest the report names.
func (w *Worker) handBack(ctx context.Context, t api.ClaimedTask, rep agents.Report) error {
	var d training.Details
	if err := json.Unmarshal(rep.Details, &d); err != nil || d.Digest == "" || d.ArtifactPath == "" {
		return errors.New("train report names no artifact")
	}
	fh, err := os.Open(d.ArtifactPath)
	if err != nil {
		return fmt.Errorf("trained artifact: %w", err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("trained artifact %s is not a file: a worker hands back one file", d.ArtifactPath)
	}
	req, err := http.NewRequestWithContext(ctx, "PUT", w.o.Client.Base+"/v1/tasks/"+url.PathEscape(t.ID)+"/blobs/"+d.Digest, fh)
	if err != nil {
		return err
	}
	req.ContentLength = st.Size()
	req.Header.Set("Authorization", "Bearer "+w.o.Client.Token)
	req.Header.Set(api.ClaimHeader, t.Claim)
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		return fmt.Errorf("upload trained artifact: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("upload trained artifact: server answered %d: %s", resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return nil
}

func run(ctx context.Context, a agents.Agent, t agents.Task) (rep agents.Report, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s agent panicked: %v", a.Name(), r)
		}
	}()
	return a.Run(ctx, t)
}

// fetch puts blob d into the worker's cache unless it is there: the
// bytes are stored only if they hash to d (blob.FS.Put checks), so a
// server or a proxy that sends other bytes is refused, not believed.
func (w *Worker) fetch(ctx context.Context, t api.ClaimedTask, d string) error {
	if _, err := w.blobs.Stat(ctx, d); err == nil {
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, "GET", w.o.Client.Base+"/v1/tasks/"+url.PathEscape(t.ID)+"/blobs/"+d, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+w.o.Client.Token)
	req.Header.Set(api.ClaimHeader, t.Claim)
	hc := &http.Client{} // no overall timeout: a large artifact takes as long as it takes; ctx bounds it
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("fetch blob %s: %w", d, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("fetch blob %s: server answered %d: %s", d, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	if _, _, err := w.blobs.Put(ctx, blob.PutParams{Digest: d, Body: resp.Body}); err != nil {
		return fmt.Errorf("fetch blob %s: %w", d, err)
	}
	return nil
}

// layOut writes files (fetched already) under dir, read-only.
func (w *Worker) layOut(ctx context.Context, files map[string]string, dir string) error {
	if len(files) == 0 {
		return os.Mkdir(dir, 0o755)
	}
	return blob.Materialise(ctx, blob.MaterialiseParams{Store: w.blobs, Files: files, Dir: dir})
}

// artifact lays a model out under dir and returns its path there.
func (w *Worker) artifact(ctx context.Context, a work.Artifact, dir string) (string, error) {
	if len(a.Files) == 0 {
		return "", nil
	}
	for name := range a.Files {
		if name != a.Name && !strings.HasPrefix(name, a.Name+"/") {
			return "", fmt.Errorf("file %q is not under the artifact %q", name, a.Name)
		}
	}
	if err := w.layOut(ctx, a.Files, dir); err != nil {
		return "", err
	}
	return filepath.Join(dir, filepath.FromSlash(a.Name)), nil
}
