package dataset

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/stretchr/testify/require"
)

func TestReadCSV(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		in    string
		opts  Options
		rows  int
		types map[string]Type
		check func(t *testing.T, f *Frame)
	}{
		{
			name: "types inferred", in: "a,b,c,d,e\n1,x,true,2024-01-02,\n2.5,y,FALSE,2024-01-03T10:00:00Z,\n,,, ,\n",
			rows: 3, types: map[string]Type{"a": TypeNumeric, "b": TypeCategorical, "c": TypeBoolean, "e": TypeNumeric, "d": TypeCategorical},
			check: func(t *testing.T, f *Frame) {
				a, _ := f.Col("a")
				require.Equal(t, 2.5, a.Num[1])
				require.True(t, a.Null[2])
				require.True(t, math.IsNaN(a.Num[2]))
				c, _ := f.Col("c")
				require.Equal(t, []float64{1, 0}, c.Num[:2])
				require.True(t, c.Null[2])
				b, _ := f.Col("b")
				require.Equal(t, []string{"x", "y", ""}, b.Str)
			},
		},
		{
			name: "timestamps", in: "t\n2024-01-02\n2024-01-03 00:00:00\n",
			rows: 2, types: map[string]Type{"t": TypeTimestamp},
			check: func(t *testing.T, f *Frame) {
				c, _ := f.Col("t")
				require.Equal(t, 86400.0, c.Num[1]-c.Num[0])
				require.Equal(t, "2024-01-02T00:00:00Z", c.Text(0))
			},
		},
		{
			name: "quoting crlf bom", in: "\xef\xbb\xbfname,v\r\n\"a,\"\"b\"\"\nc\",1\r\n\"plain\",2\r\n",
			rows: 2, types: map[string]Type{"name": TypeCategorical, "v": TypeNumeric},
			check: func(t *testing.T, f *Frame) {
				c, _ := f.Col("name")
				require.Equal(t, "a,\"b\"\nc", c.Str[0])
				require.Equal(t, "plain", c.Str[1])
			},
		},
		{
			name: "delimiter and no final newline", in: "a;b\n1;2\n3;4", opts: Options{Delimiter: ';'},
			rows: 2, types: map[string]Type{"a": TypeNumeric, "b": TypeNumeric},
		},
		{
			name: "missing tokens", in: "a\nNA\n1\nnull\n", rows: 3, types: map[string]Type{"a": TypeNumeric},
			check: func(t *testing.T, f *Frame) {
				a, _ := f.Col("a")
				require.Equal(t, 2, a.NullCount())
			},
		},
		{
			name: "override categorical and boolean", in: "zip,flag\n02134,1\n10001,0\n",
			opts: Options{Types: map[string]Type{"zip": TypeCategorical}},
			rows: 2, types: map[string]Type{"zip": TypeCategorical, "flag": TypeNumeric},
			check: func(t *testing.T, f *Frame) {
				z, _ := f.Col("zip")
				require.Equal(t, "02134", z.Str[0])
			},
		},
		{name: "header only", in: "a,b\n", rows: 0, types: map[string]Type{"a": TypeNumeric, "b": TypeNumeric}},
		{name: "blank lines skipped", in: "a,b\n\n1,2\n\n", rows: 1, types: map[string]Type{"a": TypeNumeric}},
		{name: "all null column", in: "a,b\n1,\n2,\n", rows: 2, types: map[string]Type{"b": TypeNumeric},
			check: func(t *testing.T, f *Frame) {
				b, _ := f.Col("b")
				require.Equal(t, 2, b.NullCount())
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, err := ReadCSV(strings.NewReader(tt.in), "in.csv", tt.opts)
			require.NoError(t, err)
			require.Equal(t, tt.rows, f.Rows)
			for _, c := range f.Columns {
				require.Equal(t, tt.rows, c.Len(), c.Name)
			}
			for name, typ := range tt.types {
				c, ok := f.Col(name)
				require.True(t, ok, name)
				require.Equal(t, typ, c.Type, name)
			}
			if tt.check != nil {
				tt.check(t, f)
			}
		})
	}
}

func TestReadCSVErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		opts Options
		want error
		msg  string
	}{
		{name: "empty", in: "", want: ErrEmpty},
		{name: "ragged", in: "a,b\n1,2\n3\n", want: ErrFieldCount, msg: "in.csv: row 2"},
		{name: "too many", in: "a,b\n1,2,3\n", want: ErrFieldCount, msg: "row 1"},
		{name: "bare quote", in: "a,b\n1,x\"y\n", want: ErrBareQuote, msg: "row 1"},
		{name: "text after quote", in: "a,b\n1,\"x\"y\n", want: ErrQuote},
		{name: "unterminated", in: "a,b\n1,\"xy\n", want: ErrUnterminated},
		{name: "invalid utf8", in: "a,b\n1,ok\n2,\xff\xfe\n", want: ErrInvalidUTF8, msg: `row 2, column "b"`},
		{name: "duplicate", in: "a,b,a\n1,2,3\n", want: ErrDuplicateName, msg: `column "a"`},
		{name: "wrong delimiter", in: "a;b;c\n1;2;3\n", msg: "is the delimiter ';'"},
		{name: "stray text in declared numeric", in: "a\n1\nabc\n", opts: Options{Types: map[string]Type{"a": TypeNumeric}}, want: ErrNotNumber, msg: `row 2, column "a"`},
		{name: "bad boolean", in: "a\ntrue\nmaybe\n", opts: Options{Types: map[string]Type{"a": TypeBoolean}}, msg: `row 2, column "a": "maybe" is not a boolean value`},
		{name: "bad delimiter option", in: "a\n", opts: Options{Delimiter: '"'}, msg: "delimiter"},
		{name: "too large", in: "a\n1\n2\n", opts: Options{MaxBytes: 3}, want: ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ReadCSV(strings.NewReader(tt.in), "in.csv", tt.opts)
			require.Error(t, err)
			if tt.want != nil {
				require.ErrorIs(t, err, tt.want)
			}
			require.Contains(t, err.Error(), tt.msg)
		})
	}
}

// A numeric guess from the first block that meets text later must give
// the same frame as if the whole file had been seen at once.
func TestLateTypeChange(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	b.WriteString("id,v\n")
	for i := range 5000 {
		b.WriteString(strings.Repeat("1", 1+i%3) + "," + "2\n")
	}
	b.WriteString("A7,3\n")
	p, err := newParser("late.csv", Options{})
	require.NoError(t, err)
	p.blockSize = 1024
	f, err := p.readFrame(bytes.NewReader(b.Bytes()))
	require.NoError(t, err)
	id, _ := f.Col("id")
	require.Equal(t, TypeCategorical, id.Type)
	require.Equal(t, "11", id.Str[1])
	require.Equal(t, "A7", id.Str[5000])
	require.Equal(t, 5001, f.Rows)

	// Errors late in a multi-block file carry global row and line numbers.
	b.WriteString("\"multi\nline\",4\n5\n")
	_, err = p.readFrame(bytes.NewReader(b.Bytes()))
	require.ErrorIs(t, err, ErrFieldCount)
	require.Contains(t, err.Error(), "row 5003 (line 5005)")
}

func TestReadFileAndParquet(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	type rec struct {
		X    *float64 `parquet:"x,optional"`
		Cat  string   `parquet:"cat"`
		Flag bool     `parquet:"flag"`
		N    int64    `parquet:"n"`
	}
	one := 1.5
	path := filepath.Join(dir, "data.bin") // content decides, not the extension
	fh, err := os.Create(path)
	require.NoError(t, err)
	w := parquet.NewGenericWriter[rec](fh)
	_, err = w.Write([]rec{{X: &one, Cat: "a", Flag: true, N: 3}, {X: nil, Cat: "b", Flag: false, N: 4}})
	require.NoError(t, err)
	require.NoError(t, w.Close())
	require.NoError(t, fh.Close())
	f, err := Read(path, Options{})
	require.NoError(t, err)
	require.Equal(t, 2, f.Rows)
	x, _ := f.Col("x")
	require.Equal(t, TypeNumeric, x.Type)
	require.Equal(t, 1.5, x.Num[0])
	require.True(t, x.Null[1])
	cat, _ := f.Col("cat")
	require.Equal(t, []string{"a", "b"}, cat.Str)
	flag, _ := f.Col("flag")
	require.Equal(t, TypeBoolean, flag.Type)
	require.Equal(t, []float64{1, 0}, flag.Num)

	csvPath := filepath.Join(dir, "d.parquet")
	require.NoError(t, os.WriteFile(csvPath, []byte("a\n1\n"), 0o644))
	f, err = Read(csvPath, Options{})
	require.NoError(t, err)
	require.Equal(t, 1, f.Rows)

	_, err = Read(filepath.Join(dir, "missing.csv"), Options{})
	require.Error(t, err)
	require.Contains(t, err.Error(), "missing.csv")
	_, err = Read(dir, Options{})
	require.ErrorContains(t, err, "directory")
	require.NoError(t, os.WriteFile(csvPath, []byte("PAR1garbage"), 0o644))
	_, err = Read(csvPath, Options{})
	require.ErrorContains(t, err, "read parquet")
}

func TestReadOracleCSV(t *testing.T) {
	t.Parallel()
	f, err := Read("../../testdata/drift/train.csv", Options{})
	require.NoError(t, err)
	require.Equal(t, 398, f.Rows)
	require.Len(t, f.Columns, 31)
	for _, c := range f.Columns {
		require.Equal(t, TypeNumeric, c.Type, c.Name)
	}
	if !errors.Is(err, nil) {
		t.Fatal(err)
	}
}

func FuzzReadCSV(f *testing.F) {
	for _, s := range []string{"a,b\n1,2\n", "a\n\"x\"\"y\"\n", "a,b\n1\n", "\xef\xbb\xbfa\r\n1\r\n", "a,b\n\"1\n2\",3\n", "x\ntrue\n2024-01-01\n", "a\nNA\n1e5\n", "x\ninf\n-Infinity\n 1e400 \n", ""} {
		f.Add([]byte(s), uint8(','))
	}
	f.Fuzz(func(t *testing.T, data []byte, delim uint8) {
		p, err := newParser("fuzz.csv", Options{Delimiter: rune(delim)})
		if err != nil {
			return
		}
		if len(data) > 4096 {
			return // bigger inputs only slow the search down
		}
		p.blockSize = 16 // many blocks, to exercise the record-boundary logic
		fr, err := p.readFrame(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, c := range fr.Columns {
			if c.Len() != fr.Rows {
				t.Fatalf("column %s has %d rows, frame %d", c.Name, c.Len(), fr.Rows)
			}
		}
		// Block size must not change the result.
		q, _ := newParser("fuzz.csv", Options{Delimiter: rune(delim)})
		q.blockSize = 1 << 16
		fr2, err := q.readFrame(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("big blocks failed where small ones did not: %v", err)
		}
		if fr2.Rows != fr.Rows || len(fr2.Columns) != len(fr.Columns) {
			t.Fatalf("block size changed the frame")
		}
		for i, c := range fr.Columns {
			if c.Type != fr2.Columns[i].Type {
				t.Fatalf("column %s: %s vs %s", c.Name, c.Type, fr2.Columns[i].Type)
			}
		}
	})
}

func TestStream(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "s.csv")
	var b strings.Builder
	b.WriteString("x,c,flag\n")
	for i := range 3000 {
		b.WriteString(strings.Repeat("1", 1+i%5) + "," + []string{"a", "b", ""}[i%3] + "," + []string{"true", "false"}[i%2] + "\n")
	}
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))
	rows, blocks := 0, 0
	info, err := Stream(path, StreamOptions{BlockBytes: 1000}, func(blk *Block) error {
		require.Equal(t, rows+1, blk.FirstRow)
		rows += blk.Rows
		blocks++
		require.Equal(t, TypeNumeric, blk.Columns[0].Type)
		require.Equal(t, TypeCategorical, blk.Columns[1].Type)
		require.Equal(t, TypeBoolean, blk.Columns[2].Type)
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, 3000, info.Rows)
	require.Equal(t, 3000, rows)
	require.Greater(t, blocks, 10)

	// A value that contradicts the first block's guess names row and column.
	b.WriteString("oops,a,true\n")
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))
	_, err = Stream(path, StreamOptions{BlockBytes: 1000}, func(*Block) error { return nil })
	require.ErrorIs(t, err, ErrStreamType)
	require.ErrorContains(t, err, `row 3001, column "x"`)
}

func TestFastFloatMatchesStrconv(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"0", "-0", "1", "1.5", "-12.3456", "0.0001", "123456789.123456", "9007199254740993", "1e5", ".5", "5.", "-.5", "+3.25",
		"0.1", "0.3", "2.675", "1.0000000000000002", "3.14159265358979323846", "12345678901234567890", "1.2.3", "-", "", "abc", "1_000"} {
		want, werr := strconv.ParseFloat(s, 64)
		if s == "" {
			continue
		}
		got, ok := fastFloat([]byte(s))
		if !ok {
			continue // strconv decides
		}
		require.NoError(t, werr, s)
		require.Equal(t, math.Float64bits(want), math.Float64bits(got), s)
	}
}

func FuzzFastFloat(f *testing.F) {
	for _, s := range []string{"1.5", "-0.0001", "123.456", "9007199254740993", "0.1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if s == "" {
			return
		}
		got, ok := fastFloat([]byte(s))
		if !ok {
			return
		}
		want, err := strconv.ParseFloat(s, 64)
		if err != nil || math.Float64bits(want) != math.Float64bits(got) {
			t.Fatalf("%q: fast %v, strconv %v (%v)", s, got, want, err)
		}
	})
}
