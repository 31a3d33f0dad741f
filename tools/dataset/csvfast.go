package dataset

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"sync"
	"unicode/utf8"
)

// parseBlockPlain is parseBlock for the common block: no quote anywhere
// and valid UTF-8. Fields are then exactly the bytes between delimiters,
// so it scans them in one loop with no per-field call and no copy, and
// parses numbers in place. Whatever it cannot take as it comes (a quote,
// invalid UTF-8, a record with the wrong number of fields) it hands back
// to parseBlock, which then reports exactly what it always reported: the
// fast path changes speed, never a value or an error.
func (p *parser) parseBlockPlain(data []byte, modes []mode, pl *placer, off, n int) (*chunk, bool) {
	if p.noFast || bytes.IndexByte(data, '"') >= 0 || !utf8.Valid(data) {
		return nil, false
	}
	ncol := len(modes)
	est := bytes.Count(data, []byte{'\n'}) + 1
	c := &chunk{cols: make([]chunkCol, ncol), lines: est - 1, errCol: -1, off: -1}
	if pl != nil {
		c.off = off
	}
	interns := make([]map[string]string, ncol)
	for i, m := range modes {
		cc := &c.cols[i]
		if pl != nil {
			*cc = pl.window(i, off, n)
			if m == modeStr {
				interns[i] = map[string]string{}
			}
			continue
		}
		cc.badRow = -1
		switch m {
		case modeNum:
			cc.null = getBools(est)
			cc.num = getFloats(est)
		case modeStr:
			cc.null = getBools(est)
			cc.str = make([]string, 0, est)
			interns[i] = map[string]string{}
		}
	}
	// stop marks the bytes that end a field; dm is the delimiter in
	// every byte, for scanField.
	var stop [256]bool
	stop[p.delim], stop['\n'] = true, true
	dm := uint64(p.delim) * lanes
	// A delimiter a number can hold (a digit, '.', a sign) would be read
	// as part of it: such files take the scan-then-parse way.
	fused := !(p.delim-'0' < 10 || p.delim == '.' || p.delim == '-' || p.delim == '+')
	pos, row := 0, 0
	for pos < len(data) {
		if data[pos] == '\n' {
			pos++
			continue
		}
		if data[pos] == '\r' && pos+1 < len(data) && data[pos+1] == '\n' {
			pos += 2
			continue
		}
		col := 0
		for {
			if fused && col < ncol && modes[col] == modeNum {
				// The usual number: parsed as it is scanned, one pass.
				if v, end, ok := scanShort(data, pos); ok && (end == len(data) || stop[data[end]]) {
					cc := &c.cols[col]
					cc.num = append(cc.num, v)
					cc.null = append(cc.null, false)
					col++
					pos = end + 1
					if end == len(data) || data[end] == '\n' {
						break
					}
					continue
				}
			}
			i := scanField(data, pos, dm)
			f := data[pos:i]
			atEnd := i == len(data) || data[i] == '\n'
			if atEnd && len(f) > 0 && f[len(f)-1] == '\r' {
				f = f[:len(f)-1]
			}
			if col >= ncol {
				return nil, false // too many fields: parseBlock says so
			}
			cc := &c.cols[col]
			switch modes[col] {
			case modeNum:
				v, null, ok := parseNumber(f)
				if !ok && cc.badRow < 0 {
					cc.badRow, cc.bad = row, string(f)
				}
				cc.num = append(cc.num, v)
				cc.null = append(cc.null, null)
			case modeStr:
				if len(f) == 0 {
					cc.str = append(cc.str, "")
					cc.null = append(cc.null, true)
					break
				}
				s, ok := interns[col][string(f)]
				if !ok {
					s = string(f)
					interns[col][s] = s
				}
				cc.str = append(cc.str, s)
				cc.null = append(cc.null, false)
			}
			col++
			pos = i + 1 // past the delimiter or the newline
			if atEnd {
				break
			}
		}
		if col != ncol {
			return nil, false // too few fields: parseBlock says so
		}
		row++
	}
	c.rows = row
	return c, true
}

// project marks the columns outside Options.Columns as skipped.
func (p *parser) project(h header, modes []mode) []mode {
	if p.keep == nil {
		return modes
	}
	for i, name := range h.names {
		if !p.keep[name] {
			modes[i] = modeSkip
		}
	}
	return modes
}

// shortFloat is fastFloat for the usual field: optional sign, digits,
// optionally a point and more digits, at most 15 digits in all. Fifteen
// digits are below 10^15 < 2^53, so no overflow check is needed per
// digit; the mantissa and exponent, and so the one division, are those
// clingerFloat computes, hence the same float64. Anything else reports
// ok=false.
func shortFloat(b []byte) (float64, bool) {
	i := 0
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		i = 1
	}
	var mant uint64
	start := i
	for i < len(b) && b[i]-'0' < 10 {
		mant = mant*10 + uint64(b[i]-'0')
		i++
	}
	digits := i - start
	frac := 0
	if i < len(b) && b[i] == '.' {
		i++
		fs := i
		for i < len(b) && b[i]-'0' < 10 {
			mant = mant*10 + uint64(b[i]-'0')
			i++
		}
		frac = i - fs
		digits += frac
	}
	if i != len(b) || digits == 0 || digits > 15 {
		return 0, false
	}
	f := float64(mant)
	if frac > 0 {
		f /= pow10[frac]
	}
	if neg {
		f = -f
	}
	return f, true
}

const lanes = 0x0101010101010101 // 1 in every byte

// scanField returns the offset of the first delimiter or newline at or
// after i (len(data) if none), eight bytes at a time: a skipped column or
// a text field costs one step per eight bytes instead of one per byte.
// dm is the delimiter repeated in every byte. A byte equal to the
// delimiter or '\n' xors to zero; (v - lanes) &^ v & 0x80... flags zero
// bytes, exactly for the lowest one (a borrow only reaches bytes above
// it), so the trailing zero count finds the first stop.
func scanField(data []byte, i int, dm uint64) int {
	for i+8 <= len(data) {
		x := binary.LittleEndian.Uint64(data[i:])
		a, b := x^dm, x^('\n'*lanes)
		if m := ((a - lanes) &^ a) | ((b - lanes) &^ b); m&(0x80*lanes) != 0 {
			return i + bits.TrailingZeros64(m&(0x80*lanes))/8
		}
		i += 8
	}
	d := byte(dm)
	for i < len(data) && data[i] != d && data[i] != '\n' {
		i++
	}
	return i
}

// scanShort is shortFloat on the field starting at data[pos], found as it
// is parsed: it stops at the first byte that cannot continue the number
// and returns its offset. When that byte ends the field (a delimiter, a
// newline, the end of data), data[pos:end] is the field and v is what
// shortFloat, and so parseNumber, gives for it; anything else (a '\r',
// an exponent, 16 digits, no digit) is ok=false and the field is scanned
// and parsed the general way.
func scanShort(data []byte, pos int) (v float64, end int, ok bool) {
	i := pos
	neg := false
	if i < len(data) && (data[i] == '-' || data[i] == '+') {
		neg = data[i] == '-'
		i++
	}
	var mant uint64
	start := i
	for i < len(data) && data[i]-'0' < 10 {
		mant = mant*10 + uint64(data[i]-'0')
		i++
	}
	digits := i - start
	frac := 0
	if i < len(data) && data[i] == '.' {
		i++
		fs := i
		for i < len(data) && data[i]-'0' < 10 {
			mant = mant*10 + uint64(data[i]-'0')
			i++
		}
		frac = i - fs
		digits += frac
	}
	if digits == 0 || digits > 15 {
		return 0, i, false
	}
	f := float64(mant)
	if frac > 0 {
		f /= pow10[frac]
	}
	if neg {
		f = -f
	}
	return f, i, true
}

// Block buffers are recycled once readFrame has copied them into its
// accumulator: a whole-file read then allocates its columns about once,
// instead of once per block and again to concatenate them, which is most
// of what the garbage collector had to do.
var floatPool, boolPool sync.Pool

func getFloats(n int) []float64 {
	if b, ok := floatPool.Get().(*[]float64); ok && cap(*b) >= n {
		return (*b)[:0]
	}
	return make([]float64, 0, n)
}

func getBools(n int) []bool {
	if b, ok := boolPool.Get().(*[]bool); ok && cap(*b) >= n {
		return (*b)[:0]
	}
	return make([]bool, 0, n)
}

// newAccumulator sizes the whole file's columns from its first chunk's
// bytes per row (plus 5 %); append grows them if the guess is short.
func newAccumulator(modes []mode, first *chunk, size int64) *chunk {
	est := first.rows + 1
	if first.rows > 0 && first.bytes > 0 && size > int64(first.bytes) {
		est = int(float64(size)/(float64(first.bytes)/float64(first.rows))*1.05) + 1024
	}
	acc := &chunk{cols: make([]chunkCol, len(modes))}
	for i, m := range modes {
		cc := &acc.cols[i]
		switch m {
		case modeNum:
			cc.num = make([]float64, 0, est)
			cc.null = make([]bool, 0, est)
		case modeStr:
			cc.str = make([]string, 0, est)
			cc.null = make([]bool, 0, est)
		}
	}
	return acc
}

// add appends c's columns and recycles c's buffers.
func (acc *chunk) add(c *chunk) {
	for i := range c.cols {
		cc, ac := &c.cols[i], &acc.cols[i]
		ac.num = append(ac.num, cc.num...)
		ac.null = append(ac.null, cc.null...)
		ac.str = append(ac.str, cc.str...)
		if cap(cc.num) > 0 {
			b := cc.num[:0]
			floatPool.Put(&b)
		}
		if cap(cc.null) > 0 {
			b := cc.null[:0]
			boolPool.Put(&b)
		}
		*cc = chunkCol{}
	}
	acc.rows += c.rows
}
