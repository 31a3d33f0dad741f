package dataset

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/stretchr/testify/require"
)

// Projection returns exactly the named columns, with the values a full
// read gives them, and never parses the others: a column of text that
// would turn a numeric guess over, or that is not even a valid number
// for a declared type, cannot fail or slow a projected read.
func TestColumnProjection(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("id,label,junk,score\n")
	for i := range 5000 {
		junk := "x"
		if i%2 == 0 {
			junk = "1"
		}
		b.WriteString(strings.Repeat("7", 1+i%3) + "," + []string{"0", "1"}[i%2] + "," + junk + "," + []string{"0.25", "0.5", ""}[i%3] + "\n")
	}
	data := []byte(b.String())
	full, err := readWith(data, Options{}, 1000, false)
	require.NoError(t, err)
	for _, general := range []bool{false, true} {
		o := Options{Columns: []string{"score", "label", "not-there"}, Types: map[string]Type{"junk": TypeNumeric}}
		got, err := readWith(data, o, 1000, general)
		require.NoError(t, err, "a declared type on a skipped column is never checked")
		require.Equal(t, []string{"label", "score"}, got.Names(), "file order, unknown names left to the caller")
		require.Equal(t, 5000, got.Rows)
		for _, name := range got.Names() {
			want, _ := full.Col(name)
			c, _ := got.Col(name)
			require.Equal(t, want.Type, c.Type)
			require.Equal(t, want.Null, c.Null)
			require.Equal(t, len(want.Num), len(c.Num))
			for i := range want.Num {
				if !want.Null[i] {
					require.Equal(t, want.Num[i], c.Num[i])
				}
			}
		}
	}
	// Without the projection the declared type is checked and fails.
	_, err = readWith(data, Options{Types: map[string]Type{"junk": TypeNumeric}}, 1000, false)
	require.ErrorIs(t, err, ErrNotNumber)

	dir := t.TempDir()
	path := filepath.Join(dir, "s.csv")
	require.NoError(t, os.WriteFile(path, data, 0o644))
	rows := 0
	info, err := Stream(path, StreamOptions{Options: Options{Columns: []string{"junk"}}, BlockBytes: 700}, func(blk *Block) error {
		require.Len(t, blk.Columns, 1)
		require.Equal(t, "junk", blk.Columns[0].Name)
		require.Equal(t, blk.Rows, blk.Columns[0].Len())
		rows += blk.Rows
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, []string{"junk"}, info.Names)
	require.Equal(t, []Type{TypeCategorical}, info.Types)
	require.Equal(t, 5000, rows)
	// Projected away, the text column that breaks the numeric stream
	// guess is not read at all.
	_, err = Stream(path, StreamOptions{Options: Options{Columns: []string{"id", "score"}}, BlockBytes: 700}, func(blk *Block) error {
		require.Len(t, blk.Columns, 2)
		return nil
	})
	require.NoError(t, err)

	type rec struct {
		X   float64 `parquet:"x"`
		Cat string  `parquet:"cat"`
	}
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[rec](&buf)
	_, err = w.Write([]rec{{1.5, "a"}, {2.5, "b"}})
	require.NoError(t, err)
	require.NoError(t, w.Close())
	pq := filepath.Join(dir, "d.parquet")
	require.NoError(t, os.WriteFile(pq, buf.Bytes(), 0o644))
	f, err := Read(pq, Options{Columns: []string{"cat"}})
	require.NoError(t, err)
	require.Equal(t, []string{"cat"}, f.Names())
	c, _ := f.Col("cat")
	require.Equal(t, []string{"a", "b"}, c.Str)
}
