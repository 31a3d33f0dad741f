package coordinator

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"text/template"
	"time"

	"github.com/modelgate/modelgate/internal/config"
	"github.com/modelgate/modelgate/internal/store"
)

// trainVars are the placeholders a training command may use.
type trainVars struct {
	ArtifactDir string
	RunID       string
	Reference   string
	Holdout     string
	BaseDir     string
}

// train runs the user's training command (this is attempt number
// attempt) as a subprocess (argv, never a shell), captures its output into
// the run's log, and records the artifact it wrote, hashed, as the
// candidate.
func (c *Coordinator) train(ctx context.Context, run store.Run, cfg *config.Pipeline, attempt int) (store.Run, error) {
	artDir, err := filepath.Abs(filepath.Join(c.runDir(run.ID), "artifacts"))
	if err != nil {
		return run, err
	}
	if err := os.MkdirAll(artDir, 0o755); err != nil {
		return run, fmt.Errorf("create artifact folder: %w", err)
	}
	vars := trainVars{ArtifactDir: artDir, RunID: run.ID, BaseDir: run.BaseDir,
		Reference: config.Resolve(run.BaseDir, cfg.Data.Reference), Holdout: config.Resolve(run.BaseDir, cfg.Data.Holdout)}
	argv := make([]string, len(cfg.Train.Command))
	for i, a := range cfg.Train.Command {
		s, err := expand(a, vars)
		if err != nil {
			return run, fmt.Errorf("train.command[%d]: %w", i, err)
		}
		argv[i] = s
	}
	artifact := cfg.Train.Artifact
	if artifact == "" {
		artifact = filepath.Base(cfg.Candidate.Artifact)
		if cfg.Candidate.Artifact == "" {
			artifact = "model.json"
		}
	}
	artPath := filepath.Join(artDir, artifact)

	start := c.o.Now()
	c.putStage(ctx, store.Stage{RunID: run.ID, Name: StageTrain, State: store.StageRunning, Attempt: attempt, StartedAt: start.UTC()})
	c.publish(Event{RunID: run.ID, Type: "stage", Stage: StageTrain, StageState: store.StageRunning})
	c.record(ctx, "stage.started", run.ID, "train", map[string]any{"stage": StageTrain, "attempt": attempt, "argv": argv})

	fail := func(err error) (store.Run, error) {
		c.putStage(ctx, store.Stage{RunID: run.ID, Name: StageTrain, State: store.StageFailed, Attempt: attempt,
			Error: err.Error(), StartedAt: start.UTC(), FinishedAt: c.o.Now().UTC()})
		c.record(ctx, "stage.failed", run.ID, "train", map[string]any{"stage": StageTrain, "error": err.Error()})
		c.publish(Event{RunID: run.ID, Type: "stage", Stage: StageTrain, StageState: store.StageFailed, Message: err.Error()})
		c.metrics.agentError("train")
		return run, fmt.Errorf("train stage: %w", err)
	}
	_ = os.Remove(artPath) // an artifact left by an earlier, crashed attempt proves nothing
	tail, err := c.runCommand(ctx, run.ID, argv, run.BaseDir, cfg.Train.Env, cfg.Train.Timeout.Duration)
	if err != nil {
		if ctx.Err() != nil {
			return run, ctx.Err()
		}
		if tail != "" {
			err = fmt.Errorf("%w; last output:\n%s", err, tail)
		}
		return fail(err)
	}
	if !exists(artPath) {
		return fail(fmt.Errorf("training command exited 0 but wrote no artifact at %s (set train.artifact to the file it writes under {{.ArtifactDir}})", artPath))
	}
	digest, size, err := hashFile(artPath)
	if err != nil {
		return fail(err)
	}
	cand := store.Candidate{Version: cfg.Candidate.Version, ArtifactPath: artPath, Digest: digest}
	if cand.Version == "" {
		cand.Version = versionOf(digest)
	}
	updated, err := c.o.Store.RunUpdate(ctx, store.RunUpdateParams{ID: run.ID, Candidate: &cand})
	if err != nil {
		return run, fmt.Errorf("record trained candidate: %w", err)
	}
	elapsed := c.o.Now().Sub(start)
	c.putStage(ctx, store.Stage{RunID: run.ID, Name: StageTrain, State: store.StageSucceeded, Attempt: attempt, Verdict: "pass",
		Report: mustJSON(map[string]any{"agent": "train", "stage": StageTrain, "verdict": "pass",
			"metrics":  map[string]float64{"train.seconds": elapsed.Seconds(), "artifact.bytes": float64(size)},
			"findings": []any{}, "summary": fmt.Sprintf("trained %s (%d bytes, %s) in %s", artifact, size, digest, elapsed.Round(time.Millisecond))}),
		StartedAt: start.UTC(), FinishedAt: c.o.Now().UTC()})
	c.record(ctx, "candidate.trained", run.ID, "train", map[string]any{"digest": digest, "size": size, "path": artPath})
	c.metrics.stageDone(StageTrain, elapsed)
	c.publish(Event{RunID: run.ID, Type: "stage", Stage: StageTrain, StageState: store.StageSucceeded, Verdict: "pass"})
	return updated, nil
}

func expand(s string, v trainVars) (string, error) {
	if !strings.Contains(s, "{{") {
		return s, nil
	}
	t, err := template.New("arg").Option("missingkey=error").Parse(s)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, v); err != nil {
		return "", err
	}
	return b.String(), nil
}

// runCommand runs argv with a timeout, streaming every output line into
// the run's log. It returns the last lines of output for error messages.
// The command gets its own process group so that a timeout kills the
// whole tree a training script may have started.
func (c *Coordinator) runCommand(ctx context.Context, runID string, argv []string, dir string, env map[string]string, timeout time.Duration) (string, error) {
	if len(argv) == 0 {
		return "", errors.New("empty command")
	}
	if timeout <= 0 {
		timeout = 30 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw

	var (
		tail []string
		wg   sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		var batch []string
		flush := func() {
			if len(batch) > 0 {
				if err := c.o.Store.LogAppend(context.WithoutCancel(ctx), store.LogAppendParams{RunID: runID, Stage: StageTrain, Lines: batch}); err != nil {
					c.log.Error("append training log", "run", runID, "err", err)
				}
				batch = nil
			}
		}
		for sc.Scan() {
			line := sc.Text()
			batch = append(batch, line)
			tail = append(tail, line)
			if len(tail) > 20 {
				tail = tail[1:]
			}
			if len(batch) >= 50 {
				flush()
			}
		}
		flush()
		_, _ = io.Copy(io.Discard, pr)
	}()
	err := cmd.Start()
	if err != nil {
		pw.Close()
		wg.Wait()
		return "", fmt.Errorf("start training command %q: %w", argv[0], err)
	}
	err = cmd.Wait()
	pw.Close()
	wg.Wait()
	out := strings.Join(tail, "\n")
	if ctx.Err() == context.DeadlineExceeded {
		return out, fmt.Errorf("training command timed out after %s and was killed", timeout)
	}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return out, fmt.Errorf("training command exited with status %d", ee.ExitCode())
		}
		return out, fmt.Errorf("training command: %w", err)
	}
	return out, nil
}
