package oip

import (
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The strict reader and the proxy's scanner read the same data the same
// way: one codec, two entry points.
func FuzzReadersAgree(f *testing.F) {
	for _, s := range []string{`[1,2.5,-3e-2]`, `[[0.1,0.9],[0.4,0.6]]`, `[null, 1]`, `[]`, `[1,`, `[1e999]`, `[ 1 , 2 ]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		if strings.Contains(data, "true") || strings.Contains(data, "false") {
			return // the strict reader takes booleans (BOOL tensors), the scanner does not need to
		}
		out, err := ParseOutputs([]byte(`{"outputs":[{"name":"predict","shape":[1],"datatype":"FP64","data":`+data+`}]}`), nil)
		if err != nil {
			return
		}
		strict, err := Numbers([]byte(data), len(out.Values))
		if err != nil {
			return // the scanner is lenient where the strict reader is not (the shape's count, trailing bytes)
		}
		require.Len(t, strict, len(out.Values))
		for i := range strict {
			if math.Float64bits(strict[i]) != math.Float64bits(out.Values[i]) && !(math.IsNaN(strict[i]) && math.IsNaN(out.Values[i])) {
				t.Fatalf("value %d of %q: strict %v, scanner %v", i, data, strict[i], out.Values[i])
			}
		}
	})
}

func TestReadersAgree(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		data string
		want []float64
	}{
		{"flat", `[1,2.5,-3e-2]`, []float64{1, 2.5, -3e-2}},
		{"nested", `[[0.1,0.9],[0.4,0.6]]`, []float64{0.1, 0.9, 0.4, 0.6}},
		{"spaces", `[ 1 , 2 ]`, []float64{1, 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			strict, err := Numbers([]byte(tc.data), len(tc.want))
			require.NoError(t, err)
			require.Equal(t, tc.want, strict)
			body := `{"outputs":[{"name":"predict","shape":[` + strconv.Itoa(len(tc.want)) + `],"datatype":"FP64","data":` + tc.data + `}]}`
			out, err := ParseOutputs([]byte(body), nil)
			require.NoError(t, err)
			require.Equal(t, tc.want, out.Values)
		})
	}
	nan, err := Numbers([]byte(`[null]`), 1)
	require.NoError(t, err)
	require.True(t, math.IsNaN(nan[0]), "null is a missing value")
	_, err = Numbers([]byte(`[1,2]`), 3)
	require.ErrorContains(t, err, "the shape needs 3")
}
