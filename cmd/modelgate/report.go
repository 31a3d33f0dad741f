package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/internal/api"
	"github.com/modelgate/modelgate/internal/oversight"
	"github.com/modelgate/modelgate/internal/store"
)

// stageOrder is the order stages are shown in.
var stageOrder = []string{"validate", "train", "test", "scan", "evaluate", "decide", "deploy"}

// progress prints a run's events as they come. On a terminal each line
// carries a marker and colour; piped, it is plain text one event per line.
type progress struct {
	w     io.Writer
	tty   bool
	start time.Time
	seen  map[string]string
}

func newProgress(w io.Writer) *progress {
	return &progress{w: w, tty: isTerminal(w), start: time.Now(), seen: map[string]string{}}
}

func (p *progress) stage(name string, state store.StageState, verdict, msg string) {
	key := string(state) + verdict
	if p.seen[name] == key {
		return
	}
	p.seen[name] = key
	el := time.Since(p.start).Seconds()
	mark := map[store.StageState]string{store.StageRunning: "…", store.StageSucceeded: "✓", store.StageFailed: "✗", store.StageSkipped: "-"}[state]
	if state == store.StageSucceeded && verdict == "fail" {
		mark = "✗"
	} else if state == store.StageSucceeded && verdict == "warn" {
		mark = "!"
	}
	line := fmt.Sprintf("%6.1fs  %-9s %-10s %s", el, name, string(state), verdict)
	if msg != "" {
		line += "  " + firstLine(msg, 100)
	}
	if p.tty {
		color := map[string]string{"✓": "32", "✗": "31", "!": "33", "…": "36", "-": "90"}[mark]
		fmt.Fprintf(p.w, "\x1b[%sm%s\x1b[0m %s\n", color, mark, line)
		return
	}
	fmt.Fprintf(p.w, "%s %s\n", orDash(mark), line)
}

func (p *progress) state(s store.RunState, msg string) {
	el := time.Since(p.start).Seconds()
	line := fmt.Sprintf("%6.1fs  run is %s", el, s)
	if msg != "" {
		line += ": " + firstLine(msg, 140)
	}
	if p.tty {
		fmt.Fprintf(p.w, "\x1b[1m» %s\x1b[0m\n", line)
		return
	}
	fmt.Fprintf(p.w, "» %s\n", line)
}

// note prints a line of a run's progress that is neither a stage nor a
// state: a rollout step, an approval to give.
func (p *progress) note(msg string) {
	el := time.Since(p.start).Seconds()
	fmt.Fprintf(p.w, "%6.1fs  %s\n", el, msg)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func firstLine(s string, max int) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > max {
		s = s[:max-1] + "…"
	}
	return s
}

// printRun writes a run's final report: stages with their verdicts and
// key numbers, findings, the decision and its reasons.
func printRun(w io.Writer, v api.RunView) {
	fmt.Fprintf(w, "\nrun %s  model %s  environment %s  state %s\n", v.ID, v.Model, v.Environment, v.State)
	if v.Candidate.Digest != "" || v.Candidate.Endpoint != "" {
		fmt.Fprintf(w, "candidate %s %s%s\n", v.Candidate.Version, v.Candidate.Digest, v.Candidate.Endpoint)
	}
	if v.Error != "" {
		fmt.Fprintf(w, "reason: %s\n", v.Error)
	}
	byName := map[string]store.Stage{}
	for _, s := range v.Stages {
		byName[s.Name] = s
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\nSTAGE\tSTATE\tVERDICT\tSUMMARY")
	for _, name := range stageOrder {
		s, ok := byName[name]
		if !ok {
			continue
		}
		summary := s.Error
		if name != "decide" && len(s.Report) > 0 {
			if r, err := s.AgentReport(); err == nil && r.Summary != "" {
				summary = r.Summary
			}
		}
		state := string(s.State)
		if s.State == store.StageRunning && v.State.Terminal() {
			// The run ended (failed, cancelled) while this stage ran: its
			// row was never finished, and "running" would be false.
			state = "stopped"
			if summary == "" {
				summary = "the run ended before this stage finished"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", name, state, orDash(s.Verdict), firstLine(summary, 110))
	}
	tw.Flush()
	printKeyMetrics(w, byName)
	printFindings(w, byName)
	if len(v.Decision) > 0 {
		var d oversight.Decision
		if json.Unmarshal(v.Decision, &d) == nil {
			verdict := "allow"
			switch {
			case len(d.Deny) > 0 || (!d.Allow && !d.RequireApproval):
				verdict = "deny"
			case d.RequireApproval:
				verdict = fmt.Sprintf("approval required: %d from %s", d.Approvers.Min, strings.Join(d.Approvers.Groups, ", "))
			}
			fmt.Fprintf(w, "\ndecision %s: %s (risk %s, policy %s)\n", shortID(d.ID), verdict, d.Risk, shortID(d.PolicyRevision))
			for _, r := range d.Deny {
				fmt.Fprintf(w, "  deny  %s: %s\n", r.Code, r.Message)
			}
			for _, r := range d.Reasons {
				fmt.Fprintf(w, "  why   %s\n", r)
			}
		}
	}
	for _, a := range v.Approvals {
		fmt.Fprintf(w, "approval %s: %s (%d of %d from %s)\n", shortID(a.ID), a.State, countVotes(a, "approve"), a.Min, strings.Join(a.Groups, ", "))
		for _, vt := range a.Votes {
			fmt.Fprintf(w, "  %s by %s: %s\n", vt.Decision, vt.Reviewer, vt.Comment)
		}
	}
	printAssist(w, v)
}

func countVotes(a store.Approval, d string) int {
	n := 0
	for _, v := range a.Votes {
		if v.Decision == d {
			n++
		}
	}
	return n
}

func shortID(s string) string {
	s = strings.TrimPrefix(s, "sha256:")
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// keyMetrics are shown in the report when present.
var keyMetrics = []string{
	"drift.share", "drift.columns_drifted", "validation.failures", "tests.passed", "tests.failed",
	"candidate.roc_auc", "production.roc_auc", "delta.roc_auc", "delta.roc_auc.ci_low", "delta.roc_auc.ci_high",
	"candidate.recall", "production.recall", "candidate.log_loss", "production.log_loss",
	"cost.candidate_per_1000", "cost.production_per_1000",
	"candidate.rmse", "production.rmse", "candidate.accuracy", "candidate.macro_f1",
	"scan.files", "scan.unsafe", "scan.invalid", "scan.findings.critical",
	"shadow.agreement", "canary.step", "canary.error_rate", "canary.latency_p99_ms", "canary.score_psi",
}

func printKeyMetrics(w io.Writer, stages map[string]store.Stage) {
	all := map[string]float64{}
	for _, s := range stages {
		if r, err := s.AgentReport(); err == nil {
			for k, v := range r.Metrics {
				all[k] = v
			}
		}
	}
	var lines []string
	for _, k := range keyMetrics {
		if v, ok := all[k]; ok {
			lines = append(lines, fmt.Sprintf("  %-28s %.6g", k, v))
		}
	}
	if len(lines) > 0 {
		fmt.Fprintln(w, "\nkey metrics")
		fmt.Fprintln(w, strings.Join(lines, "\n"))
	}
}

func printFindings(w io.Writer, stages map[string]store.Stage) {
	type f struct {
		stage string
		agents.Finding
	}
	var fs []f
	for name, s := range stages {
		if r, err := s.AgentReport(); err == nil {
			for _, x := range r.Findings {
				fs = append(fs, f{name, x})
			}
		}
	}
	if len(fs) == 0 {
		return
	}
	rank := map[agents.Severity]int{agents.Critical: 0, agents.High: 1, agents.Medium: 2, agents.Low: 3, agents.Info: 4}
	sort.SliceStable(fs, func(i, j int) bool { return rank[fs[i].Severity] < rank[fs[j].Severity] })
	fmt.Fprintf(w, "\nfindings (%d)\n", len(fs))
	for i, x := range fs {
		if i == 12 {
			fmt.Fprintf(w, "  … %d more (see --json)\n", len(fs)-12)
			break
		}
		fmt.Fprintf(w, "  %-8s %-9s %-26s %s\n", x.Severity, x.stage, x.Code, firstLine(x.Message, 90))
	}
}

// exitForRun maps a run's final state to the exit-code contract.
func exitForRun(v api.RunView) error {
	switch v.State {
	case store.RunSucceeded, store.RunAwaitingApproval, store.RunDeploying, store.RunQueued, store.RunRunning:
		return nil
	default:
		return failSilently(1)
	}
}
