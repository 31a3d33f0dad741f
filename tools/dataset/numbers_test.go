package dataset

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestNumbersReadAsPandasDoes reads testdata/numbers/parse.csv (inf, -inf,
// Infinity, spaces around values) and compares with what pandas 1.5.3's
// read_csv gave, and 1e400-style literals with numpy's float conversion
// (gen_numbers.py).
func TestNumbersReadAsPandasDoes(t *testing.T) {
	t.Parallel()
	dir := "../../testdata/numbers"
	raw, err := os.ReadFile(filepath.Join(dir, "numbers-oracle.json"))
	require.NoError(t, err)
	var o struct {
		Parse struct {
			X            []string  `json:"x"`
			Y            []float64 `json:"y"`
			OverflowText []string  `json:"overflow_text"`
			Overflow     []string  `json:"overflow"`
		} `json:"parse"`
	}
	require.NoError(t, json.Unmarshal(raw, &o))
	require.NotEmpty(t, o.Parse.X)
	f, err := Read(filepath.Join(dir, "parse.csv"), Options{})
	require.NoError(t, err)
	x, ok := f.Col("x")
	require.True(t, ok)
	require.Equal(t, TypeNumeric, x.Type, "inf and spaced values are numbers, not categories")
	for i, w := range o.Parse.X {
		want := pyFloat(t, w)
		require.Equal(t, want, x.Num[i], "row %d", i+1)
		require.False(t, x.Null[i], "row %d: ±inf is a value, not missing", i+1)
	}
	cases := make([]struct{ text, want string }, len(o.Parse.OverflowText))
	for i := range cases {
		cases[i].text, cases[i].want = o.Parse.OverflowText[i], o.Parse.Overflow[i]
	}
	for _, c := range cases {
		t.Run(c.text, func(t *testing.T) {
			t.Parallel()
			v, ok := ParseNumber(c.text)
			require.True(t, ok)
			require.Equal(t, pyFloat(t, c.want), v)
		})
	}
}

func pyFloat(t *testing.T, s string) float64 {
	t.Helper()
	switch s {
	case "inf":
		return math.Inf(1)
	case "-inf":
		return math.Inf(-1)
	}
	v, err := strconv.ParseFloat(s, 64)
	require.NoError(t, err)
	return v
}

func TestNumberTextStillNamesTheRow(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, csv string
		types     map[string]Type
		want      string
	}{
		{"declared numeric, a word", "x\n1\n 2 \ninfinite\n", map[string]Type{"x": TypeNumeric}, `row 3`},
		{"blank field is missing", "x\n1\n  \n", map[string]Type{"x": TypeNumeric}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p := filepath.Join(t.TempDir(), "d.csv")
			require.NoError(t, os.WriteFile(p, []byte(c.csv), 0o644))
			f, err := Read(p, Options{Types: c.types})
			if c.want == "" {
				require.NoError(t, err)
				x, _ := f.Col("x")
				require.True(t, x.Null[1])
				return
			}
			require.ErrorContains(t, err, c.want)
			require.ErrorContains(t, err, `"x"`)
		})
	}
}
