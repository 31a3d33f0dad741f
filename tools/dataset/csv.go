package dataset

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"
	"unsafe"
)

// ParseError locates a problem in a CSV file.
type ParseError struct {
	File   string
	Row    int    // 1-based data row (the header is row 0); 0 when unknown
	Line   int    // 1-based line where the record starts; 0 when unknown
	Column string // column name, "" when the problem is the whole record
	Err    error
}

func (e *ParseError) Error() string {
	loc := e.File
	switch {
	case e.Row > 0 && e.Line > 0 && e.Line != e.Row+1:
		loc += fmt.Sprintf(": row %d (line %d)", e.Row, e.Line)
	case e.Row > 0:
		loc += fmt.Sprintf(": row %d", e.Row)
	case e.Line > 0:
		loc += fmt.Sprintf(": line %d", e.Line)
	}
	if e.Column != "" {
		loc += fmt.Sprintf(", column %q", e.Column)
	}
	return loc + ": " + e.Err.Error()
}

func (e *ParseError) Unwrap() error { return e.Err }

// Errors the CSV parser returns inside a ParseError.
var (
	ErrEmpty         = errors.New("the file is empty: no header row")
	ErrFieldCount    = errors.New("wrong number of fields")
	ErrBareQuote     = errors.New(`bare " in a non-quoted field (quote the whole field and double the quote: "a ""b"" c")`)
	ErrQuote         = errors.New(`extraneous text after a closing quote`)
	ErrUnterminated  = errors.New(`quoted field is never closed`)
	ErrInvalidUTF8   = errors.New("invalid UTF-8")
	ErrNotNumber     = errors.New("not a number")
	ErrDuplicateName = errors.New("duplicate column name")
	ErrRecordTooLong = errors.New("record longer than 64 MiB (an unterminated quote?)")
)

const (
	defaultBlock = 4 << 20
	maxRecord    = 64 << 20
)

type mode uint8

const (
	modeNum mode = iota
	modeStr
	modeSkip // not in Options.Columns: delimited, never parsed or stored
)

type parser struct {
	name      string
	delim     byte
	types     map[string]Type
	blockSize int
	workers   int
	queue     int             // blocks waiting on each side of the workers
	noFast    bool            // tests: always the general record parser
	noPlace   bool            // tests: every block into its own buffers (no placer)
	fellBack  bool            // tests: a placed block was not in its window, read again unplaced
	keep      map[string]bool // Options.Columns; nil = every column
}

func newParser(name string, o Options) (*parser, error) {
	d := o.Delimiter
	if d == 0 {
		d = ','
	}
	if d >= utf8.RuneSelf || d == '"' || d == '\n' || d == '\r' {
		return nil, fmt.Errorf("read %s: delimiter %q not supported: use a single ASCII character other than quote and newline", name, d)
	}
	for col, t := range o.Types {
		if !t.Valid() {
			return nil, fmt.Errorf("read %s: column %q: unknown type %q (numeric, categorical, boolean, timestamp)", name, col, t)
		}
	}
	p := &parser{name: name, delim: byte(d), types: o.Types, blockSize: defaultBlock, workers: runtime.GOMAXPROCS(0), queue: runtime.GOMAXPROCS(0)}
	if o.Columns != nil {
		p.keep = map[string]bool{}
		for _, c := range o.Columns {
			p.keep[c] = true
		}
	}
	return p, nil
}

// chunk is one block's parsed columns.
type chunk struct {
	off         int // rows of a placer's columns it was parsed into; -1: its own buffers
	rows, lines int
	bytes       int // length of the block's text
	cols        []chunkCol
	err         *ParseError // local row/line; made global by the collector
	errCol      int
}

type chunkCol struct {
	num    []float64
	null   []bool
	str    []string
	badRow int // first local row whose text did not parse as a number; -1 if none
	bad    string
}

// header is the parsed header record.
type header struct {
	names []string
	lines int // newlines the header record spans
}

// parseHeader splits the first record off data.
func (p *parser) parseHeader(data []byte) (header, int, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	off := 0
	// Skip leading blank lines, as for data rows.
	h := header{}
	for off < len(data) && (data[off] == '\n' || data[off] == '\r') {
		if data[off] == '\n' {
			h.lines++
		}
		off++
	}
	if off >= len(data) {
		return h, 0, &ParseError{File: p.name, Err: ErrEmpty}
	}
	var fields []string
	var scratch []byte
	n, err := p.record(data[off:], func(i int, f []byte) {
		fields = append(fields, string(f))
	}, &scratch)
	if err != nil {
		return h, 0, &ParseError{File: p.name, Line: h.lines + 1, Err: fmt.Errorf("header: %w", err)}
	}
	if !utf8.Valid(data[off : off+n]) {
		return h, 0, &ParseError{File: p.name, Line: h.lines + 1, Err: fmt.Errorf("header: %w", ErrInvalidUTF8)}
	}
	h.lines += bytes.Count(data[off:off+n], []byte{'\n'})
	seen := map[string]int{}
	for i, f := range fields {
		if f == "" {
			return h, 0, &ParseError{File: p.name, Line: h.lines, Err: fmt.Errorf("header: column %d has an empty name", i+1)}
		}
		if j, ok := seen[f]; ok {
			return h, 0, &ParseError{File: p.name, Line: h.lines, Column: f, Err: fmt.Errorf("header: %w (columns %d and %d)", ErrDuplicateName, j+1, i+1)}
		}
		seen[f] = i
	}
	if len(fields) == 1 && p.delim == ',' {
		for _, d := range []byte{';', '\t', '|'} {
			if bytes.IndexByte([]byte(fields[0]), d) >= 0 {
				return h, 0, &ParseError{File: p.name, Line: h.lines, Err: fmt.Errorf("header has one column %q: is the delimiter %q? (set the delimiter option)", fields[0], d)}
			}
		}
	}
	h.names = fields
	return h, off + n, nil
}

// record parses one record at the start of data, calling fn for each field
// (the slice is only valid during the call), and returns the bytes consumed
// including the line end.
func (p *parser) record(data []byte, fn func(i int, f []byte), scratch *[]byte) (int, error) {
	pos, col := 0, 0
	d := p.delim
	for {
		var field []byte
		if pos < len(data) && data[pos] == '"' {
			i := pos + 1
			*scratch = (*scratch)[:0]
			escaped := false
			for {
				j := bytes.IndexByte(data[i:], '"')
				if j < 0 {
					return 0, ErrUnterminated
				}
				j += i
				if j+1 < len(data) && data[j+1] == '"' {
					*scratch = append(*scratch, data[i:j+1]...)
					i = j + 2
					escaped = true
					continue
				}
				if escaped {
					*scratch = append(*scratch, data[i:j]...)
					field = *scratch
				} else {
					field = data[i:j]
				}
				pos = j + 1
				break
			}
			if pos < len(data) && data[pos] == '\r' && pos+1 < len(data) && data[pos+1] == '\n' {
				pos++
			}
			if pos < len(data) && data[pos] != d && data[pos] != '\n' {
				return 0, ErrQuote
			}
		} else {
			i := pos
			for i < len(data) {
				c := data[i]
				if c == d || c == '\n' {
					break
				}
				if c == '"' {
					return 0, ErrBareQuote
				}
				i++
			}
			field = data[pos:i]
			if (i == len(data) || data[i] == '\n') && len(field) > 0 && field[len(field)-1] == '\r' {
				field = field[:len(field)-1]
			}
			pos = i
		}
		fn(col, field)
		col++
		if pos < len(data) && data[pos] == d {
			pos++
			continue
		}
		if pos < len(data) { // '\n'
			pos++
		}
		return pos, nil
	}
}

var missingTokens = map[string]bool{"NA": true, "N/A": true, "NaN": true, "nan": true, "null": true, "NULL": true, "None": true, "none": true}

// parseNumber parses a numeric field: ok=false when it is text. It reads
// what pandas.read_csv reads as float64: spaces around the number, inf,
// -inf, Infinity in any case (kept as ±Inf, not turned missing), and also
// a literal too large for float64 (1e400), which becomes ±Inf as numpy's
// conversion gives, where pandas would leave the column text.
func parseNumber(f []byte) (v float64, null, ok bool) {
	if len(f) == 0 {
		return math.NaN(), true, true
	}
	if v, ok := fastFloat(f); ok {
		return v, false, true
	}
	if f[0] == ' ' || f[0] == '\t' || f[len(f)-1] == ' ' || f[len(f)-1] == '\t' {
		f = bytes.Trim(f, " \t")
		if len(f) == 0 {
			return math.NaN(), true, true // a blank field is empty
		}
		if v, ok := fastFloat(f); ok {
			return v, false, true
		}
	}
	s := unsafe.String(&f[0], len(f))
	v, err := strconv.ParseFloat(s, 64)
	if err == nil && !math.IsNaN(v) {
		return v, false, true
	}
	if ne, isNum := err.(*strconv.NumError); isNum && ne.Err == strconv.ErrRange && math.IsInf(v, 0) {
		return v, false, true // overflow: ±Inf, as strtod
	}
	if missingTokens[s] {
		return math.NaN(), true, true
	}
	return math.NaN(), true, false
}

var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// fastFloat parses plain decimals ("-12.345") by Clinger's fast path:
// when the digits fit in 53 bits and at most 22 decimals follow the
// point, one correctly rounded division gives exactly what
// strconv.ParseFloat gives. Anything else (exponents, long mantissas,
// hex, inf) reports ok=false and goes to strconv.
func fastFloat(b []byte) (float64, bool) {
	if v, ok := shortFloat(b); ok {
		return v, true
	}
	return clingerFloat(b)
}

// clingerFloat is fastFloat's general loop.
func clingerFloat(b []byte) (float64, bool) {
	i := 0
	neg := false
	if b[0] == '-' || b[0] == '+' {
		neg = b[0] == '-'
		i++
	}
	var mant uint64
	exp := 0
	sawDot, sawDigit := false, false
	for ; i < len(b); i++ {
		c := b[i]
		switch {
		case c >= '0' && c <= '9':
			if mant > (1<<53)/10 {
				return 0, false
			}
			mant = mant*10 + uint64(c-'0')
			sawDigit = true
			if sawDot {
				exp--
			}
		case c == '.' && !sawDot:
			sawDot = true
		default:
			return 0, false
		}
	}
	if !sawDigit || mant > 1<<53 || -exp >= len(pow10) {
		return 0, false
	}
	f := float64(mant)
	if exp < 0 {
		f /= pow10[-exp]
	}
	if neg {
		f = -f
	}
	return f, true
}

// parseBlock parses the records of data (a whole number of records).
func (p *parser) parseBlock(data []byte, modes []mode) *chunk {
	return p.parseBlockAt(data, modes, nil, -1, 0)
}

// parseBlockAt is parseBlock into rows [off, off+n) of pl's columns when
// off >= 0 (c.off says so), else into buffers of its own.
func (p *parser) parseBlockAt(data []byte, modes []mode, pl *placer, off, n int) *chunk {
	if off < 0 {
		pl = nil
	}
	if c, ok := p.parseBlockPlain(data, modes, pl, off, n); ok {
		c.bytes = len(data)
		return c
	}
	return p.parseBlockGeneral(data, modes, pl, off, n)
}

// parseBlockGeneral is the record-by-record parser, which takes every
// block (quotes, invalid UTF-8, wrong field counts) and says what is
// wrong where.
func (p *parser) parseBlockGeneral(data []byte, modes []mode, pl *placer, off, n int) *chunk {
	ncol := len(modes)
	est := bytes.Count(data, []byte{'\n'}) + 1
	c := &chunk{cols: make([]chunkCol, ncol), lines: est - 1, errCol: -1, bytes: len(data), off: -1}
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
		cc.null = getBools(est)
		cc.badRow = -1
		switch m {
		case modeNum:
			cc.num = getFloats(est)
		case modeStr:
			cc.str = make([]string, 0, est)
			interns[i] = map[string]string{}
		case modeSkip:
			cc.null = nil
		}
	}
	checkUTF8 := !utf8.Valid(data)
	var scratch []byte
	pos, line, row := 0, 0, 0
	var ferr error
	fieldErrCol := -1
	store := func(i int, f []byte) {
		if i >= ncol || ferr != nil {
			return
		}
		if checkUTF8 && !utf8.Valid(f) {
			ferr, fieldErrCol = ErrInvalidUTF8, i
			return
		}
		cc := &c.cols[i]
		if modes[i] == modeSkip {
			return
		}
		if modes[i] == modeNum {
			v, null, ok := parseNumber(f)
			if !ok && cc.badRow < 0 {
				cc.badRow, cc.bad = row, string(f)
			}
			cc.num = append(cc.num, v)
			cc.null = append(cc.null, null)
			return
		}
		if len(f) == 0 {
			cc.str = append(cc.str, "")
			cc.null = append(cc.null, true)
			return
		}
		s, ok := interns[i][string(f)]
		if !ok {
			s = string(f)
			interns[i][s] = s
		}
		cc.str = append(cc.str, s)
		cc.null = append(cc.null, false)
	}
	for pos < len(data) {
		if data[pos] == '\n' {
			pos++
			line++
			continue
		}
		if data[pos] == '\r' && pos+1 < len(data) && data[pos+1] == '\n' {
			pos += 2
			line++
			continue
		}
		nf := 0
		n, err := p.record(data[pos:], func(i int, f []byte) { nf = i + 1; store(i, f) }, &scratch)
		if err == nil && ferr != nil {
			err = ferr
		}
		if err == nil && nf != ncol {
			err = fmt.Errorf("%w: %d fields, the header has %d (check the delimiter and quoting)", ErrFieldCount, nf, ncol)
		}
		if err != nil {
			c.err = &ParseError{File: p.name, Row: row + 1, Line: line + 1, Err: err}
			c.errCol = fieldErrCol
			c.rows = row
			return c
		}
		line += bytes.Count(data[pos:pos+n], []byte{'\n'})
		pos += n
		row++
	}
	c.rows = row
	return c
}

// lastRecordEnd returns the offset just past the last line end that is
// outside quotes, or 0 when data holds no complete record.
func lastRecordEnd(data []byte) int {
	if bytes.IndexByte(data, '"') < 0 {
		return bytes.LastIndexByte(data, '\n') + 1
	}
	inq, last := false, -1
	for i, c := range data {
		if c == '"' {
			inq = !inq
		} else if c == '\n' && !inq {
			last = i
		}
	}
	return last + 1
}

// blockReader cuts r into record-aligned blocks.
type blockReader struct {
	r       io.Reader
	size    int
	pending []byte
	eof     bool
	lines   int // newlines in blocks handed out so far
	last    int // newlines in the block next returned last
	// free holds parsed blocks' buffers for reuse (recycle): a read then
	// allocates a few blocks, not one per 4 MiB of the file, each of
	// which the kernel would fault in afresh (a 10M-row file was 70k page
	// faults). Only this reader takes from it, and a block it hands out
	// is never referred to again by the reader: the partial record after
	// the last newline is copied to carry, not kept as a slice of the
	// block.
	free  chan []byte
	carry []byte
}

// recycle gives back a block's buffer once nothing refers to its bytes
// (parsed chunks copy every string they keep).
func (b *blockReader) recycle(blk []byte) {
	if b.free == nil {
		return
	}
	select {
	case b.free <- blk[:0]:
	default: // enough buffers already
	}
}

// alloc returns a buffer of capacity at least n, reused when one is free.
func (b *blockReader) alloc(n int) []byte {
	for {
		select {
		case buf := <-b.free:
			if cap(buf) >= n {
				return buf[:0]
			}
			continue // too small (a record longer than a block): drop it
		default:
			return make([]byte, 0, n)
		}
	}
}

// next returns the next block, or nil at the end.
func (b *blockReader) next() ([]byte, error) {
	for {
		if b.eof {
			if len(b.pending) == 0 {
				return nil, nil
			}
			blk := b.pending
			b.pending = nil
			b.last = bytes.Count(blk, []byte{'\n'})
			return blk, nil
		}
		capacity := max(b.size, 2*len(b.pending))
		if len(b.pending) > maxRecord {
			return nil, &ParseError{Line: b.lines + 1, Err: ErrRecordTooLong}
		}
		blk := append(b.alloc(capacity), b.pending...)
		n, err := io.ReadFull(b.r, blk[len(b.pending):capacity])
		blk = blk[:len(b.pending)+n]
		switch {
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			b.eof = true
		case err != nil:
			return nil, err
		}
		if b.eof {
			b.pending = blk
			continue
		}
		end := lastRecordEnd(blk)
		if end == 0 {
			b.pending = blk
			continue
		}
		b.carry = append(b.carry[:0], blk[end:]...)
		b.pending = b.carry
		b.last = bytes.Count(blk[:end], []byte{'\n'})
		b.lines += b.last
		return blk[:end], nil
	}
}

// run parses every block of br in parallel with fixed modes, handing
// each parsed chunk to emit in file order. firstRow/firstLine are the
// row and line numbers before the first block.
func (p *parser) run(first []byte, br *blockReader, modes []mode, pl *placer, emit func(*chunk) error) error {
	type job struct {
		seq     int
		data    []byte
		recycle bool // a block of br's, not first
		off, n  int  // the block's rows in pl's columns; off -1: its own buffers
	}
	// place gives blocks their rows in order while they fit (see placer).
	next, placing := 0, pl != nil
	place := func(j *job, lines int) {
		j.off = -1
		if !placing {
			return
		}
		n := lines
		if len(j.data) > 0 && j.data[len(j.data)-1] != '\n' {
			n++
		}
		if next+n > pl.cap {
			placing = false
			return
		}
		j.off, j.n = next, n
		next += n
	}
	type result struct {
		seq int
		c   *chunk
	}
	jobs := make(chan job, p.queue)
	results := make(chan result, p.queue)
	stop := make(chan struct{})
	var readErr error
	go func() {
		defer close(jobs)
		seq := 0
		if len(first) > 0 {
			j := job{seq: seq, data: first}
			place(&j, bytes.Count(first, []byte{'\n'}))
			select {
			case jobs <- j:
			case <-stop:
				return
			}
			seq++
		}
		for {
			blk, err := br.next()
			if err != nil {
				readErr = err
				return
			}
			if blk == nil {
				return
			}
			j := job{seq: seq, data: blk, recycle: true}
			place(&j, br.last)
			select {
			case jobs <- j:
			case <-stop:
				return
			}
			seq++
		}
	}()
	var wg sync.WaitGroup
	for range p.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				c := p.parseBlockAt(j.data, modes, pl, j.off, j.n)
				if j.recycle {
					br.recycle(j.data)
				}
				results <- result{j.seq, c}
			}
		}()
	}
	go func() { wg.Wait(); close(results) }()
	// Re-order: results come back in any order; emit in file order.
	waiting := map[int]*chunk{}
	nextSeq := 0
	var emitErr error
	stopped := false
	for r := range results {
		waiting[r.seq] = r.c
		for {
			c, ok := waiting[nextSeq]
			if !ok {
				break
			}
			delete(waiting, nextSeq)
			nextSeq++
			if emitErr == nil {
				emitErr = emit(c)
			}
			if emitErr != nil && !stopped {
				stopped = true
				close(stop)
			}
		}
	}
	if emitErr != nil {
		return emitErr
	}
	if readErr != nil {
		var pe *ParseError
		if errors.As(readErr, &pe) {
			pe.File = p.name
			return pe
		}
		return fmt.Errorf("read %s: %w", p.name, readErr)
	}
	return nil
}

// detect guesses modes from the first block: numeric when every value
// in it parses as a number. It only looks at the text, storing nothing,
// so that a big first block costs no memory.
func (p *parser) detect(h header, first []byte, forced map[int]mode) []mode {
	n := len(h.names)
	text := make([]bool, n)
	var scratch []byte
	for pos := 0; pos < len(first); {
		if first[pos] == '\n' || first[pos] == '\r' {
			pos++
			continue
		}
		used, err := p.record(first[pos:], func(i int, f []byte) {
			if i < n && !text[i] && len(f) > 0 {
				if _, _, ok := parseNumber(f); !ok {
					text[i] = true
				}
			}
		}, &scratch)
		if err != nil || used == 0 {
			break // the real parse reports it with its row
		}
		pos += used
	}
	modes := make([]mode, n)
	for i := range modes {
		if m, ok := forced[i]; ok {
			modes[i] = m
			continue
		}
		if t, ok := p.types[h.names[i]]; ok {
			if t == TypeNumeric {
				modes[i] = modeNum
			} else {
				modes[i] = modeStr
			}
			continue
		}
		if text[i] {
			modes[i] = modeStr
		}
	}
	return p.project(h, modes)
}

// start reads the first block and the header.
func (p *parser) start(r io.Reader) (header, []byte, *blockReader, error) {
	br := &blockReader{r: r, size: p.blockSize, free: make(chan []byte, p.queue+p.workers+2)}
	blk, err := br.next()
	if err != nil {
		var pe *ParseError
		if errors.As(err, &pe) {
			pe.File = p.name
			return header{}, nil, nil, pe
		}
		return header{}, nil, nil, fmt.Errorf("read %s: %w", p.name, err)
	}
	h, off, err := p.parseHeader(blk)
	if err != nil {
		return h, nil, nil, err
	}
	if bytes.HasPrefix(blk, []byte("\xef\xbb\xbf")) {
		off += 3
	}
	return h, blk[off:], br, nil
}

// readFrame parses the whole input into a Frame.
func (p *parser) readFrame(rs io.ReadSeeker) (*Frame, error) {
	forced := map[int]mode{}
	noPlace := p.noPlace
	size, err := rs.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p.name, err)
	}
	if _, err := rs.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("read %s: %w", p.name, err)
	}
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			if _, err := rs.Seek(0, io.SeekStart); err != nil {
				return nil, fmt.Errorf("read %s: rewind for a second pass: %w", p.name, err)
			}
		}
		h, first, br, err := p.start(rs)
		if err != nil {
			return nil, err
		}
		modes := p.detect(h, first, forced)
		var chunks []*chunk
		var acc *chunk // every chunk so far, concatenated as they arrive
		var pl *placer
		if !noPlace {
			if pl = newPlacer(modes, first, size); pl != nil {
				acc = pl.accumulator()
			}
		}
		rows, lines := 0, h.lines
		retry := false
		err = p.run(first, br, modes, pl, func(c *chunk) error {
			if c.err != nil {
				c.err.Row += rows
				c.err.Line += lines
				if c.errCol >= 0 {
					c.err.Column = h.names[c.errCol]
				}
				return c.err
			}
			for i := range c.cols {
				cc := &c.cols[i]
				if cc.badRow < 0 {
					continue
				}
				if _, over := p.types[h.names[i]]; over {
					return &ParseError{File: p.name, Row: rows + cc.badRow + 1, Column: h.names[i],
						Err: fmt.Errorf("%w: %q (the column is declared numeric)", ErrNotNumber, cc.bad)}
				}
				forced[i] = modeStr
				retry = true
			}
			rows += c.rows
			lines += c.lines
			if !retry {
				switch {
				case c.off >= 0:
					if !acc.commit(c, c.off) {
						// Cannot happen (a block never holds more records
						// than its bound); should it, read again the old way.
						noPlace, retry, p.fellBack = true, true, true
					}
				case acc == nil:
					acc = newAccumulator(modes, c, size)
					acc.add(c)
				default:
					acc.add(c)
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if retry {
			continue
		}
		if acc != nil {
			chunks = []*chunk{acc}
		}
		return p.assemble(h, modes, chunks, rows)
	}
}

// assemble concatenates chunks into columns and settles their types,
// a column per worker.
func (p *parser) assemble(h header, modes []mode, chunks []*chunk, rows int) (*Frame, error) {
	f := &Frame{Source: p.name, Rows: rows, Columns: make([]*Column, len(h.names))}
	defer func() { f.Columns = slices.DeleteFunc(f.Columns, func(c *Column) bool { return c == nil }) }()
	errs := make([]error, len(h.names))
	next := make(chan int)
	var wg sync.WaitGroup
	for range p.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f.Columns[i], errs[i] = p.assembleColumn(h.names[i], i, modes[i], chunks, rows)
			}
		}()
	}
	for i := range h.names {
		if modes[i] != modeSkip {
			next <- i
		}
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, e := range errs {
			if e != nil {
				return nil, e // the first column's error, in column order
			}
		}
	}
	return f, nil
}

func (p *parser) assembleColumn(name string, i int, m mode, chunks []*chunk, rows int) (*Column, error) {
	col := &Column{Name: name}
	if m == modeNum {
		col.Type = TypeNumeric
	}
	if len(chunks) == 1 {
		// The accumulator: its slices become the column, no copy.
		cc := &chunks[0].cols[i]
		col.Null, col.Num, col.Str = cc.null, cc.num, cc.str
		*cc = chunkCol{}
	} else {
		col.Null = make([]bool, 0, rows)
		if m == modeNum {
			col.Num = make([]float64, 0, rows)
		} else {
			col.Str = make([]string, 0, rows)
		}
		for _, c := range chunks {
			cc := &c.cols[i]
			col.Null = append(col.Null, cc.null...)
			col.Num = append(col.Num, cc.num...)
			col.Str = append(col.Str, cc.str...)
			*cc = chunkCol{} // let the chunk's memory go as we go
		}
	}
	if m == modeStr {
		want, declared := p.types[name]
		if err := settleText(col, want, declared); err != nil {
			var pe *ParseError
			if errors.As(err, &pe) {
				pe.File = p.name
			}
			return nil, err
		}
	}
	return col, nil
}
