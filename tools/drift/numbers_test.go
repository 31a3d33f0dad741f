package drift

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/tools/dataset"
)

// ±inf values are numbers to the reader; drift leaves them out of its
// statistics, says how many, and the result still encodes as JSON.
func TestInfinitiesLeftOutAndCounted(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, ref, cur, note string
	}{
		{"current", "x\n1\n2\n3\n4\n5\n", "x\ninf\n-inf\n 3\n1e400\n5 \n", "0 infinite values in the reference and 3 in the current data"},
		{"reference", "x\n1\n2\ninf\n4\n5\n", "x\n1\n2\n3\n4\n5\n", "1 infinite values in the reference and 0 in the current data"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ref, err := dataset.ReadCSV(strings.NewReader(c.ref), "ref.csv", dataset.Options{})
			require.NoError(t, err)
			cur, err := dataset.ReadCSV(strings.NewReader(c.cur), "cur.csv", dataset.Options{})
			require.NoError(t, err)
			res, err := Compare(ref, cur, Options{})
			require.NoError(t, err)
			b, err := json.Marshal(res)
			require.NoError(t, err)
			require.Contains(t, string(b), c.note)
		})
	}
}
