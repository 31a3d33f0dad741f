package model

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPredictionsFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
		return p
	}
	cases := []struct {
		name, body string
		kind       Kind
		rows       int
		want       []float64
		err        string
	}{
		{"binary", "row,score\n0,0.1\n1,0.9\n", "", 2, []float64{0.1, 0.9}, ""},
		{"regression", "prediction\n3.5\n-1\n", "", 2, []float64{3.5, -1}, ""},
		{"multiclass", "row,p0,p1,p2\n0,0.2,0.3,0.5\n1,1,0,0\n", "", 2, []float64{0.2, 0.3, 0.5, 1, 0, 0}, ""},
		{"reordered rows", "row,score\n1,0.1\n0,0.9\n", "", 2, nil, `row 1: column "row" is "1", want 0`},
		{"misaligned", "row,score\n0,0.1\n", "", 2, nil, "has 1 rows but the data has 2"},
		{"empty score", "row,score\n0,\n1,0.2\n", "", 2, nil, `row 1 column "score": "" is not a finite number`},
		{"no column", "a,b\n1,2\n", "", 1, nil, "no score, prediction or p0..pK column (columns: a, b)"},
		{"gap", "p0,p2,p3\n1,0,0\n", Multiclass, 1, nil, "p1 is missing"},
		{"text", "score\nhigh\n", "", 1, nil, `column "score" is categorical`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p, err := OpenPredictions(write(c.name+".csv", c.body), c.kind)
			if err == nil {
				var got Predictions
				got, err = p.Predict(context.Background(), Batch{Rows: c.rows})
				if err == nil {
					require.Empty(t, c.err)
					require.Equal(t, c.want, got.Values)
					return
				}
			}
			require.NotEmpty(t, c.err, "unexpected error %v", err)
			require.ErrorContains(t, err, c.err)
		})
	}
}

func TestOpenChoosesBySource(t *testing.T) {
	t.Parallel()
	m, err := Open(filepath.Join(testdata, "binary-breast-cancer", "model-candidate.json"), OpenOptions{Kind: Binary})
	require.NoError(t, err)
	require.IsType(t, &XGBoost{}, m)
	_, err = Open(filepath.Join(testdata, "regression-diabetes", "model.json"), OpenOptions{Kind: Binary})
	require.ErrorContains(t, err, "model objective reg:squarederror gives regression output, the task is binary")
	p, err := Open(filepath.Join(testdata, "binary-breast-cancer", "predictions-candidate.csv"), OpenOptions{Kind: Binary})
	require.NoError(t, err)
	require.IsType(t, &PredictionsFile{}, p)
	c, err := Open("http://127.0.0.1:1/v2/models/fraud", OpenOptions{})
	require.NoError(t, err)
	require.Equal(t, "fraud", c.Info().Name)
	_, err = Open(filepath.Join(testdata, "nope.json"), OpenOptions{})
	require.ErrorContains(t, err, "no such file")
}
