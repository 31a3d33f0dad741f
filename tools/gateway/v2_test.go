package gateway

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseOutputs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		body        string
		rows, width int
		values      []float64
		err         bool
	}{
		{"binary", `{"model_name":"m","outputs":[{"name":"predict","shape":[3],"datatype":"FP64","data":[0.1,0.9,1e-3]}]}`, 3, 1, []float64{0.1, 0.9, 0.001}, false},
		{"shape after data", `{"outputs":[{"data":[1,2,3,4,5,6],"shape":[2,3]}]}`, 2, 3, []float64{1, 2, 3, 4, 5, 6}, false},
		{"nested data", `{"outputs":[{"shape":[2,2],"data":[[0.2,0.8],[0.6,0.4]]}]}`, 2, 2, []float64{0.2, 0.8, 0.6, 0.4}, false},
		{"column vector", `{"outputs":[{"shape":[2,1],"data":[0.5,0.25]}]}`, 2, 1, []float64{0.5, 0.25}, false},
		{"nan string", `{"outputs":[{"data":["NaN",1]}]}`, 2, 1, []float64{math.NaN(), 1}, false},
		{"outputs after other keys", `{"id":"x","parameters":{"a":[1,{"b":"]"}]},"outputs":[{"data":[7]},{"data":[8]}]}`, 1, 1, []float64{7}, false},
		{"escaped key", `{"a\"b":1,"outputs":[{"data":[2]}]}`, 1, 1, []float64{2}, false},
		{"empty outputs", `{"outputs":[]}`, 0, 0, nil, true},
		{"no outputs", `{"error":"boom"}`, 0, 0, nil, true},
		{"not object", `[1,2]`, 0, 0, nil, true},
		{"html", `<html>`, 0, 0, nil, true},
		{"bad number", `{"outputs":[{"data":[1x]}]}`, 0, 0, nil, true},
		{"truncated", `{"outputs":[{"data":[1,2`, 0, 0, nil, true},
		{"data not array", `{"outputs":[{"data":"x"}]}`, 0, 0, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, err := ParseOutputs([]byte(tc.body), nil)
			if tc.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.rows, out.Rows)
			require.Equal(t, tc.width, out.Width)
			require.Len(t, out.Values, len(tc.values))
			for i, v := range tc.values {
				if math.IsNaN(v) {
					require.True(t, math.IsNaN(out.Values[i]))
				} else {
					require.Equal(t, v, out.Values[i])
				}
			}
		})
	}
}

func TestParseInputs(t *testing.T) {
	t.Parallel()
	names, rows, err := ParseInputs(EncodeRequest([][]float64{{1, 2}, {3, 4}}), []string{"a", "b"})
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b"}, names)
	require.Equal(t, [][]float64{{1, 2}, {3, 4}}, rows)
	names, rows, err = ParseInputs([]byte(`{"inputs":[{"name":"x","shape":[2],"data":[1,2]},{"name":"y","shape":[2],"data":[3,4]}]}`), nil)
	require.NoError(t, err)
	require.Equal(t, []string{"x", "y"}, names)
	require.Equal(t, [][]float64{{1, 3}, {2, 4}}, rows)
	_, _, err = ParseInputs([]byte(`{"inputs":[{"name":"x","shape":[2,2],"data":[1,2,3]}]}`), nil)
	require.ErrorContains(t, err, `input "x": shape [2 2] does not match 3 values`)
	_, _, err = ParseInputs([]byte(`{"inputs":[{"name":"x","data":[1,2]},{"name":"y","data":[3]}]}`), nil)
	require.ErrorContains(t, err, `input "y" has 1 values`)
	_, _, err = ParseInputs([]byte(`{"inputs":[]}`), nil)
	require.Error(t, err)
}

func FuzzParseOutputs(f *testing.F) {
	for _, s := range []string{
		`{"outputs":[{"name":"predict","shape":[3],"datatype":"FP64","data":[0.1,0.9,1e-3]}]}`,
		`{"outputs":[{"shape":[2,2],"data":[[0.2,0.8],[0.6,0.4]]}]}`,
		`{"id":"x","parameters":{"a":[1,{"b":"]"}]},"outputs":[{"data":[7]},{"data":[8]}]}`,
		`{"outputs":[{"data":["NaN",Infinity,-inf]}]}`, `{"outputs":[`, `[`, `"`, `{"a\"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := ParseOutputs(b, nil)
		if err != nil {
			return
		}
		if out.Rows*out.Width != len(out.Values) {
			t.Fatalf("rows %d × width %d != %d values", out.Rows, out.Width, len(out.Values))
		}
		for i := 0; i < out.Rows; i++ {
			_ = out.Score(i)
			_ = out.Class(i, 0.5)
		}
	})
}

func FuzzParseInputs(f *testing.F) {
	f.Add(EncodeRequest([][]float64{{1, 2}, {3, 4}}))
	f.Add([]byte(`{"inputs":[{"name":"x","shape":[2],"data":[1,2]},{"name":"y","shape":[2],"data":[3,4]}]}`))
	f.Add([]byte(`{"inputs":[{"name":"x","shape":[-1,2],"data":[]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		names, rows, err := ParseInputs(b, nil)
		if err != nil {
			return
		}
		for _, r := range rows {
			if len(r) != len(names) {
				t.Fatalf("row of %d values for %d names", len(r), len(names))
			}
		}
	})
}

func FuzzDecodeRouteTable(f *testing.F) {
	f.Add([]byte(`{"model":"m","stable":{"version":"v1","url":"http://127.0.0.1:1"},"mode":"stable"}`))
	f.Add([]byte(`{"model":"m","stable":{"version":"v1","url":"http://a"},"candidate":{"version":"v2","url":"http://b"},"candidate_weight":10,"mode":"canary"}`))
	f.Add([]byte(`{"model":"m","shadow_share":1e309}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		tab, err := DecodeRouteTable("m", b)
		if err != nil {
			return
		}
		// a table that decodes and validates must compile
		if tab.Stable.URL == "" || tab.CandidateWeight < 0 || tab.CandidateWeight > 100 {
			t.Fatalf("invalid table accepted: %+v", tab)
		}
	})
}
