package training

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
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/template"
	"time"

	"github.com/charmbracelet/log"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/internal/audit"
	"github.com/modelgate/modelgate/internal/config"
	"github.com/modelgate/modelgate/internal/sandbox"
	"github.com/modelgate/modelgate/internal/store"
	"github.com/modelgate/modelgate/tools/redact"
	"github.com/modelgate/modelgate/tools/sign"
)

// Name is the agent's name in its reports; Stage is the one stage it runs.
const (
	Name  = "training"
	Stage = "train"
)

// LogSink receives the training command's output as it is written.
type LogSink interface {
	LogAppend(ctx context.Context, p store.LogAppendParams) error
}

// Options configure the agent.
type Options struct {
	Logs LogSink // where output lines go; nil discards them
	// Runner runs the command: a sandbox on a server, directly for run
	// --local. nil runs it directly.
	Runner sandbox.Runner
	// Recorder, when set with an unsandboxed Runner on a server
	// (Unsandboxed), gets a train.unsandboxed event for every run.
	Recorder    audit.Recorder
	Unsandboxed bool
	Logger      *log.Logger
}

// Agent is the training agent.
type Agent struct{ o Options }

// New returns the training agent.
func New(o Options) *Agent {
	if o.Runner == nil {
		o.Runner = sandbox.Direct{}
	}
	if o.Logger == nil {
		o.Logger = log.Default()
	}
	return &Agent{o: o}
}

// Name is "training".
func (a *Agent) Name() string { return Name }

// Details is Report.Details of the train stage: the artifact the command
// wrote, which the coordinator records as the run's candidate.
type Details struct {
	ArtifactPath string   `json:"artifact_path"`
	Digest       string   `json:"digest"`
	Size         int64    `json:"size"`
	Argv         []string `json:"argv"`
	Sandbox      string   `json:"sandbox"` // bwrap | none
}

// vars are the placeholders a training command may use.
type vars struct {
	ArtifactDir string
	RunID       string
	Reference   string
	Holdout     string
	BaseDir     string
}

// Run runs the user's training command as a subprocess (argv, never a
// shell), streams its output into the run's log, and reports the artifact
// it wrote, hashed. Each attempt writes into a folder of its own, so that
// a process left over from an earlier attempt cannot change what this one
// reports. A command that fails is an error: there is no candidate to judge.
func (a *Agent) Run(ctx context.Context, task agents.Task) (agents.Report, error) {
	cfg := task.Config
	if cfg == nil || cfg.Train == nil {
		return agents.Report{}, errors.New("training agent: task has no train section")
	}
	attempt := max(task.Attempt, 1)
	artDir, err := filepath.Abs(filepath.Join(task.WorkDir, "artifacts", "attempt-"+strconv.Itoa(attempt)))
	if err != nil {
		return agents.Report{}, err
	}
	_ = os.RemoveAll(artDir) // what an earlier life of this attempt left proves nothing
	if err := os.MkdirAll(artDir, 0o755); err != nil {
		return agents.Report{}, fmt.Errorf("create artifact folder: %w", err)
	}
	v := vars{ArtifactDir: artDir, RunID: task.RunID, BaseDir: task.BaseDir,
		Reference: task.Path(cfg.Data.Reference), Holdout: task.Path(cfg.Data.Holdout)}
	argv := make([]string, len(cfg.Train.Command))
	for i, arg := range cfg.Train.Command {
		s, err := expand(arg, v)
		if err != nil {
			return agents.Report{}, fmt.Errorf("train.command[%d]: %w", i, err)
		}
		argv[i] = s
	}
	artifact := ArtifactName(cfg)
	artPath := filepath.Join(artDir, artifact)

	if a.o.Unsandboxed {
		a.o.Logger.Warn("training WITHOUT a sandbox (--unsafe-train-without-sandbox): the command can read everything the server can", "run", task.RunID)
		if a.o.Recorder != nil {
			if err := a.o.Recorder.Record(ctx, "train.unsandboxed", task.RunID, Name, map[string]any{"argv": argv}); err != nil {
				return agents.Report{}, agents.Retriable(fmt.Errorf("audit train.unsandboxed: %w", err))
			}
		}
	}
	start := time.Now()
	tail, err := a.runCommand(ctx, task.RunID, sandbox.Params{Argv: argv, Dir: task.BaseDir, Writable: []string{artDir},
		Env: cfg.Train.Env, Network: cfg.Train.Network}, cfg.Train.Timeout.Duration)
	if err != nil {
		if ctx.Err() != nil {
			return agents.Report{}, ctx.Err()
		}
		if tail != "" {
			err = fmt.Errorf("%w; last output:\n%s", err, tail)
		}
		return agents.Report{}, err
	}
	if err := checkArtifact(artDir, artifact); err != nil {
		return agents.Report{}, err
	}
	digest, size, err := sign.FileDigest(artPath)
	if err != nil {
		return agents.Report{}, fmt.Errorf("hash trained artifact: %w", err)
	}
	elapsed := time.Since(start)
	rep := agents.NewReport(Name, Stage)
	rep.Metrics["train.seconds"] = elapsed.Seconds()
	rep.Metrics["artifact.bytes"] = float64(size)
	rep.Summary = fmt.Sprintf("trained %s (%d bytes, %s) in %s", artifact, size, digest, elapsed.Round(time.Millisecond))
	rep.Details = agents.MustJSON(Details{ArtifactPath: artPath, Digest: digest, Size: size, Argv: argv, Sandbox: a.o.Runner.Name()})
	return rep, nil
}

// checkArtifact holds the trained artifact to a regular file the command
// wrote inside artDir. The command ran in the sandbox but the artifact is
// read outside it (hashed here, linked in by the coordinator, uploaded by
// a worker), so a name with "..", or a symbolic link the command left
// there, must not make the server or a worker read one of its own files.
func checkArtifact(artDir, artifact string) error {
	if !filepath.IsLocal(artifact) {
		return fmt.Errorf("train.artifact %q: must be a relative path inside {{.ArtifactDir}}", artifact)
	}
	root, err := os.OpenRoot(artDir)
	if err != nil {
		return fmt.Errorf("open the artifact folder: %w", err)
	}
	defer root.Close()
	st, err := root.Lstat(artifact)
	switch {
	case err != nil:
		return fmt.Errorf("training command exited 0 but wrote no artifact at %s under {{.ArtifactDir}} (set train.artifact to the file it writes there): %w", artifact, err)
	case !st.Mode().IsRegular():
		return fmt.Errorf("the trained artifact %s is not a regular file (%s): only a file the command wrote is taken", artifact, st.Mode().Type())
	}
	return nil
}

// ArtifactName is the file the training command writes under
// {{.ArtifactDir}}: train.artifact, else candidate.artifact's name.
func ArtifactName(cfg *config.Pipeline) string {
	if cfg.Train != nil && cfg.Train.Artifact != "" {
		return cfg.Train.Artifact
	}
	if cfg.Candidate.Artifact != "" {
		return filepath.Base(cfg.Candidate.Artifact)
	}
	return "model.json"
}

func expand(s string, v vars) (string, error) {
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

// runCommand runs the command through the agent's Runner with a
// timeout, streaming every output line into the run's log. It returns
// the last lines of output for error messages. The command gets its own
// process group so that a timeout kills the whole tree a training script
// may have started, and dies with the server (Pdeathsig) so that no
// training outlives the process that judges it.
func (a *Agent) runCommand(ctx context.Context, runID string, p sandbox.Params, timeout time.Duration) (string, error) {
	argv := p.Argv
	if len(argv) == 0 {
		return "", errors.New("empty command")
	}
	if timeout <= 0 {
		timeout = 30 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// A command outside bubblewrap gets a PID namespace of its own so that
	// its whole tree dies with the server (treeAttr); where the kernel
	// does not allow one (user namespaces switched off), it runs with
	// Pdeathsig on its direct child only, and the log says so.
	isolate := a.o.Runner.Name() != "bwrap"
	newCmd := func(attr *syscall.SysProcAttr) (*exec.Cmd, *io.PipeReader, *io.PipeWriter, error) {
		cmd, err := a.o.Runner.Command(ctx, p)
		if err != nil {
			return nil, nil, nil, err
		}
		cmd.SysProcAttr = attr
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
		cmd.WaitDelay = 5 * time.Second
		pr, pw := io.Pipe()
		cmd.Stdout, cmd.Stderr = pw, pw
		return cmd, pr, pw, nil
	}
	attr := procAttr()
	if isolate {
		attr = treeAttr()
	}
	cmd, pr, pw, err := newCmd(attr)
	if err != nil {
		return "", err
	}
	err = cmd.Start()
	if err != nil && isolate && ctx.Err() == nil && (errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOSPC)) {
		a.o.Logger.Warn("no PID namespace for the training command; processes it starts may outlive a crash of the server", "run", runID, "err", err)
		pr.Close()
		pw.Close()
		if cmd, pr, pw, err = newCmd(procAttr()); err != nil {
			return "", err
		}
		err = cmd.Start()
	}

	var (
		tail []string
		wg   sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			// Masked before it is stored or quoted in an error: a script
			// that echoes its environment must not put a key in the log.
			line := redact.String(sc.Text())
			a.appendLog(ctx, runID, line)
			tail = append(tail, line)
			if len(tail) > 20 {
				tail = tail[1:]
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
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

// appendLog stores one line as soon as it is written, so that a reviewer
// following the run sees training progress live.
func (a *Agent) appendLog(ctx context.Context, runID, line string) {
	if a.o.Logs == nil {
		return
	}
	_ = a.o.Logs.LogAppend(context.WithoutCancel(ctx), store.LogAppendParams{RunID: runID, Stage: Stage, Lines: []string{line}})
}
