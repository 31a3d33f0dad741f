package validation

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/modelgate/modelgate/agents"
	"github.com/modelgate/modelgate/tools/dataset"
	"github.com/modelgate/modelgate/tools/drift"
	"github.com/modelgate/modelgate/tools/validate"
)

// validateDetails is Report.Details of the validate stage.
type validateDetails struct {
	SchemaSource string             `json:"schema_source"` // the schema file, or "inferred from <reference>"
	Validation   []*validate.Report `json:"validation"`
	Drift        *drift.Result      `json:"drift,omitempty"`
	DriftOf      string             `json:"drift_of,omitempty"` // which dataset was compared with the reference
}

type namedData struct {
	role, path, env string
}

func (a *Agent) runValidate(ctx context.Context, task agents.Task) (agents.Report, error) {
	cfg := task.Config
	rep := agents.NewReport(Name, Stage)
	log := task.Log()
	if cfg.Data.Reference == "" {
		return rep, fmt.Errorf("validate: data.reference is required")
	}
	delim := ','
	if cfg.Data.Delimiter != "" {
		delim = []rune(cfg.Data.Delimiter)[0]
	}
	refPath := task.Path(cfg.Data.Reference)
	label := cfg.Label
	if cfg.Task == "llm" {
		label = ""
	}

	var schema *validate.Schema
	det := validateDetails{}
	if cfg.Validation.Schema != "" {
		p := task.Path(cfg.Validation.Schema)
		s, err := validate.Load(p)
		if err != nil {
			return rep, fmt.Errorf("validate: %w", err)
		}
		schema, det.SchemaSource = s, p
	}
	readOpts := dataset.Options{Delimiter: delim}
	if schema != nil {
		readOpts = schema.ReadOptions()
		readOpts.Delimiter = delim
	}
	ref, err := dataset.Read(refPath, readOpts)
	if err != nil {
		return rep, fmt.Errorf("validate: reference: %w", err)
	}
	if schema == nil {
		if _, ok := ref.Col(label); !ok {
			label = "" // reported below as a label finding on the schema-less path
		}
		schema = validate.Infer(ref, validate.InferOptions{Label: label})
		det.SchemaSource = "inferred from " + refPath
		if label == "" && cfg.Label != "" && cfg.Task != "llm" {
			// Inference cannot require a label the reference lacks; say so.
			rep.Findings = append(rep.Findings, agents.Finding{ID: "validate-label-reference", Severity: agents.High, Code: "validate.label",
				Subject: cfg.Label, Message: fmt.Sprintf("label column %q is missing from the reference %s", cfg.Label, refPath),
				Evidence: map[string]any{"dataset": "reference", "path": refPath}})
			rep.Metrics["validation.failures"]++
		}
	}
	if err := ctx.Err(); err != nil {
		return rep, err
	}

	sets := []namedData{{"reference", refPath, validate.Training}}
	if cfg.Data.Holdout != "" {
		sets = append(sets, namedData{"holdout", task.Path(cfg.Data.Holdout), validate.Training})
	}
	if cfg.Data.Current != "" {
		sets = append(sets, namedData{"current", task.Path(cfg.Data.Current), validate.Serving})
	}
	frames := map[string]*dataset.Frame{"reference": ref}
	for _, s := range sets {
		f := frames[s.role]
		if f == nil {
			ro := schema.ReadOptions()
			ro.Delimiter = delim
			if f, err = dataset.Read(s.path, ro); err != nil {
				return rep, fmt.Errorf("validate: %s: %w", s.role, err)
			}
			frames[s.role] = f
		}
		vr := validate.Validate(f, schema, validate.Options{Environment: s.env})
		det.Validation = append(det.Validation, vr)
		addValidation(&rep, s.role, vr)
		log.Info("validated", "dataset", s.role, "rows", vr.Rows, "failures", vr.Failures, "warnings", vr.Warnings)
	}

	if !cfg.Validation.Drift.Disabled {
		role := "holdout"
		if cfg.Data.Current != "" {
			role = "current"
		}
		if cur := frames[role]; cur != nil {
			res, err := a.drift(task, ref, cur, refPath, role, label)
			if err != nil {
				return rep, fmt.Errorf("validate: drift of %s: %w", role, err)
			}
			det.Drift, det.DriftOf = res, role
			addDrift(&rep, role, res)
			var html bytes.Buffer
			if err := drift.WriteHTML(&html, res, drift.ReportMeta{Reference: refPath, Current: cur.Source}); err != nil {
				return rep, err
			}
			if ref, err := agents.WriteArtifact(task, "drift.html", "text/html", html.Bytes()); err != nil {
				return rep, err
			} else if ref != nil {
				rep.Artifacts = append(rep.Artifacts, *ref)
			}
			keepDriftedHistograms(res)
		}
	}
	rep.Details = agents.MustJSON(det)
	if ref, err := agents.WriteArtifact(task, "validation.json", "application/json", rep.Details); err != nil {
		return rep, err
	} else if ref != nil {
		rep.Artifacts = append(rep.Artifacts, *ref)
	}
	rep.Summary = validateSummary(det, rep)
	return rep, nil
}

func (a *Agent) drift(task agents.Task, ref, cur *dataset.Frame, refPath, role, label string) (*drift.Result, error) {
	dc := task.Config.Validation.Drift
	o := drift.Options{Columns: dc.Columns, Exclude: append([]string{label}, dc.Exclude...), Share: dc.Share,
		Correction: dc.Correction, Histograms: true, PerColumn: map[string]drift.ColumnOptions{}}
	for col, t := range dc.Tests {
		o.PerColumn[col] = drift.ColumnOptions{Test: drift.Test(t.Test), Threshold: t.Threshold}
	}
	if dc.Stream {
		return drift.CompareStream(refPath, cur.Source, drift.StreamOptions{Options: o, MemoryBudget: int64(dc.Memory)})
	}
	return drift.Compare(ref, cur, o)
}

func severityOf(s validate.Severity) agents.Severity {
	if s == validate.Error {
		return agents.High
	}
	return agents.Low
}

func addValidation(rep *agents.Report, role string, vr *validate.Report) {
	rep.Metrics["validation.failures"] += float64(vr.Failures)
	rep.Metrics["validation.warnings"] += float64(vr.Warnings)
	rep.Metrics["validation.checks"] += float64(vr.Checks)
	rep.Metrics["validation."+role+".failures"] = float64(vr.Failures)
	rep.Metrics["validation."+role+".warnings"] = float64(vr.Warnings)
	rep.Metrics["data."+role+".rows"] = float64(vr.Rows)
	for i, f := range vr.Findings {
		ev := map[string]any{"dataset": role, "path": vr.Source, "rule": f.Rule, "environment": vr.Environment}
		if f.Expected != nil {
			ev["expected"] = f.Expected
		}
		if f.Observed != nil {
			ev["observed"] = f.Observed
		}
		if len(f.Rows) > 0 {
			ev["rows"] = f.Rows
		}
		rep.Findings = append(rep.Findings, agents.Finding{
			ID: fmt.Sprintf("validate-%s-%d", role, i+1), Severity: severityOf(f.Severity), Code: "validate." + f.Rule,
			Subject: f.Column, Message: role + ": " + f.Message, Evidence: ev,
		})
		if f.Severity == validate.Error {
			rep.Verdict = agents.Fail
		}
	}
	if rep.Metrics["validation.failures"] > 0 {
		rep.Verdict = agents.Fail
	}
}

func addDrift(rep *agents.Report, role string, res *drift.Result) {
	m := rep.Metrics
	m["drift.share"] = res.DriftShare
	m["drift.columns_drifted"] = float64(len(res.DriftedColumns))
	m["drift.columns_tested"] = float64(len(res.Order))
	m["drift.dataset"] = agents.Bool(res.DatasetDrift)
	m["drift.share_threshold"] = res.ShareThreshold
	for _, name := range res.Order {
		c := res.Columns[name]
		p := "drift." + name + "."
		m[p+"drifted"] = agents.Bool(c.Drifted)
		m[p+"null_fraction_current"] = c.NullFractionCurrent
		m[p+"null_fraction_reference"] = c.NullFractionReference
		if c.Test != drift.TestNone {
			m[p+"statistic"] = c.Statistic
		}
		if c.PValue != nil {
			m[p+"p_value"] = *c.PValue
		}
		for k, v := range map[string]*float64{"ks_statistic": c.KSStatistic, "ks_pvalue": c.KSPValue, "wasserstein": c.Wasserstein, "psi": c.PSI} {
			if v != nil {
				m[p+k] = *v
			}
		}
		if c.Drifted {
			ev := map[string]any{"dataset": role, "test": string(c.Test), "statistic": c.Statistic, "threshold": c.Threshold,
				"null_fraction_reference": c.NullFractionReference, "null_fraction_current": c.NullFractionCurrent}
			if c.PValue != nil {
				ev["p_value"] = *c.PValue
			}
			rep.Findings = append(rep.Findings, agents.Finding{ID: "drift-" + name, Severity: agents.Medium, Code: "drift.column", Subject: name,
				Message: fmt.Sprintf("column %q drifted in the %s data (%s = %.4g, threshold %.4g)", name, role, c.Test, c.Statistic, c.Threshold), Evidence: ev})
		}
	}
	if res.DatasetDrift {
		rep.Findings = append(rep.Findings, agents.Finding{ID: "drift-dataset", Severity: agents.High, Code: "drift.dataset", Subject: role,
			Message:  fmt.Sprintf("dataset drift: %d of %d columns drifted (%.0f%%, threshold %.0f%%)", len(res.DriftedColumns), len(res.Order), res.DriftShare*100, res.ShareThreshold*100),
			Evidence: map[string]any{"drifted_columns": res.DriftedColumns, "drift_share": res.DriftShare, "threshold": res.ShareThreshold}})
		rep.Verdict = agents.Fail
	} else if len(res.DriftedColumns) > 0 {
		rep.Verdict = agents.Worst(rep.Verdict, agents.Warn)
	}
}

func validateSummary(det validateDetails, rep agents.Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Validated %d dataset(s) against the schema (%s): %d failed checks, %d warnings.",
		len(det.Validation), det.SchemaSource, int(rep.Metrics["validation.failures"]), int(rep.Metrics["validation.warnings"]))
	if det.Drift != nil {
		r := det.Drift
		fmt.Fprintf(&b, " Drift of the %s data against the reference: %d of %d columns drifted (%.0f%%; dataset threshold %.0f%%)",
			det.DriftOf, len(r.DriftedColumns), len(r.Order), r.DriftShare*100, r.ShareThreshold*100)
		if len(r.DriftedColumns) > 0 {
			fmt.Fprintf(&b, ": %s", strings.Join(r.DriftedColumns, ", "))
		}
		if r.DatasetDrift {
			b.WriteString("; the dataset has drifted.")
		} else {
			b.WriteString(".")
		}
	}
	return b.String()
}
