package deployment

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReadRows(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
		return p
	}
	feats, rows, err := ReadRows(write("ok.csv", "a,target,b\n1,0,2\n3,1,\n5,0,6\n"), "target", 0)
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b"}, feats)
	require.Equal(t, [][]float64{{1, 2}, {5, 6}}, rows) // the row with a missing value is skipped
	_, rows, err = ReadRows(write("max.csv", "a\n1\n2\n3\n"), "target", 2)
	require.NoError(t, err)
	require.Len(t, rows, 2)
	_, _, err = ReadRows(write("bad.csv", "a,b\n1,x\n"), "target", 0)
	require.ErrorContains(t, err, `row 2 column "b": "x" is not a number`)
	_, _, err = ReadRows(write("empty.csv", "a,b\n"), "target", 0)
	require.ErrorContains(t, err, "no complete rows")
	_, _, err = ReadRows(write("ragged.csv", "a,b\n1\n"), "target", 0)
	require.ErrorContains(t, err, "ragged.csv")
	_, _, err = ReadRows(filepath.Join(dir, "missing.csv"), "target", 0)
	require.ErrorContains(t, err, "missing.csv")
}

func FuzzReadRows(f *testing.F) {
	f.Add([]byte("a,target,b\n1,0,2\n3,1,\n"))
	f.Add([]byte("a\n\"1\n"))
	f.Add([]byte(""))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "f.csv")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Skip()
		}
		feats, rows, err := ReadRows(p, "target", 50)
		if err != nil {
			return
		}
		for _, r := range rows {
			if len(r) != len(feats) {
				t.Fatalf("row of %d values for %d features", len(r), len(feats))
			}
		}
	})
}
