package dataset

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
)

// Block is one slice of rows from a stream, typed like a Frame's columns.
type Block struct {
	FirstRow int // 1-based data row of the block's first row
	Rows     int
	Columns  []*Column
}

// StreamOptions tune Stream.
type StreamOptions struct {
	Options
	BlockBytes int // raw bytes per block; default 4 MiB
}

// StreamInfo describes a finished stream.
type StreamInfo struct {
	Names []string
	Types []Type
	Rows  int
}

// ErrStreamType is wrapped when a value later in a stream does not fit
// the type inferred from its first block.
var ErrStreamType = errors.New("value does not fit the column type inferred from the first block")

// Stream reads a CSV file block by block with bounded memory, calling fn
// for each block in file order. Column types are inferred from the first
// block (or taken from o.Types) and then fixed: a later value that does
// not fit is an error naming its row and column, with the advice to
// declare the type. Parquet files are not streamed.
func Stream(path string, o StreamOptions, fn func(*Block) error) (StreamInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return StreamInfo{}, fmt.Errorf("open dataset: %w", err)
	}
	defer f.Close()
	head := make([]byte, 4)
	if n, _ := io.ReadFull(f, head); n == 4 && bytes.Equal(head, parquetMagic) {
		return StreamInfo{}, fmt.Errorf("stream %s: Parquet files are read in memory; streaming supports CSV", path)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return StreamInfo{}, fmt.Errorf("stream %s: %w", path, err)
	}
	p, err := newParser(path, o.Options)
	if err != nil {
		return StreamInfo{}, err
	}
	if o.BlockBytes > 0 {
		p.blockSize = o.BlockBytes
	}
	p.queue = 1 // bounded memory matters more than overlap here
	h, first, br, err := p.start(f)
	if err != nil {
		return StreamInfo{}, err
	}
	modes := p.detect(h, first, nil)
	types := make([]Type, len(h.names))
	// Settle text columns' types on the first block.
	probe := p.parseBlock(first, modes)
	for i, m := range modes {
		if m == modeSkip {
			continue
		}
		if m == modeNum {
			types[i] = TypeNumeric
			continue
		}
		if t, ok := p.types[h.names[i]]; ok {
			types[i] = t
			continue
		}
		distinct := map[string]struct{}{}
		for k, s := range probe.cols[i].str {
			if !probe.cols[i].null[k] {
				distinct[s] = struct{}{}
			}
		}
		types[i] = classify(distinct)
	}
	probe = nil
	info := StreamInfo{}
	for i, m := range modes {
		if m != modeSkip {
			info.Names = append(info.Names, h.names[i])
			info.Types = append(info.Types, types[i])
		}
	}
	rows, lines := 0, h.lines
	err = p.run(first, br, modes, nil, func(c *chunk) error {
		if c.err != nil {
			c.err.Row += rows
			c.err.Line += lines
			if c.errCol >= 0 {
				c.err.Column = h.names[c.errCol]
			}
			return c.err
		}
		b := &Block{FirstRow: rows + 1, Rows: c.rows}
		for i := range c.cols {
			cc := &c.cols[i]
			if modes[i] == modeSkip {
				continue
			}
			if cc.badRow >= 0 {
				return &ParseError{File: path, Row: rows + cc.badRow + 1, Column: h.names[i],
					Err: fmt.Errorf("%w: %q is not numeric (declare the column's type)", ErrStreamType, cc.bad)}
			}
			col := &Column{Name: h.names[i], Type: TypeNumeric, Num: cc.num, Null: cc.null, Str: cc.str}
			if modes[i] == modeStr {
				if err := convertText(col, types[i], rows); err != nil {
					var pe *ParseError
					if errors.As(err, &pe) {
						pe.File = path
						pe.Err = fmt.Errorf("%w: %v", ErrStreamType, pe.Err)
					}
					return err
				}
			}
			b.Columns = append(b.Columns, col)
		}
		rows += c.rows
		lines += c.lines
		return fn(b)
	})
	info.Rows = rows
	return info, err
}
