package dataset

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
)

// Type is a column's logical type.
type Type string

const (
	TypeNumeric     Type = "numeric"
	TypeCategorical Type = "categorical"
	TypeBoolean     Type = "boolean"
	TypeTimestamp   Type = "timestamp"
)

// Types lists the known types in a stable order.
var Types = []Type{TypeNumeric, TypeCategorical, TypeBoolean, TypeTimestamp}

// Valid reports whether t is a known type.
func (t Type) Valid() bool {
	switch t {
	case TypeNumeric, TypeCategorical, TypeBoolean, TypeTimestamp:
		return true
	}
	return false
}

// Column is one column of a Frame.
type Column struct {
	Name string
	Type Type
	Num  []float64 // numeric; boolean as 0/1; timestamp as Unix seconds; NaN = missing
	Str  []string  // categorical values ("" where missing)
	Null []bool    // true where the field was empty/missing (all types)
}

// Len is the number of rows in the column.
func (c *Column) Len() int { return len(c.Null) }

// NullCount counts missing values.
func (c *Column) NullCount() int {
	n := 0
	for _, b := range c.Null {
		if b {
			n++
		}
	}
	return n
}

// Values returns the non-missing numeric values (a fresh slice).
func (c *Column) Values() []float64 {
	out := make([]float64, 0, len(c.Num))
	for i, v := range c.Num {
		if !c.Null[i] {
			out = append(out, v)
		}
	}
	return out
}

// Strings returns the non-missing values as text: the category for
// categorical columns, "true"/"false" for booleans, the formatted number
// or time otherwise.
func (c *Column) Strings() []string {
	out := make([]string, 0, len(c.Null))
	for i := range c.Null {
		if !c.Null[i] {
			out = append(out, c.Text(i))
		}
	}
	return out
}

// Text formats row i's value ("" when missing).
func (c *Column) Text(i int) string {
	if c.Null[i] {
		return ""
	}
	switch c.Type {
	case TypeCategorical:
		return c.Str[i]
	case TypeBoolean:
		if c.Num[i] != 0 {
			return "true"
		}
		return "false"
	case TypeTimestamp:
		return formatTime(c.Num[i])
	default:
		return formatFloat(c.Num[i])
	}
}

// Frame is a table held in memory by column.
type Frame struct {
	Source  string
	Columns []*Column
	Rows    int
}

// Col finds a column by name.
func (f *Frame) Col(name string) (*Column, bool) {
	for _, c := range f.Columns {
		if c.Name == name {
			return c, true
		}
	}
	return nil, false
}

// Names lists the column names in order.
func (f *Frame) Names() []string {
	out := make([]string, len(f.Columns))
	for i, c := range f.Columns {
		out[i] = c.Name
	}
	return out
}

// Options tune reading.
type Options struct {
	Delimiter rune            // 0 = ','
	Types     map[string]Type // overrides inference
	MaxBytes  int64           // 0 = no limit
	// Columns, when set, is the projection: only these columns are
	// parsed and returned (in file order); the others are only
	// delimited. A name the file does not have is left for the caller
	// to report, as it would be without the projection.
	Columns []string
}

// ErrTooLarge is returned when the input exceeds Options.MaxBytes.
var ErrTooLarge = errors.New("input larger than the configured limit")

// parquetMagic starts (and ends) every Parquet file.
var parquetMagic = []byte("PAR1")

// Read loads a CSV or Parquet file, chosen by content (the Parquet magic
// "PAR1"), not by extension.
func Read(path string, o Options) (*Frame, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open dataset: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("read %s: is a directory, not a CSV or Parquet file", path)
	}
	if o.MaxBytes > 0 && st.Size() > o.MaxBytes {
		return nil, fmt.Errorf("read %s: %d bytes: %w (%d bytes); use the streaming mode for files this size", path, st.Size(), ErrTooLarge, o.MaxBytes)
	}
	head := make([]byte, 4)
	n, _ := io.ReadFull(f, head)
	if n == 4 && bytes.Equal(head, parquetMagic) {
		return readParquet(f, st.Size(), path, o)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return ReadCSV(f, path, o)
}

// ReadCSV parses CSV from r; name is used in errors. When r is not an
// io.Seeker it is buffered in memory, because a column whose type guess
// proves wrong late in the file needs a second pass.
func ReadCSV(r io.Reader, name string, o Options) (*Frame, error) {
	p, err := newParser(name, o)
	if err != nil {
		return nil, err
	}
	rs, ok := r.(io.ReadSeeker)
	if !ok {
		lr := r
		if o.MaxBytes > 0 {
			lr = io.LimitReader(r, o.MaxBytes+1)
		}
		data, err := io.ReadAll(lr)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		if o.MaxBytes > 0 && int64(len(data)) > o.MaxBytes {
			return nil, fmt.Errorf("read %s: %w (%d bytes); use the streaming mode for inputs this size", name, ErrTooLarge, o.MaxBytes)
		}
		rs = bytes.NewReader(data)
	} else if o.MaxBytes > 0 {
		rs = &limitSeeker{rs: rs, max: o.MaxBytes, name: name}
	}
	return p.readFrame(rs)
}

// limitSeeker fails once more than max bytes were read from one pass.
type limitSeeker struct {
	rs   io.ReadSeeker
	max  int64
	n    int64
	name string
}

func (l *limitSeeker) Read(b []byte) (int, error) {
	n, err := l.rs.Read(b)
	l.n += int64(n)
	if l.n > l.max {
		return n, fmt.Errorf("%w (%d bytes); use the streaming mode for inputs this size", ErrTooLarge, l.max)
	}
	return n, err
}

func (l *limitSeeker) Seek(off int64, whence int) (int64, error) {
	p, err := l.rs.Seek(off, whence)
	l.n = p
	return p, err
}
