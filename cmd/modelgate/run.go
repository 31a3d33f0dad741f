package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/charmbracelet/log"
	"github.com/spf13/cobra"

	"github.com/modelgate/modelgate/coordinator"
	"github.com/modelgate/modelgate/internal/api"
	"github.com/modelgate/modelgate/internal/api/client"
	"github.com/modelgate/modelgate/internal/app"
	"github.com/modelgate/modelgate/internal/config"
	"github.com/modelgate/modelgate/internal/store"
)

func init() { register(newRunCmd) }

type runFlags struct {
	file, serverURL, token, key, commitAuthor, dataDir, policies string
	baseDir                                                      string
	local, wait, asJSON                                          bool
	timeout                                                      time.Duration
}

func newRunCmd() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run -f modelgate.yaml",
		Short: "Start a pipeline run (on a server, or --local in this process)",
		Long: `Submit modelgate.yaml to a server (MODELGATE_SERVER, MODELGATE_TOKEN), or
with --local run the whole pipeline in this process with no server: validate,
train, test, scan, evaluate and the policy decision, the way a developer
checks a model before pushing. --local never deploys.

Exit codes: 0 the run succeeded (or, --local, was allowed or awaits approval),
1 it failed, was denied or rolled back, 2 bad usage or config (every problem
at once, missing files and label columns included, before any stage runs),
3 the server refused the request (403).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.file == "" {
				return usageErr(errors.New("-f modelgate.yaml is required"))
			}
			file, err := config.ReadFile(f.file)
			if err != nil {
				return usageErr(err)
			}
			data, base, cfg := file.Data, file.Dir, file.Pipeline
			// Found before anything is uploaded or run: a missing file or
			// label column is bad input (exit 2), not a failed stage after
			// its retries. With --base-dir the files are on the server.
			if f.baseDir == "" {
				if err := cfg.Preflight(f.file, base); err != nil {
					return usageErr(err)
				}
			}
			if f.local {
				// Locally the pipeline's own bundle applies (a developer trying
				// a policy change); a server always judges with its own.
				if f.policies == "" && cfg.Policy.Bundle != "" {
					f.policies = config.Resolve(base, cfg.Policy.Bundle)
				}
				return runLocal(cmd, f, data, base)
			}
			return runRemote(cmd, f, data, base, cfg)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.file, "file", "f", "", "pipeline config (modelgate.yaml)")
	fl.BoolVar(&f.local, "local", false, "run in this process, no server")
	fl.BoolVar(&f.wait, "wait", false, "follow the run until it ends (always on with --local)")
	fl.BoolVar(&f.asJSON, "json", false, "print the run as JSON")
	fl.StringVar(&f.serverURL, "server", "", "server URL (default $MODELGATE_SERVER or http://127.0.0.1:8080)")
	fl.StringVar(&f.token, "token", "", "API token (default $MODELGATE_TOKEN)")
	fl.StringVar(&f.key, "idempotency-key", "", "Idempotency-Key: resubmitting with the same key returns the first run")
	fl.StringVar(&f.commitAuthor, "commit-author", os.Getenv("GITHUB_ACTOR"), "author of the commit under test (may not approve it)")
	fl.StringVar(&f.baseDir, "base-dir", "", "read the config's files from this folder of a server workspace instead of uploading them")
	fl.StringVar(&f.dataDir, "data-dir", "", "--local: state folder (default: a temporary one)")
	fl.StringVar(&f.policies, "policies", "", "--local: policy folder (default: policy.bundle of the config, else the embedded bundle)")
	fl.DurationVar(&f.timeout, "timeout", 0, "give up waiting after this long (0 = no limit)")
	return cmd
}

func runRemote(cmd *cobra.Command, f runFlags, data []byte, base string, cfg *config.Pipeline) error {
	ctx := cmd.Context()
	c, err := serverClient(f.serverURL, f.token)
	if err != nil {
		return err
	}
	req := api.RunRequest{Config: string(data), BaseDir: f.baseDir, CommitAuthor: f.commitAuthor, Trigger: "cli"}
	if f.baseDir == "" {
		if req.Files, err = uploadInputs(cmd, c, cfg, base); err != nil {
			return err
		}
	}
	var run api.RunView
	_, err = c.Do(ctx, "POST", "/v1/runs", req, &run, "Idempotency-Key", f.key)
	if err != nil {
		return serverErr(err)
	}
	out := cmd.OutOrStdout()
	if !f.wait {
		if f.asJSON {
			return writeJSONOut(out, run)
		}
		fmt.Fprintf(out, "run %s accepted (%s)\n", run.ID, run.State)
		return nil
	}
	ctx, cancel := waitCtx(ctx, f.timeout)
	defer cancel()
	errw := cmd.ErrOrStderr()
	page := c.Base + "/ui/runs/" + run.ID
	fmt.Fprintf(errw, "run %s accepted; follow it at %s\n", run.ID, page)
	p := newProgress(errw)
	announced := map[string]bool{}
	follow := client.EventsParams{Reconnecting: func(err error, wait time.Duration) {
		fmt.Fprintf(cmd.ErrOrStderr(), "lost the run's event stream (%v); reconnecting in %s\n", err, wait.Round(time.Millisecond))
	}}
	err = c.EventsWith(ctx, run.ID, follow, func(e client.Event) error {
		var ev coordinator.Event
		switch e.Type {
		case "state":
			if json.Unmarshal(e.Data, &ev) == nil {
				p.state(ev.State, ev.Message)
				if ev.State == store.RunAwaitingApproval {
					announceApprovals(ctx, errw, c, run.ID, page, announced)
				}
			}
		case "progress":
			var pe api.StreamEvent
			if json.Unmarshal(e.Data, &pe) == nil {
				if line := progressLine(pe); line != "" {
					p.note(line)
				}
			}
		case "stage":
			if json.Unmarshal(e.Data, &ev) == nil {
				p.stage(ev.Stage, ev.StageState, ev.Verdict, ev.Message)
			}
		}
		return nil
	})
	if err != nil {
		return serverErr(err)
	}
	if _, err := c.Do(ctx, "GET", "/v1/runs/"+run.ID, nil, &run); err != nil {
		return serverErr(err)
	}
	if f.asJSON {
		if err := writeJSONOut(out, run); err != nil {
			return err
		}
	} else {
		printRun(out, run)
	}
	return exitForRun(run)
}

// uploadInputs hands the server every file the config names, so that a
// CI job on another machine can submit a run: the server reads the bytes
// it was sent, never a path of the client's choosing.
func uploadInputs(cmd *cobra.Command, c *client.Client, cfg *config.Pipeline, base string) (map[string]string, error) {
	if err := cfg.CheckRelative(); err != nil {
		return nil, usageErr(fmt.Errorf("%s\n(a server run reads only uploaded files: name them relative to the config's folder)", err))
	}
	var paths []string
	for _, fr := range cfg.Files() {
		switch fr.Field {
		case "policy.bundle":
			continue // a server judges with its own bundle
		case "security.signature":
			if _, err := os.Stat(config.Resolve(base, fr.Path)); err != nil {
				continue // optional: its absence is the security agent's finding
			}
		}
		paths = append(paths, fr.Path)
	}
	if cfg.Security.Signature == "" && cfg.Candidate.Artifact != "" && cfg.Train == nil {
		// The security agent looks for <artifact>.sig by default.
		if sig := cfg.Candidate.Artifact + ".sig"; fileExists(config.Resolve(base, sig)) {
			paths = append(paths, sig)
		}
	}
	files, st, err := c.Upload(cmd.Context(), client.UploadParams{Root: base, Paths: paths, Progress: cmd.ErrOrStderr(), CacheDir: uploadCacheDir()})
	if err != nil {
		return nil, serverErr(err)
	}
	if st.Files > 0 {
		fmt.Fprintf(cmd.ErrOrStderr(), "inputs: %d files, %d uploaded (%s), %d already on the server\n", st.Files, st.Sent, humanBytes(st.Bytes), st.Skipped)
	}
	return files, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func runLocal(cmd *cobra.Command, f runFlags, data []byte, base string) error {
	ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	dir := f.dataDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "modelgate-local-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	quiet := log.NewWithOptions(cmd.ErrOrStderr(), log.Options{Level: log.WarnLevel})
	if f := cmd.Flag("log-level"); f != nil && f.Value.String() == "debug" {
		quiet = log.Default()
	}
	s, err := app.Build(ctx, app.Options{DataDir: dir, PolicyDir: f.policies, NoDeploy: true, TrainDirect: true, Logger: quiet,
		LLM: localLLM(data), AssistInline: true, Prompt: localPrompt(data)})
	if err != nil {
		return usageErr(err)
	}
	defer s.Close()
	if err := s.Start(ctx); err != nil {
		return err
	}
	view, err := followLocal(ctx, cmd.ErrOrStderr(), s, coordinator.SubmitParams{Config: data, File: f.file, BaseDir: base,
		Trigger: "cli", Requester: "local", CommitAuthor: f.commitAuthor}, f.timeout)
	if err == nil {
		view, err = assistLocal(ctx, s, view)
	}
	if err != nil {
		var ce *config.Error
		if errors.As(err, &ce) {
			return usageErr(err)
		}
		return err
	}
	out := cmd.OutOrStdout()
	if f.asJSON {
		if err := writeJSONOut(out, view); err != nil {
			return err
		}
	} else {
		printRun(out, view)
		if view.State == store.RunAwaitingApproval {
			fmt.Fprintln(out, "\nthe policy lets this candidate through once reviewers approve it on a server")
		}
	}
	return exitForRun(view)
}

// followLocal submits a run to an in-process server and prints its
// progress until it ends or waits for approval.
func followLocal(ctx context.Context, w io.Writer, s *app.Server, p coordinator.SubmitParams, timeout time.Duration) (api.RunView, error) {
	ch, done := s.Coordinator.Subscribe("*")
	defer done()
	run, _, err := s.Coordinator.Submit(ctx, p)
	if err != nil {
		return api.RunView{}, err
	}
	ctx, cancel := waitCtx(ctx, timeout)
	defer cancel()
	pr := newProgress(w)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for {
			select {
			case <-ctx.Done():
				return
			case e := <-ch:
				if e.RunID != run.ID {
					continue
				}
				if e.Type == "stage" {
					pr.stage(e.Stage, e.StageState, e.Verdict, e.Message)
				} else if e.Type == "state" {
					pr.state(e.State, e.Message)
					if e.State.Terminal() || e.State == store.RunAwaitingApproval {
						return
					}
				}
			}
		}
	}()
	run, err = s.Coordinator.Wait(ctx, run.ID, true)
	if err != nil {
		return api.RunView{}, err
	}
	select {
	case <-finished:
	case <-time.After(200 * time.Millisecond):
	}
	return api.ViewOf(ctx, s.Store, run)
}

func writeJSONOut(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// announceApprovals prints the run's pending approvals once each, with
// what a reviewer needs to act on them.
func announceApprovals(ctx context.Context, w io.Writer, c *client.Client, runID, page string, seen map[string]bool) {
	var v api.RunView
	if _, err := c.Do(ctx, "GET", "/v1/runs/"+runID, nil, &v); err != nil {
		return // the stream goes on; the final report lists the approvals
	}
	for _, a := range v.Approvals {
		if a.State != store.ApprovalPending || seen[a.ID] {
			continue
		}
		seen[a.ID] = true
		fmt.Fprintf(w, "approval %s awaits %d reviewer(s) from %v: modelgate approvals approve %s, or %s\n",
			a.ID, a.Min, a.Groups, a.ID, page)
	}
}

// progressLine says what an audited moment of a run means, or "" for
// moments the stage and state lines already cover.
func progressLine(e api.StreamEvent) string {
	var d struct {
		Step     int     `json:"step"`
		Weight   float64 `json:"weight"`
		Strategy string  `json:"strategy"`
		Shadow   bool    `json:"shadow"`
		From     string  `json:"from"`
		To       string  `json:"to"`
		Reason   string  `json:"reason"`
		Green    string  `json:"green"`
		Version  string  `json:"version"`
		Phase    string  `json:"phase"`
		Verdict  string  `json:"verdict"`
		CandReq  uint64  `json:"candidate_requests"`
		CandErr  uint64  `json:"candidate_errors"`
		Compared uint64  `json:"compared"`
		Agree    float64 `json:"agreement"`
		Checks   []struct {
			Check string   `json:"check"`
			Phase string   `json:"phase"`
			Value *float64 `json:"value"`
			Limit string   `json:"limit"`
		} `json:"checks"`
	}
	_ = json.Unmarshal(e.Data, &d)
	switch e.Audit {
	case "deploy.started":
		if d.Shadow {
			return fmt.Sprintf("rollout started (%s, with shadow traffic first)", d.Strategy)
		}
		return fmt.Sprintf("rollout started (%s)", d.Strategy)
	case "deploy.step":
		return fmt.Sprintf("rollout step %d: %g%% of traffic to the candidate", d.Step, d.Weight)
	case "deploy.switch":
		return fmt.Sprintf("blue-green: traffic switched to %s", d.Green)
	case "deploy.promoted", "model.promoted":
		return "promoted"
	case "deploy.rollback":
		return "rolled back: " + firstLine(d.Reason, 140)
	case "deploy.analysed":
		var where string
		switch d.Phase {
		case "shadow":
			where = fmt.Sprintf("shadow window: %d answers compared, agreement %.3f", d.Compared, d.Agree)
		case "canary":
			where = fmt.Sprintf("canary step %d (%g%%) window: %d candidate requests, %d errors", d.Step, d.Weight, d.CandReq, d.CandErr)
		default:
			where = fmt.Sprintf("%s window: %d candidate requests, %d errors", d.Phase, d.CandReq, d.CandErr)
		}
		line := where + ": " + d.Verdict
		// Name the checks that did not pass, since they decide what the
		// rollout does next (wait for more traffic, or roll back).
		var not []string
		for _, c := range d.Checks {
			if c.Phase == "successful" {
				continue
			}
			t := c.Check + " " + c.Phase
			if c.Value != nil {
				t = fmt.Sprintf("%s %s (%.4g", c.Check, c.Phase, *c.Value)
				if c.Limit != "" {
					t += ", limit " + c.Limit
				}
				t += ")"
			}
			not = append(not, t)
		}
		if len(not) > 0 {
			line += " — " + firstLine(strings.Join(not, "; "), 200)
		}
		return line
	}
	return ""
}
