package coordinator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/agents/training"
	"github.com/modelgate/modelgate/internal/blob"
	"github.com/modelgate/modelgate/internal/config"
	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/internal/taskq"
	"github.com/modelgate/modelgate/internal/taskq/work"
)

// TaskQueue is what a remote stage needs of internal/taskq: publish the
// task, read the result a worker stored for it, withdraw it when nobody
// waits any more.
type TaskQueue interface {
	Publish(ctx context.Context, t taskq.Task) (string, error)
	ResultGet(ctx context.Context, key string) ([]byte, error)
	// ResultWait returns the result once stored, looking at least every
	// fallback, until ctx ends.
	ResultWait(ctx context.Context, key string, fallback time.Duration) ([]byte, error)
	Withdraw(ctx context.Context, t taskq.Task) error
}

// RemoteOptions configures a remote stage agent.
type RemoteOptions struct {
	Name  string // the agent's name, the same as the in-process agent's
	Queue TaskQueue
	Store store.Store // the run's config and base folder
	Blobs *blob.FS    // the run's inputs and artifacts go in here, to be fetched by digest
	// Inputs, shared by a server's remote agents; nil = this agent's own.
	Inputs *InputDigests
	// Poll is how often the stored result is looked for besides the
	// announcement of every stored result; default 1 s.
	Poll time.Duration
}

// Remote is an agent whose work a worker does: Run publishes the stage
// as a task naming everything by digest and waits for the result a
// worker reports (internal/api tasks.go), until the stage's timeout or
// the run's context ends. The coordinator persists what it returns
// exactly as it persists an in-process agent's report.
type Remote struct {
	o RemoteOptions
}

// InputDigests are each run's input digests, taken once per run and
// process and shared by the remote agents given the same one: the
// parallel stages get the same picture of the run's files, and a large
// data set is hashed once, not once per stage.
type InputDigests struct {
	mu sync.Mutex
	m  map[string]map[string]string
}

// NewRemote builds a remote agent.
func NewRemote(o RemoteOptions) (*Remote, error) {
	if o.Name == "" || o.Queue == nil || o.Store == nil || o.Blobs == nil {
		return nil, errors.New("remote agent: name, queue, store and blobs are required")
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.Inputs == nil {
		o.Inputs = &InputDigests{}
	}
	return &Remote{o: o}, nil
}

// Name implements agents.Agent.
func (r *Remote) Name() string { return r.o.Name }

// Run implements agents.Agent.
func (r *Remote) Run(ctx context.Context, t agents.Task) (agents.Report, error) {
	body, err := r.body(ctx, t)
	if err != nil {
		return agents.Report{}, err
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return agents.Report{}, fmt.Errorf("%s task: %w", t.Stage, err)
	}
	task := taskq.Task{RunID: t.RunID, Stage: t.Stage, Attempt: t.Attempt, Body: raw}
	// A result may already be there (this attempt was run before, by an
	// embedder calling Run twice): it stands, first-write-wins.
	if res, err := r.result(ctx, task); err != nil || res != nil {
		return r.outcome(ctx, t, res, err)
	}
	if _, ok := ctx.Deadline(); !ok && t.Stage == StageTrain && t.Config.Train != nil {
		// The coordinator gives training no stage timeout (the agent kills
		// its command at train.timeout); a worker does the same, and a
		// train task nobody takes must not hold the run for ever.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t.Config.Train.Timeout.Duration+5*time.Minute)
		defer cancel()
	}
	if task.ID, err = r.o.Queue.Publish(ctx, task); err != nil {
		return agents.Report{}, agents.Retriable(err)
	}
	t.Log().Info("stage published to workers", "task", taskq.TaskID(task))
	for {
		raw, err := r.o.Queue.ResultWait(ctx, task.Key(), r.o.Poll)
		if ctx.Err() != nil {
			// Nobody waits for this attempt any more: no worker should start it.
			if err := r.o.Queue.Withdraw(context.WithoutCancel(ctx), task); err != nil {
				t.Log().Warn("withdraw task", "err", err)
			}
			return agents.Report{}, ctx.Err()
		}
		if err != nil {
			t.Log().Warn("wait for task result; retrying", "err", err)
			continue
		}
		var res work.Result
		if err := json.Unmarshal(raw, &res); err != nil {
			return r.outcome(ctx, t, nil, fmt.Errorf("result of %s: %w", task.Key(), err))
		}
		return r.outcome(ctx, t, &res, nil)
	}
}

func (r *Remote) result(ctx context.Context, task taskq.Task) (*work.Result, error) {
	raw, err := r.o.Queue.ResultGet(ctx, task.Key())
	if err != nil || raw == nil {
		return nil, err
	}
	var res work.Result
	if err := json.Unmarshal(raw, &res); err != nil {
		return nil, fmt.Errorf("result of %s: %w", task.Key(), err)
	}
	return &res, nil
}

func (r *Remote) outcome(ctx context.Context, t agents.Task, res *work.Result, err error) (agents.Report, error) {
	switch {
	case err != nil:
		return agents.Report{}, agents.Retriable(err)
	case res.DeadLetter:
		return agents.Report{}, fmt.Errorf("task given up on (dead-lettered): %s", res.Error)
	case res.Error != "" && res.Retriable:
		return agents.Report{}, agents.Retriable(fmt.Errorf("worker %s: %s", res.Worker, res.Error))
	case res.Error != "":
		return agents.Report{}, fmt.Errorf("worker %s: %s", res.Worker, res.Error)
	}
	rep := *res.Report
	rep.Agent = r.o.Name
	for i := range rep.Artifacts {
		// The path is the worker's, meaningless here: nothing on this
		// server may be read by a name a worker chose.
		rep.Artifacts[i].Path = ""
	}
	if t.Stage == StageTrain {
		return r.trained(ctx, t, rep)
	}
	return rep, nil
}

// trained points a train report at the artifact its worker uploaded (the
// worker API accepted the report only if the digest was uploaded for
// this task): the coordinator then takes the candidate from the blob
// store, never from a path a worker named.
func (r *Remote) trained(ctx context.Context, t agents.Task, rep agents.Report) (agents.Report, error) {
	var d training.Details
	if err := json.Unmarshal(rep.Details, &d); err != nil || d.Digest == "" {
		return rep, errors.New("train report from a worker names no artifact digest")
	}
	if _, err := r.o.Blobs.Stat(ctx, d.Digest); err != nil {
		return rep, fmt.Errorf("trained artifact %s: %w", d.Digest, err)
	}
	src, err := r.o.Blobs.Path(d.Digest)
	if err != nil {
		return rep, err
	}
	// under the name the config gives it (its extension says its format),
	// in a folder of this attempt's own
	dir := filepath.Join(t.WorkDir, "remote-train", fmt.Sprintf("attempt-%d", t.Attempt))
	_ = os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return rep, fmt.Errorf("trained artifact: %w", err)
	}
	d.ArtifactPath = filepath.Join(dir, filepath.Base(training.ArtifactName(t.Config)))
	if err := os.Link(src, d.ArtifactPath); err != nil {
		if err := blob.CopyFile(src, d.ArtifactPath); err != nil {
			return rep, fmt.Errorf("trained artifact: %w", err)
		}
	}
	raw, err := json.Marshal(d)
	if err != nil {
		return rep, err
	}
	rep.Details = raw
	return rep, nil
}

// body names everything the worker needs by digest, putting each file in
// the blob store (a no-op for uploaded inputs, which are there already).
func (r *Remote) body(ctx context.Context, t agents.Task) (work.Body, error) {
	run, err := r.o.Store.RunGet(ctx, t.RunID)
	if err != nil {
		return work.Body{}, fmt.Errorf("load run %s: %w", t.RunID, err)
	}
	b := work.Body{Model: run.Model, Environment: run.Environment, Config: string(run.Config), Reports: t.Reports}
	if b.Inputs, err = r.runInputs(ctx, run, t); err != nil {
		return work.Body{}, err
	}
	if b.Candidate, err = r.artifact(ctx, t.Candidate.ArtifactPath); err != nil {
		return work.Body{}, fmt.Errorf("candidate: %w", err)
	}
	b.Candidate.Version, b.Candidate.Digest, b.Candidate.Endpoint = t.Candidate.Version, t.Candidate.Digest, t.Candidate.Endpoint
	if p := t.Production; p != nil {
		a, err := r.artifact(ctx, p.ArtifactPath)
		if err != nil {
			return work.Body{}, fmt.Errorf("production %s: %w", p.Version, err)
		}
		a.Version, a.Digest, a.Endpoint = p.Version, p.Digest, p.Endpoint
		b.Production = &work.Production{Artifact: a}
	}
	return b, nil
}

// runInputs names the files the run's config refers to by digest, once
// per run (see Remote.inputs).
func (r *Remote) runInputs(ctx context.Context, run store.Run, t agents.Task) (map[string]string, error) {
	key := run.ID + "\x00" + run.BaseDir
	c := r.o.Inputs
	c.mu.Lock()
	got, ok := c.m[key]
	c.mu.Unlock()
	if ok {
		return got, nil
	}
	inputs := map[string]string{}
	for _, f := range t.Config.Files() {
		if f.Field == "policy.bundle" {
			continue // the server's own bundle judges
		}
		if filepath.IsAbs(f.Path) || run.BaseDir == "" {
			return nil, fmt.Errorf("%s: %q is not inside the run's inputs; a remote stage can only carry uploaded or workspace-relative files", f.Field, f.Path)
		}
		name := path.Clean(filepath.ToSlash(f.Path))
		if err := blob.CheckName(name); err != nil {
			return nil, fmt.Errorf("%s: %q %w", f.Field, f.Path, err)
		}
		if err := r.add(ctx, inputs, name, config.Resolve(run.BaseDir, f.Path)); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // optional files (a signature); the agent reports what is missing
			}
			return nil, fmt.Errorf("%s: %w", f.Field, err)
		}
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= 4096 {
		c.m = map[string]map[string]string{} // a bound, not a cache policy: a run past its stages needs none
	}
	c.m[key] = inputs
	c.mu.Unlock()
	return inputs, nil
}

// artifact names a model file or folder by its files' digests.
func (r *Remote) artifact(ctx context.Context, p string) (work.Artifact, error) {
	if p == "" {
		return work.Artifact{}, nil
	}
	st, err := os.Stat(p)
	if err != nil {
		return work.Artifact{}, err
	}
	a := work.Artifact{Name: filepath.Base(p), Dir: st.IsDir(), Files: map[string]string{}}
	return a, r.add(ctx, a.Files, a.Name, p)
}

// add puts the file at p (or every file under the folder p) into the
// blob store and into files under name.
func (r *Remote) add(ctx context.Context, files map[string]string, name, p string) error {
	st, err := os.Stat(p)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		info, err := r.o.Blobs.Import(ctx, p)
		if err != nil {
			return err
		}
		files[name] = info.Digest
		return nil
	}
	return filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s: only regular files can be sent to a worker", q)
		}
		rel, err := filepath.Rel(p, q)
		if err != nil {
			return err
		}
		info, err := r.o.Blobs.Import(ctx, q)
		if err != nil {
			return err
		}
		files[name+"/"+strings.ReplaceAll(rel, string(filepath.Separator), "/")] = info.Digest
		return nil
	})
}
