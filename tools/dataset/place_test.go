package dataset

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func readPlaced(data []byte, o Options, blockSize int, general, noPlace bool) (*Frame, error) {
	p, err := newParser("x.csv", o)
	if err != nil {
		return nil, err
	}
	p.blockSize, p.noFast, p.noPlace = blockSize, general, noPlace
	f, err := p.readFrame(bytes.NewReader(data))
	if p.fellBack {
		// The bound makes this unreachable: were it reached, the read
		// would still be right (read again unplaced), so say it here.
		return nil, fmt.Errorf("a placed block outgrew its window")
	}
	return f, err
}

// placeInputs are the shapes placement must survive: blank lines and
// quoted newlines (blocks with fewer records than newlines: gaps the
// collector closes), CRLF, no final newline, a column that turns to text
// late (a second attempt), a first block with long lines and short ones
// after (the columns' capacity runs out and later blocks are appended),
// text columns, records longer than a block.
func placeInputs() map[string][]byte {
	var overflow strings.Builder
	overflow.WriteString("a,b\n")
	for i := range 30 {
		fmt.Fprintf(&overflow, "%d,%s\n", i, strings.Repeat("7", 190))
	}
	for i := range 60_000 {
		fmt.Fprintf(&overflow, "%d,%d\n", i%10, i%7)
	}
	var blanks strings.Builder
	blanks.WriteString("x,y\n")
	for i := range 20_000 {
		fmt.Fprintf(&blanks, "%d,%d.5\n", i, i)
		switch i % 97 {
		case 0:
			blanks.WriteString("\n\n")
		case 1:
			blanks.WriteString("\r\n")
		}
	}
	var late strings.Builder
	late.WriteString("id,v\n")
	for i := range 30_000 {
		v := fmt.Sprint(i)
		if i == 25_000 {
			v = "text"
		}
		fmt.Fprintf(&late, "%d,%s\n", i, v)
	}
	var crlf strings.Builder
	crlf.WriteString("p,q,r\r\n")
	for i := range 10_000 {
		fmt.Fprintf(&crlf, "%d,cat%d,%g\r\n", i, i%5, float64(i)/3)
	}
	return map[string][]byte{
		"recycle input (quotes, long records, blanks fields)": recycleInput(6000),
		"capacity overflow":   []byte(overflow.String()),
		"blank lines":         []byte(blanks.String()),
		"late text":           []byte(late.String()),
		"crlf and categories": []byte(crlf.String()),
		"no final newline":    []byte("a,b\n1,2\n3,4"),
		"header only":         []byte("a,b\n"),
		"one row":             []byte("a,b\n1,x\n"),
		"blank then rows":     []byte("a\n\n\n1\n\n2\n"),
		"cr line at end":      []byte("a\n1\n\r"),
	}
}

// Parsing blocks straight into the columns gives the frame (values bit
// for bit, types, nulls, strings) and the error that parsing each block
// into its own buffers gives, for every block size, with the fast and the
// general parser.
func TestPlacedBlocksEqualUnplaced(t *testing.T) {
	t.Parallel()
	for name, data := range placeInputs() {
		for _, size := range []int{1, 7, 64, 257, 4096, len(data) + 1} {
			for _, general := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/block %d/general %v", name, size, general), func(t *testing.T) {
					t.Parallel()
					want, wantErr := readPlaced(data, Options{}, size, general, true)
					got, gotErr := readPlaced(data, Options{}, size, general, false)
					if wantErr != nil || gotErr != nil {
						require.Equal(t, fmt.Sprint(wantErr), fmt.Sprint(gotErr))
						return
					}
					require.NoError(t, sameFrame(want, got))
				})
			}
		}
	}
	// The repository's CSV fixtures, default block size.
	paths, err := filepath.Glob("../../testdata/*/*.csv")
	require.NoError(t, err)
	more, _ := filepath.Glob("../../testdata/*/*/*.csv")
	paths = append(paths, more...)
	require.NotEmpty(t, paths)
	for _, path := range paths {
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		for _, size := range []int{300, defaultBlock} {
			want, wantErr := readPlaced(data, Options{}, size, false, true)
			got, gotErr := readPlaced(data, Options{}, size, false, false)
			require.Equal(t, fmt.Sprint(wantErr), fmt.Sprint(gotErr), path)
			if wantErr == nil {
				require.NoError(t, sameFrame(want, got), path)
			}
		}
	}
}

// FuzzPlacedEqualsUnplaced: any input, delimiter and block size.
func FuzzPlacedEqualsUnplaced(f *testing.F) {
	for _, s := range []string{"a,b\n1,2\n", "a,b\n\n1,2\n\n\n3,4\n", "a\n\"x\ny\"\n1\n", "a,b\r\n1,2\r\n\r\n", "a\n1\n2", "a,b\n1,x\n2,3\n"} {
		f.Add([]byte(s), uint8(','), uint16(5))
	}
	f.Fuzz(func(t *testing.T, data []byte, delim uint8, block uint16) {
		if len(data) > 4096 {
			return
		}
		o := Options{Delimiter: rune(delim)}
		bs := 1 + int(block)%512
		want, wantErr := readPlaced(data, o, bs, false, true)
		got, gotErr := readPlaced(data, o, bs, false, false)
		if fmt.Sprint(wantErr) != fmt.Sprint(gotErr) {
			t.Fatalf("errors: unplaced %v, placed %v", wantErr, gotErr)
		}
		if wantErr == nil {
			if err := sameFrame(want, got); err != nil {
				t.Fatal(err)
			}
		}
	})
}
