package dataset

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// readWith parses data with the general record parser only (general) or
// with the quote-free fast path allowed, in blocks of blockSize bytes.
func readWith(data []byte, o Options, blockSize int, general bool) (*Frame, error) {
	p, err := newParser("x.csv", o)
	if err != nil {
		return nil, err
	}
	p.blockSize = blockSize
	p.noFast = general
	return p.readFrame(bytes.NewReader(data))
}

// sameFrame reports how a and b differ: names, types, nulls, strings,
// and numbers bit for bit (NaN payloads included).
func sameFrame(a, b *Frame) error {
	if a.Rows != b.Rows || len(a.Columns) != len(b.Columns) {
		return fmt.Errorf("%d rows × %d columns vs %d × %d", a.Rows, len(a.Columns), b.Rows, len(b.Columns))
	}
	for i, ca := range a.Columns {
		cb := b.Columns[i]
		if ca.Name != cb.Name || ca.Type != cb.Type || len(ca.Num) != len(cb.Num) || len(ca.Str) != len(cb.Str) || len(ca.Null) != len(cb.Null) {
			return fmt.Errorf("column %d: %s %s vs %s %s", i, ca.Name, ca.Type, cb.Name, cb.Type)
		}
		for k := range ca.Null {
			if ca.Null[k] != cb.Null[k] {
				return fmt.Errorf("column %s row %d: null %v vs %v", ca.Name, k, ca.Null[k], cb.Null[k])
			}
		}
		for k := range ca.Num {
			if math.Float64bits(ca.Num[k]) != math.Float64bits(cb.Num[k]) {
				return fmt.Errorf("column %s row %d: %v vs %v", ca.Name, k, ca.Num[k], cb.Num[k])
			}
		}
		for k := range ca.Str {
			if ca.Str[k] != cb.Str[k] {
				return fmt.Errorf("column %s row %d: %q vs %q", ca.Name, k, ca.Str[k], cb.Str[k])
			}
		}
	}
	return nil
}

// checkSame fails unless the fast path and the general parser agree on
// data: the same frame, or the same error text.
func checkSame(t *testing.T, data []byte, o Options, blockSize int) {
	t.Helper()
	want, werr := readWith(data, o, blockSize, true)
	got, gerr := readWith(data, o, blockSize, false)
	if (werr == nil) != (gerr == nil) || (werr != nil && werr.Error() != gerr.Error()) {
		t.Fatalf("error: general %v, fast %v", werr, gerr)
	}
	if werr != nil {
		return
	}
	if err := sameFrame(want, got); err != nil {
		t.Fatalf("fast path differs from the general parser: %v", err)
	}
}

// Every CSV fixture of the repository reads the same with and without
// the fast path, in default blocks and in tiny ones.
func TestPlainPathEqualsGeneralOnFixtures(t *testing.T) {
	t.Parallel()
	var files []string
	err := filepath.WalkDir("../../testdata", func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Ext(path) == ".csv" {
			files = append(files, path)
		}
		return err
	})
	if err != nil || len(files) < 10 {
		t.Fatalf("fixtures: %d files, %v", len(files), err)
	}
	for _, path := range files {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for _, bs := range []int{defaultBlock, 257} {
				checkSame(t, data, Options{}, bs)
			}
		})
	}
}

func TestPlainPathEqualsGeneralOnEdgeCases(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"crlf":                 "a,b\r\n1,2\r\n3,4\r\n",
		"blank lines":          "a,b\n\n1,2\n\r\n3,4\n\n",
		"no final newline":     "a,b\n1,2\n3,4",
		"no final newline, cr": "a,b\n1,2\n3,4\r",
		"lone cr":              "a,b\n\r1,2\n",
		"too many fields":      "a,b\n1,2\n3,4,5\n",
		"too few fields":       "a,b\n1,2\n3\n",
		"empty fields":         "a,b,c\n,,\n1,,x\n",
		"text late":            "a,b\n1,2\n" + string(bytes.Repeat([]byte("1,2\n"), 200)) + "x,2\n",
		"missing tokens":       "a,b\nNA,1\nnull,NaN\n inf ,-Infinity\n1e400,0x1p-2\n",
		"invalid utf8":         "a,b\n1,\xff\n",
		"quoted newline":       "a,b\n1,\"x\ny\"\n2,z\n",
		"bools and times":      "a,b\ntrue,2024-01-01\nfalse,2024-01-02T03:04:05Z\n",
		"semicolons":           "a;b\n1;2\n",
	}
	for name, s := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, bs := range []int{defaultBlock, 16, 5} {
				checkSame(t, []byte(s), Options{}, bs)
				checkSame(t, []byte(s), Options{Delimiter: ';'}, bs)
			}
		})
	}
}

// FuzzPlainEqualsGeneral is the differential fuzz target of the fast
// path: on any input, any delimiter and any block size it must give
// what the general record parser gives, value for value and error for
// error.
func FuzzPlainEqualsGeneral(f *testing.F) {
	for _, s := range []string{"a,b\n1,2\n", "a,b\r\n1.5,-2\r\n\r\n3,x\n", "a,b\n1\n", "a\n1,2\n", "a,b\n\"1\n2\",3\n", "x\ntrue\n2024-01-01\n",
		"a,b\nNA,1e5\n 7 ,.5\n", "x,y\ninf,-Infinity\n1e400,5\n", "a,b\n1,\xff\n", "a;b\n1;2\n", "a,b\n,\n,\n"} {
		f.Add([]byte(s), uint8(','), uint16(16))
	}
	f.Fuzz(func(t *testing.T, data []byte, delim uint8, block uint16) {
		if len(data) > 4096 {
			return
		}
		bs := 1 + int(block)%512
		checkSame(t, data, Options{Delimiter: rune(delim)}, bs)
	})
}

// FuzzShortFloat: whatever shortFloat accepts, the general Clinger loop
// and strconv.ParseFloat give the same bits.
func FuzzShortFloat(f *testing.F) {
	for _, s := range []string{"1.5", "-0.0001", "123.456", "999999999999999", "0.1", "+.5", "5.", "-", ".", "1.2.3", "0.0316045587"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := shortFloat([]byte(s))
		if !ok {
			return
		}
		want, ok2 := clingerFloat([]byte(s))
		ref, err := strconv.ParseFloat(s, 64)
		if !ok2 || err != nil || math.Float64bits(want) != math.Float64bits(got) || math.Float64bits(ref) != math.Float64bits(got) {
			t.Fatalf("%q: short %v, clinger %v %v, strconv %v %v", s, got, want, ok2, ref, err)
		}
	})
}

// FuzzScanShort: whenever scanShort accepts a field (the number ends at
// a delimiter, a newline or the end), shortFloat on that field accepts it
// with the same bits, and so does strconv.ParseFloat.
func FuzzScanShort(f *testing.F) {
	for _, s := range []string{"1.5,2", "-0.0001\n", "123.456", "999999999999999,", "1234567890123456,", "0.0275746114\n0", "+.5,", "5.\r\n", "-,", ".\n", "1.2.3,", "1e5,", "", "12345678.1234567,", "99999999.9999999\n", "0.12345678\n", "1234567812345678,", "0.00000000000001,", "12345678/,"} {
		f.Add([]byte(s), uint8(0))
	}
	f.Fuzz(func(t *testing.T, data []byte, at uint8) {
		pos := 0
		if len(data) > 0 {
			pos = int(at) % len(data)
		}
		v, end, ok := scanShort(data, pos)
		if !ok || (end < len(data) && data[end] != ',' && data[end] != '\n') {
			return
		}
		field := data[pos:end]
		want, ok2 := shortFloat(field)
		ref, err := strconv.ParseFloat(string(field), 64)
		if !ok2 || math.Float64bits(want) != math.Float64bits(v) || err != nil || math.Float64bits(ref) != math.Float64bits(v) {
			t.Fatalf("%q: scanShort %v, shortFloat %v %v, strconv %v %v", field, v, want, ok2, ref, err)
		}
	})
}

// FuzzScanField: the eight-bytes-at-a-time scan stops where a byte loop
// stops, for any data, start and delimiter.
func FuzzScanField(f *testing.F) {
	for _, s := range []string{"", "a,b", "0.0275746114\n1", "abcdefgh,", "abcdefghijklmnop\n", "\x80\xff,\n", ",,,,,,,,,", "1234567\n"} {
		f.Add([]byte(s), uint8(0), uint8(','))
	}
	f.Fuzz(func(t *testing.T, data []byte, at, delim uint8) {
		i := 0
		if len(data) > 0 {
			i = int(at) % len(data)
		}
		want := i
		for want < len(data) && data[want] != delim && data[want] != '\n' {
			want++
		}
		if got := scanField(data, i, uint64(delim)*lanes); got != want {
			t.Fatalf("%q from %d, delimiter %q: stop at %d, want %d", data, i, delim, got, want)
		}
	})
}
