package dataset

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// readParquet loads a flat Parquet file. Nested and repeated columns are
// not supported: drift and validation work on one value per row and cell.
func readParquet(f *os.File, size int64, path string, o Options) (*Frame, error) {
	pf, err := parquet.OpenFile(f, size)
	if err != nil {
		return nil, fmt.Errorf("read parquet %s: %w", path, err)
	}
	fields := pf.Schema().Fields()
	fr := &Frame{Source: path, Rows: int(pf.NumRows())}
	// Projection: the row reader decodes every column, but the others
	// are neither converted nor kept.
	skip := make([]bool, len(fields))
	if o.Columns != nil {
		for i, fd := range fields {
			skip[i] = !slices.Contains(o.Columns, fd.Name())
		}
	}
	kinds := make([]Type, len(fields))
	scales := make([]float64, len(fields))
	for i, fd := range fields {
		if !fd.Leaf() || fd.Repeated() {
			return nil, fmt.Errorf("read parquet %s: column %q is nested or repeated; only flat columns are supported", path, fd.Name())
		}
		t, scale := parquetType(fd.Type())
		if over, ok := o.Types[fd.Name()]; ok {
			t = over
		}
		kinds[i], scales[i] = t, scale
		c := &Column{Name: fd.Name(), Type: t}
		if skip[i] {
			fr.Columns = append(fr.Columns, c)
			continue
		}
		c.Null = make([]bool, 0, fr.Rows)
		if t == TypeCategorical {
			c.Str = make([]string, 0, fr.Rows)
		} else {
			c.Num = make([]float64, 0, fr.Rows)
		}
		fr.Columns = append(fr.Columns, c)
	}
	r := parquet.NewReader(pf)
	defer r.Close()
	buf := make([]parquet.Row, 256)
	row := 0
	interned := make([]map[string]string, len(fields))
	for {
		n, err := r.ReadRows(buf)
		for _, rw := range buf[:n] {
			row++
			if len(rw) != len(fields) {
				return nil, fmt.Errorf("read parquet %s: row %d: %d values for %d columns", path, row, len(rw), len(fields))
			}
			for _, v := range rw {
				ci := v.Column()
				if ci < 0 || ci >= len(fields) {
					return nil, fmt.Errorf("read parquet %s: row %d: value for unknown column %d", path, row, ci)
				}
				if skip[ci] {
					continue
				}
				if err := appendParquet(fr.Columns[ci], v, scales[ci], &interned[ci]); err != nil {
					return nil, fmt.Errorf("read parquet %s: row %d, column %q: %w", path, row, fields[ci].Name(), err)
				}
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read parquet %s: row %d: %w", path, row+1, err)
		}
	}
	fr.Rows = row
	kept := fr.Columns[:0]
	for i, c := range fr.Columns {
		if !skip[i] {
			kept = append(kept, c)
		}
	}
	fr.Columns = kept
	return fr, nil
}

// parquetType maps a physical/logical type to ours; scale converts
// timestamps to seconds.
func parquetType(t parquet.Type) (Type, float64) {
	if lt := t.LogicalType(); lt != nil {
		switch v := lt.Value.(type) {
		case *format.StringType, *format.EnumType:
			return TypeCategorical, 1
		case *format.DateType:
			return TypeTimestamp, 86400
		case *format.TimestampType:
			switch v.Unit.Value.(type) {
			case *format.MilliSeconds:
				return TypeTimestamp, 1e-3
			case *format.MicroSeconds:
				return TypeTimestamp, 1e-6
			case *format.NanoSeconds:
				return TypeTimestamp, 1e-9
			}
		}
	}
	switch t.Kind() {
	case parquet.Boolean:
		return TypeBoolean, 1
	case parquet.ByteArray, parquet.FixedLenByteArray:
		return TypeCategorical, 1
	}
	return TypeNumeric, 1
}

func appendParquet(c *Column, v parquet.Value, scale float64, interned *map[string]string) error {
	if v.IsNull() {
		c.Null = append(c.Null, true)
		if c.Type == TypeCategorical {
			c.Str = append(c.Str, "")
		} else {
			c.Num = append(c.Num, math.NaN())
		}
		return nil
	}
	c.Null = append(c.Null, false)
	if c.Type == TypeCategorical {
		if *interned == nil {
			*interned = map[string]string{}
		}
		var s string
		switch v.Kind() {
		case parquet.ByteArray, parquet.FixedLenByteArray:
			b := v.ByteArray()
			var ok bool
			if s, ok = (*interned)[string(b)]; !ok {
				s = string(b)
				(*interned)[s] = s
			}
		default:
			s = v.String()
		}
		c.Str = append(c.Str, s)
		return nil
	}
	var x float64
	switch v.Kind() {
	case parquet.Boolean:
		if v.Boolean() {
			x = 1
		}
	case parquet.Int32:
		x = float64(v.Int32())
	case parquet.Int64:
		x = float64(v.Int64())
	case parquet.Float:
		x = float64(v.Float())
	case parquet.Double:
		x = v.Double()
	case parquet.ByteArray, parquet.FixedLenByteArray:
		s := string(v.ByteArray())
		var ok bool
		switch c.Type {
		case TypeBoolean:
			var b bool
			b, ok = ParseBool(s)
			if b {
				x = 1
			}
		case TypeTimestamp:
			x, ok = ParseTime(s)
		default:
			var null bool
			x, null, ok = parseNumber([]byte(s))
			if ok && null {
				c.Null[len(c.Null)-1] = true
			}
		}
		if !ok {
			return fmt.Errorf("%q is not a %s value", s, c.Type)
		}
		c.Num = append(c.Num, x)
		return nil
	default:
		return fmt.Errorf("unsupported parquet value kind %s", v.Kind())
	}
	if math.IsNaN(x) {
		c.Null[len(c.Null)-1] = true
	}
	c.Num = append(c.Num, x*scale)
	return nil
}
