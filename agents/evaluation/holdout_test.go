package evaluation

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/internal/config"
	"github.com/modelgate/modelgate/tools/dataset"
	"github.com/modelgate/modelgate/tools/model"
)

// writeSlicedHoldout writes a binary holdout with columns evaluate never
// reads (an id, free text, a feature) around the label and two slice
// columns, and a predictions file for it.
func writeSlicedHoldout(t *testing.T, dir string) (holdout, preds, basePreds string) {
	rng := rand.New(rand.NewPCG(3, 5))
	var h, p, b strings.Builder
	h.WriteString("id,note,segment,amount,f1,target\n")
	p.WriteString("row,score\n")
	b.WriteString("row,score\n")
	for i := range 4000 {
		y := 0
		if rng.Float64() < 0.3 {
			y = 1
		}
		fmt.Fprintf(&h, "%d,note %d,%s,%.2f,%.6f,%d\n", 1000+i, rng.IntN(50), []string{"a", "b", "c"}[rng.IntN(3)], rng.Float64()*500, rng.NormFloat64(), y)
		s := min(max(0.35*float64(y)+0.5*rng.Float64(), 0), 1)
		fmt.Fprintf(&p, "%d,%.9f\n", i, s)
		fmt.Fprintf(&b, "%d,%.9f\n", i, min(s+0.1*rng.Float64(), 1))
	}
	holdout, preds, basePreds = filepath.Join(dir, "holdout.csv"), filepath.Join(dir, "cand.csv"), filepath.Join(dir, "base.csv")
	for path, s := range map[string]string{holdout: h.String(), preds: p.String(), basePreds: b.String()} {
		require.NoError(t, os.WriteFile(path, []byte(s), 0o644))
	}
	return holdout, preds, basePreds
}

// An evaluation of a holdout read for only the columns it uses gives the
// report a read of every column gives, every value bit for bit (the JSON
// of the result, whose numbers print shortest-exact), and the projection
// does leave columns out where the models allow it.
func TestProjectedHoldoutGivesTheFullReadsReport(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sliced, cand, base := writeSlicedHoldout(t, dir)
	bc := "../../testdata/eval/binary-breast-cancer"
	// A native model that does not name its features is given every
	// column but the label: no projection is possible.
	src, err := os.ReadFile(filepath.Join(bc, "model-candidate.json"))
	require.NoError(t, err)
	unnamed := filepath.Join(dir, "unnamed.json")
	require.NoError(t, os.WriteFile(unnamed, regexp.MustCompile(`"feature_names":\[[^\]]*\]`).ReplaceAll(src, []byte(`"feature_names":[]`)), 0o644))
	slicesCfg := []config.Slice{{Column: "segment", MinSize: 30}, {Column: "amount", Bins: []float64{100, 250}, MinSize: 30}}
	cases := []struct {
		name, holdout, label, task, cand, base string
		slices                                 []config.Slice
		wantCols                               []string // nil: every column or every named feature; else the projected frame's names, in file order
	}{
		{"predictions files with slices", sliced, "target", "binary", cand, base, slicesCfg, []string{"segment", "amount", "target"}},
		{"predictions file alone", sliced, "target", "binary", cand, "", nil, []string{"target"}},
		{"native model naming its features", filepath.Join(bc, "holdout.csv"), "target", "binary", filepath.Join(bc, "model-candidate.json"), filepath.Join(bc, "predictions-production.csv"), nil, nil},
		{"native model not naming them", filepath.Join(bc, "holdout.csv"), "target", "binary", unnamed, filepath.Join(bc, "predictions-production.csv"), nil, nil},
		{"multiclass predictions", "../../testdata/eval/multiclass-wine/holdout.csv", "target", "multiclass", "../../testdata/eval/multiclass-wine/predictions.csv", "../../testdata/eval/multiclass-wine/model.json", nil, nil},
		{"multiclass predictions alone", "../../testdata/eval/multiclass-wine/holdout.csv", "target", "multiclass", "../../testdata/eval/multiclass-wine/predictions.csv", "", nil, []string{"target"}},
		{"regression predictions", "../../testdata/eval/regression-diabetes/holdout.csv", "target", "regression", "../../testdata/eval/regression-diabetes/predictions.csv", "", nil, []string{"target"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ev := config.Evaluation{Resamples: 200, Seed: 3, Confidence: 0.95, Threshold: 0.5, Slices: c.slices}
			kind := model.Kind(c.task)
			cp, err := model.Open(c.cand, model.OpenOptions{Kind: kind})
			require.NoError(t, err)
			var bp model.Predictor
			if c.base != "" {
				bp, err = model.Open(c.base, model.OpenOptions{Kind: kind})
				require.NoError(t, err)
			}
			cols := HoldoutColumns(c.label, ev, cp, bp)
			full, err := dataset.Read(c.holdout, dataset.Options{})
			require.NoError(t, err)
			proj, err := ReadHoldout(c.holdout, dataset.Options{}, cols)
			require.NoError(t, err)
			if c.wantCols == nil {
				if cols != nil { // named features: every feature and the label
					require.Len(t, proj.Columns, len(cols))
				} else {
					require.Equal(t, full.Names(), proj.Names())
				}
			} else {
				require.Equal(t, c.wantCols, proj.Names(), "the projection reads only what the evaluation uses")
				require.Less(t, len(proj.Columns), len(full.Columns))
			}
			run := func(f *dataset.Frame) (string, *Outcome) {
				out, err := Evaluate(context.Background(), Input{Holdout: f, Label: c.label, Task: c.task, Candidate: cp, Baseline: bp, Config: ev})
				require.NoError(t, err)
				b, err := json.Marshal(out.Result)
				require.NoError(t, err)
				return string(b), out
			}
			wantJSON, want := run(full)
			gotJSON, got := run(proj)
			require.Equal(t, wantJSON, gotJSON)
			require.Equal(t, want.Labels, got.Labels)
			require.Equal(t, want.Candidate.Values, got.Candidate.Values)
			if len(c.slices) > 0 {
				require.Len(t, got.Result.Slices, 6, "three segments, three amount bins")
			}
		})
	}
}

// A column the evaluation names but the file lacks gives the error of a
// full read (which lists the file's columns), not one listing only the
// projection.
func TestProjectedHoldoutKeepsTheFullReadsErrors(t *testing.T) {
	t.Parallel()
	holdout, cand, _ := writeSlicedHoldout(t, t.TempDir())
	cp, err := model.Open(cand, model.OpenOptions{Kind: model.Binary})
	require.NoError(t, err)
	cases := []struct {
		name, label string
		slices      []config.Slice
		want        string
	}{
		{"no such label", "nope", nil, `no label column "nope" (columns: [id note segment amount f1 target])`},
		{"no such slice column", "target", []config.Slice{{Column: "region", MinSize: 30}}, `has no column "region"`},
		{"text label", "note", nil, `label column "note" is categorical`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ev := config.Evaluation{Resamples: 10, Seed: 1, Confidence: 0.95, Threshold: 0.5, Slices: c.slices}
			full, err := dataset.Read(holdout, dataset.Options{})
			require.NoError(t, err)
			proj, err := ReadHoldout(holdout, dataset.Options{}, HoldoutColumns(c.label, ev, cp))
			require.NoError(t, err)
			_, wantErr := Evaluate(context.Background(), Input{Holdout: full, Label: c.label, Task: "binary", Candidate: cp, Config: ev})
			_, gotErr := Evaluate(context.Background(), Input{Holdout: proj, Label: c.label, Task: "binary", Candidate: cp, Config: ev})
			require.Error(t, wantErr)
			require.Error(t, gotErr)
			require.Equal(t, wantErr.Error(), gotErr.Error())
			require.Contains(t, gotErr.Error(), c.want)
		})
	}
}
