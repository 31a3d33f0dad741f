package assistant

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/agents/deployment"
	"github.com/modelgate/modelgate/internal/llm"
)

// Env is what the triage tools read: the run's stored reports and rollout,
// and a way to the model's earlier runs. Every tool is deterministic and
// read-only, and answers with evidence items (ids and aggregates) that it
// adds to the bundle, so the triage's final causes can cite them.
type Env struct {
	Bundle  *Bundle
	Reports map[string]agents.Report
	Rollout *deployment.State
	// Earlier returns the bundle of the model's run before this one, or of
	// the run named; nil when there is none.
	Earlier func(ctx context.Context, runID string) (*Bundle, error)
}

// tool is one function the triage model may call.
type tool struct {
	def llm.ToolDef
	run func(ctx context.Context, env *Env, args string) ([]Evidence, error)
}

func object(props map[string]any, required ...string) map[string]any {
	o := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		o["required"] = required
	}
	return o
}

var str = map[string]any{"type": "string"}

// reportCauses is the tool that ends the loop.
const reportCauses = "report_causes"

var triageTools = []tool{
	{def: llm.ToolDef{Name: "slice_metrics", Description: "Candidate and production metrics, deltas and intervals on each slice of one column.",
		Parameters: object(map[string]any{"column": str}, "column")}, run: sliceMetrics},
	{def: llm.ToolDef{Name: "column_drift", Description: "Drift statistics of one column between the reference and the current data.",
		Parameters: object(map[string]any{"column": str}, "column")}, run: columnDrift},
	{def: llm.ToolDef{Name: "scan_file", Description: "The security scan's result for one scanned file of the candidate artifact.",
		Parameters: object(map[string]any{"path": str}, "path")}, run: scanFile},
	{def: llm.ToolDef{Name: "compare_run", Description: "Headline metrics of an earlier run of the same model (the previous one when run_id is empty).",
		Parameters: object(map[string]any{"run_id": str})}, run: compareRun},
	{def: llm.ToolDef{Name: "analysis_windows", Description: "Every analysis window of the rollout: checks, values, limits, phases.",
		Parameters: object(map[string]any{})}, run: analysisWindows},
	{def: llm.ToolDef{Name: reportCauses, Description: "Report the likely causes, most likely first. Call once, at the end.",
		Parameters: object(map[string]any{"causes": map[string]any{"type": "array", "maxItems": 5, "items": object(map[string]any{
			"cause": str, "citations": map[string]any{"type": "array", "items": str}, "check": str}, "cause", "citations")}}, "causes")}},
}

// maxArgs bounds a tool call's arguments: they are model output.
const maxArgs = 8 << 10

// ParseArgs decodes a tool call's arguments strictly: one JSON object, no
// unknown fields, bounded size. "" and "null" mean no arguments.
func ParseArgs(raw string, dst any) error {
	raw = strings.TrimSpace(raw)
	if raw == "" || raw == "null" {
		raw = "{}"
	}
	if len(raw) > maxArgs {
		return fmt.Errorf("arguments: %d bytes, more than %d", len(raw), maxArgs)
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return fmt.Errorf("arguments: %w", err)
	}
	if dec.More() {
		return errors.New("arguments: more than one JSON value")
	}
	return nil
}

func sliceMetrics(_ context.Context, env *Env, raw string) ([]Evidence, error) {
	var a struct {
		Column string `json:"column"`
	}
	if err := ParseArgs(raw, &a); err != nil {
		return nil, err
	}
	m := env.Reports["evaluate"].Metrics
	sub := map[string]float64{}
	for k, v := range m {
		if col, _, ok := strings.Cut(strings.TrimPrefix(k, "slice."), "="); ok && strings.HasPrefix(k, "slice.") && (col == a.Column || Label(col) == a.Column) {
			sub[k] = v
		}
	}
	if len(sub) == 0 {
		return nil, fmt.Errorf("no slice metrics for column %q (slices: %s)", Label(a.Column), strings.Join(sliceColumns(m), ", "))
	}
	var out []Evidence
	for _, k := range slices.Sorted(maps.Keys(sub)) {
		if !strings.HasSuffix(k, ".candidate.roc_auc") && !strings.Contains(k, ".delta.") || strings.Count(k, ".delta.") > 0 && (strings.HasSuffix(k, ".ci_low") || strings.HasSuffix(k, ".ci_high") || strings.HasSuffix(k, ".p_value")) {
			continue
		}
		if i := strings.LastIndex(k, ".delta."); i > 0 {
			slice := strings.TrimPrefix(k[:i], "slice.")
			metric := k[i+len(".delta."):]
			col, val, _ := strings.Cut(slice, "=")
			subject := Label(col) + "=" + Label(val)
			pre := "slice." + slice + "."
			e := compared("slice:"+subject+":"+Label(metric), "slice", metric+" on slice "+subject, m, pre+"candidate."+metric, pre+"production."+metric, k)
			if rows, ok := m[pre+"rows"]; ok {
				e.Values["rows"] = rows
				e.Text += ", " + Num(rows) + " rows"
			}
			out = append(out, e)
		}
	}
	if len(out) > 20 {
		out = out[:20]
	}
	return out, nil
}

func sliceColumns(m map[string]float64) []string {
	set := map[string]bool{}
	for k := range m {
		if col, _, ok := strings.Cut(strings.TrimPrefix(k, "slice."), "="); ok && strings.HasPrefix(k, "slice.") {
			set[Label(col)] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

func columnDrift(_ context.Context, env *Env, raw string) ([]Evidence, error) {
	var a struct {
		Column string `json:"column"`
	}
	if err := ParseArgs(raw, &a); err != nil {
		return nil, err
	}
	m := env.Reports["validate"].Metrics
	for k := range m {
		if !strings.HasPrefix(k, "drift.") || !strings.HasSuffix(k, ".drifted") {
			continue
		}
		col := strings.TrimSuffix(strings.TrimPrefix(k, "drift."), ".drifted")
		if col != a.Column && Label(col) != a.Column {
			continue
		}
		one := map[string]float64{}
		for kk, v := range m {
			if strings.HasPrefix(kk, "drift."+col+".") {
				one[kk] = v
			}
		}
		one["drift."+col+".drifted"] = 1 // driftItems lists drifted columns; this one was asked for
		items := driftItems(one)
		if m[k] != 1 {
			for i := range items {
				items[i].Text = strings.Replace(items[i].Text, " drifted:", " did not drift:", 1)
			}
		}
		return items, nil
	}
	return nil, fmt.Errorf("no drift statistics for column %q", Label(a.Column))
}

func scanFile(_ context.Context, env *Env, raw string) ([]Evidence, error) {
	var a struct {
		Path string `json:"path"`
	}
	if err := ParseArgs(raw, &a); err != nil {
		return nil, err
	}
	var det struct {
		Scan struct {
			Files []struct {
				Path     string `json:"path"`
				Format   string `json:"format"`
				Size     int64  `json:"size"`
				Verdict  string `json:"verdict"`
				Findings []struct {
					Severity string `json:"severity"`
					Code     string `json:"code"`
				} `json:"findings"`
			} `json:"files"`
		} `json:"scan"`
	}
	rep, ok := env.Reports["scan"]
	if !ok || json.Unmarshal(rep.Details, &det) != nil {
		return nil, errors.New("this run has no scan report")
	}
	var names []string
	for i, f := range det.Scan.Files {
		names = append(names, Label(f.Path))
		if f.Path != a.Path && Label(f.Path) != a.Path {
			continue
		}
		var fs []string
		for _, x := range f.Findings {
			fs = append(fs, Label(x.Severity)+" "+Label(x.Code))
		}
		text := fmt.Sprintf("scanned file %s (%s, %d bytes): %s", Label(f.Path), Label(f.Format), f.Size, Label(f.Verdict))
		if len(fs) > 0 {
			text += "; findings: " + strings.Join(fs, ", ")
		}
		return []Evidence{{ID: fmt.Sprintf("scan:file:%d", i+1), Kind: "finding", Text: text,
			Values: map[string]float64{"size": float64(f.Size), "findings": float64(len(f.Findings))}}}, nil
	}
	return nil, fmt.Errorf("no scanned file %q (files: %s)", Label(a.Path), strings.Join(names, ", "))
}

func compareRun(ctx context.Context, env *Env, raw string) ([]Evidence, error) {
	var a struct {
		RunID string `json:"run_id"`
	}
	if err := ParseArgs(raw, &a); err != nil {
		return nil, err
	}
	if env.Earlier == nil {
		return nil, errors.New("earlier runs are not available here")
	}
	eb, err := env.Earlier(ctx, a.RunID)
	if err != nil {
		return nil, err
	}
	if eb == nil {
		return nil, errors.New("this model has no earlier run")
	}
	var out []Evidence
	for _, e := range eb.Items {
		if e.Kind != "metric" && e.Kind != "drift" && e.Kind != "change" {
			continue
		}
		e.ID = "earlier:" + Label(eb.RunID) + ":" + e.ID
		e.Text = "earlier run " + Label(eb.RunID) + " (" + Label(eb.State) + "): " + e.Text
		out = append(out, e)
		if len(out) == 12 {
			break
		}
	}
	return out, nil
}

func analysisWindows(_ context.Context, env *Env, raw string) ([]Evidence, error) {
	var a struct{}
	if err := ParseArgs(raw, &a); err != nil {
		return nil, err
	}
	if env.Rollout == nil || len(env.Rollout.History) == 0 {
		return nil, errors.New("this run has no rollout analysis windows")
	}
	h := env.Rollout.History
	start := max(0, len(h)-12) // the latest windows: the ones before the rollback
	var out []Evidence
	for i := start; i < len(h); i++ {
		out = append(out, windowItem(i+1, h[i]))
	}
	return out, nil
}
