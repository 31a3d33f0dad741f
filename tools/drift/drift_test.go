package drift

import (
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/tools/dataset"
)

type driftOracle struct {
	Columns map[string]struct {
		KSPValue              float64 `json:"ks_pvalue"`
		KSStatistic           float64 `json:"ks_statistic"`
		NullFractionCurrent   float64 `json:"null_fraction_current"`
		NullFractionReference float64 `json:"null_fraction_reference"`
		Wasserstein           float64 `json:"wasserstein"`
	}
	DriftedColumns []string `json:"drifted_columns"`
}

func TestCompareMatchesScipyOracle(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../testdata/drift/drift-oracle.json")
	require.NoError(t, err)
	var o driftOracle
	require.NoError(t, json.Unmarshal(b, &o))
	ref, err := dataset.Read("../../testdata/drift/train.csv", dataset.Options{})
	require.NoError(t, err)
	cur, err := dataset.Read("../../testdata/drift/holdout-drifted.csv", dataset.Options{})
	require.NoError(t, err)
	res, err := Compare(ref, cur, Options{Exclude: []string{"target"}})
	require.NoError(t, err)
	require.Len(t, res.Columns, len(o.Columns))
	for name, want := range o.Columns {
		got := res.Columns[name]
		require.NotNil(t, got, name)
		require.Equal(t, TestKS, got.Test, name) // 398 reference rows: KS decides
		require.InDelta(t, want.KSStatistic, *got.KSStatistic, 1e-12, name)
		p := *got.KSPValue
		require.True(t, math.Abs(p-want.KSPValue) <= 1e-9*want.KSPValue || math.Abs(p-want.KSPValue) <= 1e-300,
			"%s: ks_pvalue %g, scipy %g", name, p, want.KSPValue)
		require.InEpsilon(t, want.Wasserstein, *got.Wasserstein, 1e-9, name)
		require.Equal(t, want.NullFractionReference, got.NullFractionReference, name)
		require.Equal(t, want.NullFractionCurrent, got.NullFractionCurrent, name)
	}
	require.ElementsMatch(t, o.DriftedColumns, res.DriftedColumns)
	require.InDelta(t, 3.0/30, res.DriftShare, 1e-15)
	require.False(t, res.DatasetDrift)

	// The same comparison with a lower share threshold flags the dataset.
	res, err = Compare(ref, cur, Options{Exclude: []string{"target"}, Share: 0.1})
	require.NoError(t, err)
	require.True(t, res.DatasetDrift)
}

func frame(t *testing.T, csv string) *dataset.Frame {
	t.Helper()
	f, err := dataset.ReadCSV(strings.NewReader(csv), "mem.csv", dataset.Options{})
	require.NoError(t, err)
	return f
}

func TestCompareCategoricalAndOptions(t *testing.T) {
	t.Parallel()
	var ref, same, shifted strings.Builder
	ref.WriteString("color,flag,x\n")
	same.WriteString("color,flag,x\n")
	shifted.WriteString("color,flag,x\n")
	colors := []string{"red", "green", "blue"}
	for i := range 300 {
		ref.WriteString(colors[i%3] + "," + []string{"true", "false"}[i%2] + "," + strings.Repeat("1", 1+i%7) + "\n")
		same.WriteString(colors[(i+1)%3] + "," + []string{"true", "false"}[(i+1)%2] + "," + strings.Repeat("1", 1+(i+3)%7) + "\n")
		c := "red"
		if i%10 == 0 {
			c = "blue"
		}
		shifted.WriteString(c + ",true," + strings.Repeat("1", 1+i%7) + "\n")
	}
	r := frame(t, ref.String())
	res, err := Compare(r, frame(t, same.String()), Options{})
	require.NoError(t, err)
	require.Empty(t, res.DriftedColumns)
	require.Equal(t, TestChiSquare, res.Columns["color"].Test)
	require.Equal(t, TestZ, res.Columns["flag"].Test)
	require.Equal(t, TestKS, res.Columns["x"].Test)
	require.Nil(t, res.Columns["color"].KSStatistic, "numeric-only fields are omitted for categoricals")

	res, err = Compare(r, frame(t, shifted.String()), Options{Correction: "bh", Histograms: true,
		PerColumn: map[string]ColumnOptions{"x": {Test: TestPSI, Threshold: 0.2}}})
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"color", "flag"}, res.DriftedColumns)
	require.NotNil(t, res.Columns["color"].PValueAdjusted)
	require.Equal(t, TestPSI, res.Columns["x"].Test)
	require.Equal(t, 0.2, res.Columns["x"].Threshold)
	require.NotNil(t, res.Columns["color"].Histogram)
	require.True(t, res.DatasetDrift)

	_, err = Compare(r, frame(t, "color\nred\n"), Options{})
	require.ErrorIs(t, err, ErrColumn)
	require.ErrorContains(t, err, `"flag"`)
	_, err = Compare(r, frame(t, same.String()), Options{Columns: []string{"nope"}})
	require.ErrorContains(t, err, `"nope"`)
	_, err = Compare(r, frame(t, "color,flag,x\n"), Options{})
	require.ErrorContains(t, err, "no data rows")
	_, err = Compare(r, r, Options{Share: 2})
	require.Error(t, err)
}

func TestAllNullColumn(t *testing.T) {
	t.Parallel()
	res, err := Compare(frame(t, "a,b\n1,2\n2,3\n3,4\n"), frame(t, "a,b\n1,\n2,\n3,\n"), Options{})
	require.NoError(t, err)
	require.Equal(t, TestNone, res.Columns["b"].Test)
	require.True(t, res.Columns["b"].Drifted)
	require.Equal(t, 1.0, res.Columns["b"].NullFractionCurrent)
}

func TestCompareStreamAgreesWithCompare(t *testing.T) {
	t.Parallel()
	ref, err := dataset.Read("../../testdata/drift/train.csv", dataset.Options{})
	require.NoError(t, err)
	cur, err := dataset.Read("../../testdata/drift/holdout-drifted.csv", dataset.Options{})
	require.NoError(t, err)
	exact, err := Compare(ref, cur, Options{Exclude: []string{"target"}})
	require.NoError(t, err)
	approx, err := CompareStream("../../testdata/drift/train.csv", "../../testdata/drift/holdout-drifted.csv",
		StreamOptions{Options: Options{Exclude: []string{"target"}}, MemoryBudget: 64 << 20})
	require.NoError(t, err)
	// Under k values per level nothing is compacted: the sketch is exact.
	for name, e := range exact.Columns {
		a := approx.Columns[name]
		require.True(t, a.Approximate)
		require.InDelta(t, *e.KSStatistic, *a.KSStatistic, 1e-12, name)
		require.InEpsilon(t, *e.Wasserstein, *a.Wasserstein, 1e-9, name)
		require.Equal(t, e.NullFractionCurrent, a.NullFractionCurrent, name)
	}
	require.ElementsMatch(t, exact.DriftedColumns, approx.DriftedColumns)

	_, err = CompareStream("../../testdata/drift/train.csv", "../../testdata/drift/holdout-drifted.csv", StreamOptions{MemoryBudget: 1 << 20})
	require.ErrorContains(t, err, "too small")
}

// An all-null column infers as numeric; it must not be a type mismatch.
func TestAllNullCategorical(t *testing.T) {
	t.Parallel()
	res, err := Compare(frame(t, "a,c\n1,x\n2,y\n3,x\n"), frame(t, "a,c\n1,\n2,\n3,\n"), Options{})
	require.NoError(t, err)
	require.True(t, res.Columns["c"].Drifted)
	require.Equal(t, "no non-null values in the current data", res.Columns["c"].Note)
	_, err = Compare(frame(t, "a,c\n1,x\n"), frame(t, "a,c\n1,2\n"), Options{})
	require.ErrorContains(t, err, "categorical in the reference but numeric")
}
