package dataset

import (
	"encoding/csv"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// recycleInput is a CSV whose blocks differ everywhere: text of every
// length (some records longer than a small block, so a block grows and a
// recycled buffer is too small), quoted fields with newlines and
// delimiters, numbers, blanks.
func recycleInput(rows int) []byte {
	rng := rand.New(rand.NewPCG(9, 4))
	var b strings.Builder
	b.WriteString("id,name,score\n")
	for i := range rows {
		name := strings.Repeat(string(rune('a'+i%26)), 1+rng.IntN(12))
		switch rng.IntN(40) {
		case 0:
			name = strings.Repeat("long", 100+rng.IntN(200))
		case 1:
			name = "\"two\nlines, one comma\""
		case 2:
			name = ""
		}
		score := strconv.FormatFloat(rng.Float64(), 'g', -1, 64)
		if rng.IntN(30) == 0 {
			score = ""
		}
		fmt.Fprintf(&b, "%d,%s,%s\n", i, name, score)
	}
	return []byte(b.String())
}

// Block buffers are reused once parsed: whatever the block size, and
// with the fast and the general parser, a read gives the frame a read in
// one block gives (which reuses nothing), and the text the standard
// library's CSV reader finds. A block reused while its bytes were still
// read (by the parser, or as the partial record carried to the next
// block) would show here, and under -race.
func TestRecycledBlocksChangeNoValue(t *testing.T) {
	t.Parallel()
	data := recycleInput(5000)
	whole, err := readWith(data, Options{}, len(data)+1, false)
	require.NoError(t, err)
	recs, err := csv.NewReader(strings.NewReader(string(data))).ReadAll()
	require.NoError(t, err)
	name, _ := whole.Col("name")
	require.Equal(t, len(recs)-1, whole.Rows)
	for i, r := range recs[1:] {
		require.Equal(t, r[1], name.Text(i), "row %d", i+1)
	}
	for _, size := range []int{1, 16, 100, 257, 4096} {
		for _, general := range []bool{false, true} {
			t.Run(fmt.Sprintf("block %d general %v", size, general), func(t *testing.T) {
				t.Parallel()
				got, err := readWith(data, Options{}, size, general)
				require.NoError(t, err)
				require.NoError(t, sameFrame(whole, got))
			})
		}
	}
	t.Run("stream", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "r.csv")
		require.NoError(t, os.WriteFile(path, data, 0o644))
		var names []string
		_, err := Stream(path, StreamOptions{BlockBytes: 300}, func(blk *Block) error {
			for _, c := range blk.Columns {
				if c.Name == "name" {
					for i := range c.Null {
						names = append(names, c.Text(i))
					}
				}
			}
			return nil
		})
		require.NoError(t, err)
		require.Len(t, names, whole.Rows)
		for i, n := range names {
			require.Equal(t, name.Text(i), n, "row %d", i+1)
		}
	})
}
