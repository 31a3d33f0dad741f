package validate

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/tools/dataset"
)

// Infinities are read as numbers (as pandas reads "inf"): the column stays
// numeric, the report names the rows, and its JSON still encodes.
func TestInfinitiesAreNumbersAndNamed(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, ref, data string
		wantRows        []int
	}{
		{"inf in the data", "x\n1\n2\n3\n", "x\ninf\n2\n-inf\n", []int{1, 3}},
		{"overflow and spaces in the data", "x\n1\n2\n3\n", "x\n 2\n1e400\n3 \n", []int{2}},
		{"inf in the reference", "x\n1\n-inf\n3\n", "x\n1\n2\n3\n", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ref := read(t, c.ref, dataset.Options{})
			s := Infer(ref, InferOptions{})
			require.NotNil(t, s.Columns[0].Min, "the finite range becomes the bounds")
			data := read(t, c.data, s.ReadOptions())
			x, _ := data.Col("x")
			require.Equal(t, dataset.TypeNumeric, x.Type)
			r := Validate(data, s, Options{})
			_, err := json.Marshal(r)
			require.NoError(t, err)
			var rows []int
			for _, f := range r.Findings {
				if f.Rule == "finite" {
					rows = f.Rows
					require.Contains(t, f.Message, "infinite values")
				}
			}
			require.Equal(t, c.wantRows, rows)
		})
	}
}
