package dataset

import (
	"bytes"
	"unsafe"
)

// A placer lets a whole-file read parse each block straight into the
// file's columns instead of into the block's own buffers that the
// collector then appends (the append was ~0.07 s of memmove per 10M-row
// column pair, and the block buffers' first touches). The reader knows
// each block's newlines before any worker parses it, and a block cannot
// hold more records than newlines (plus one for a last line without its
// newline): so block k is given the rows [off_k, off_k + bound_k) of the
// columns, off_k the sum of the bounds before it, while they fit the
// columns' capacity. A block with fewer records (blank lines, quoted
// newlines) leaves a gap that the collector closes by moving the later
// blocks down as it commits them, in order; a block past the capacity and
// every one after it take the old way (own buffers, appended, the
// columns grown by append).
type placer struct {
	base []chunkCol // every column at full capacity; never resliced
	cap  int
}

// newPlacer sizes the columns from the first block's bytes per newline
// (plus 5 %, as newAccumulator), or returns nil when the first block has
// no newline to go by.
func newPlacer(modes []mode, first []byte, size int64) *placer {
	lines := bytes.Count(first, []byte{'\n'})
	if lines == 0 || len(first) == 0 {
		return nil
	}
	est := int(float64(size)/(float64(len(first))/float64(lines))*1.05) + 1024
	pl := &placer{base: make([]chunkCol, len(modes)), cap: est}
	for i, m := range modes {
		cc := &pl.base[i]
		switch m {
		case modeNum:
			cc.num = make([]float64, est)
			cc.null = make([]bool, est)
		case modeStr:
			cc.str = make([]string, est)
			cc.null = make([]bool, est)
		}
	}
	return pl
}

// window is column i's rows [off, off+n) as an empty slice of capacity
// n: the parser's appends fill it in place.
func (pl *placer) window(i, off, n int) chunkCol {
	b := &pl.base[i]
	w := chunkCol{badRow: -1}
	if b.null != nil {
		w.null = b.null[off : off : off+n]
	}
	if b.num != nil {
		w.num = b.num[off : off : off+n]
	}
	if b.str != nil {
		w.str = b.str[off : off : off+n]
	}
	return w
}

// accumulator is the columns as committed so far: empty, capacity cap.
func (pl *placer) accumulator() *chunk {
	acc := &chunk{cols: make([]chunkCol, len(pl.base))}
	for i, b := range pl.base {
		acc.cols[i] = chunkCol{num: b.num[:0], null: b.null[:0], str: b.str[:0]}
	}
	return acc
}

// commit appends a chunk parsed in its window at off: its rows are
// already in the columns, moved down when earlier blocks left a gap.
// It reports false if a column of c is not in its window (the parser
// outgrew it, which the bound rules out): the caller must then not trust
// the placement.
func (acc *chunk) commit(c *chunk, off int) bool {
	for i := range c.cols {
		cc, ac := &c.cols[i], &acc.cols[i]
		if !inWindow(cc.null, ac.null, off) || !inWindow(cc.num, ac.num, off) || !inWindow(cc.str, ac.str, off) {
			return false
		}
	}
	for i := range c.cols {
		cc, ac := &c.cols[i], &acc.cols[i]
		ac.null = slide(ac.null, off, len(cc.null))
		ac.num = slide(ac.num, off, len(cc.num))
		ac.str = slide(ac.str, off, len(cc.str))
		*cc = chunkCol{}
	}
	acc.rows += c.rows
	return true
}

// inWindow reports whether w is a slice of col's array starting at off.
func inWindow[T any](w, col []T, off int) bool {
	if len(w) == 0 {
		return true
	}
	return off+len(w) <= cap(col) && unsafe.SliceData(w) == &col[:off+1][off]
}

// slide extends col by the n values at off, moving them down to its end
// first when there is a gap.
func slide[T any](col []T, off, n int) []T {
	if n == 0 {
		return col
	}
	l := len(col)
	col = col[:l+n]
	if off != l {
		copy(col[l:], col[:off+n][off:])
	}
	return col
}
