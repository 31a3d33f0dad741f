package pickle

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// Limits bound the walker's memory and time on hostile input. Zero
// fields take the defaults of DefaultLimits.
type Limits struct {
	MaxMemo   int   // memo entries
	MaxStack  int   // values on the stack plus marks
	MaxString int   // bytes of a string kept for analysis; longer ones are skipped, not kept
	MaxLine   int   // bytes of a text-protocol argument line
	MaxDepth  int   // nested pickles (pickle.loads payloads, joblib object arrays)
	MaxOps    int64 // opcodes per pickle
}

// DefaultLimits fits any real model pickle with room to spare.
var DefaultLimits = Limits{
	MaxMemo:   1 << 20,
	MaxStack:  1 << 20,
	MaxString: 1 << 16,
	MaxLine:   1 << 16,
	MaxDepth:  4,
	MaxOps:    1 << 30,
}

// Options configures Walk.
type Options struct {
	Policy *Policy // nil means Default
	Limits Limits
}

// Global is one import the pickle makes.
type Global struct {
	Module string `json:"module"`
	Name   string `json:"name"`
	Offset int64  `json:"offset"`
}

// Finding is one problem the walker saw, with the opcode's offset.
type Finding struct {
	Severity Severity
	Code     string // "scan.pickle.global", "scan.pickle.build", ...
	Message  string
	Offset   int64
	Module   string
	Name     string
}

// Result is what one pickle stream holds.
type Result struct {
	Protocol int
	Ops      int64
	Globals  []Global
	Findings []Finding
	// Top is the value STOP returned, as far as the walker models it.
	TopInt  *big.Int // when the pickle is a bare integer (the legacy torch magic number)
	TopStrs []string // when it is a list/tuple of strings (legacy torch storage keys)
	End     int64    // offset just past STOP
	Joblib  bool     // the stream carried joblib array data
	Nested  int      // nested pickles scanned
}

// Worst returns the most severe finding's severity (Info when none).
func (r Result) Worst() Severity {
	w := Info
	for _, f := range r.Findings {
		if f.Severity.Rank() > w.Rank() {
			w = f.Severity
		}
	}
	return w
}

// FormatError says why a stream is not a pickle a Python unpickler could
// load; Offset is where the walker stopped.
type FormatError struct {
	Offset int64
	Msg    string
}

func (e *FormatError) Error() string { return fmt.Sprintf("offset %d: %s", e.Offset, e.Msg) }

// kind of a modelled value. The walker models only what decides safety:
// strings (import operands), ints (joblib shapes), globals and what
// calling them returned, tuples and dicts shallowly.
type kind uint8

const (
	kOther kind = iota
	kNone
	kStr
	kBytes
	kInt
	kGlobal
	kCall // the result of calling or instantiating g
	kTuple
	kList
	kDict
)

type value struct {
	k      kind
	s      string // kStr/kBytes content when kept
	long   bool   // content longer than MaxString, not kept
	i      *big.Int
	g      *Global           // kGlobal, kCall: the callable
	items  []*value          // kTuple, kList: the first maxItems items
	keys   map[string]*value // kDict: the first maxItems string keys, shallow
	dunder string            // kDict: a dunder key seen among all keys
}

// maxItems bounds what a tuple, list or dict keeps: enough for shapes,
// call arguments and joblib's state, and small enough that a million
// memoised containers stay in a few hundred megabytes.
const maxItems = 32

var (
	vNone  = &value{k: kNone}
	vOther = &value{k: kOther}
)

type walker struct {
	r      *bufio.Reader
	off    int64
	base   int64 // offset of r's first byte in the file
	o      Options
	lim    Limits
	depth  int
	stack  []*value
	marks  []int
	memo   map[uint64]*value
	res    *Result
	opOff  int64
	strbuf []byte
}

// Walk reads one pickle from r up to and including its STOP opcode and
// reports every import and every call, BUILD and instantiation outside
// the allowlist. It never executes anything. base is the offset of r's
// first byte in the enclosing file, for finding locations. The error is
// a *FormatError when the stream is malformed or exceeds a limit, or a
// read error.
func Walk(r *bufio.Reader, base int64, o Options) (Result, error) {
	return walk(r, base, o, 0)
}

func walk(r *bufio.Reader, base int64, o Options, depth int) (Result, error) {
	if o.Policy == nil {
		o.Policy = Default
	}
	lim := o.Limits
	d := DefaultLimits
	if lim.MaxMemo <= 0 {
		lim.MaxMemo = d.MaxMemo
	}
	if lim.MaxStack <= 0 {
		lim.MaxStack = d.MaxStack
	}
	if lim.MaxString <= 0 {
		lim.MaxString = d.MaxString
	}
	if lim.MaxLine <= 0 {
		lim.MaxLine = d.MaxLine
	}
	if lim.MaxDepth <= 0 {
		lim.MaxDepth = d.MaxDepth
	}
	if lim.MaxOps <= 0 {
		lim.MaxOps = d.MaxOps
	}
	res := &Result{}
	w := &walker{r: r, base: base, o: o, lim: lim, depth: depth, memo: map[uint64]*value{}, res: res}
	err := w.run()
	res.End = base + w.off
	return *res, err
}

func (w *walker) fail(format string, args ...any) error {
	return &FormatError{Offset: w.base + w.opOff, Msg: fmt.Sprintf(format, args...)}
}

func (w *walker) readByte() (byte, error) {
	b, err := w.r.ReadByte()
	if err != nil {
		return 0, w.eof(err)
	}
	w.off++
	return b, nil
}

func (w *walker) eof(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &FormatError{Offset: w.base + w.off, Msg: "stream ends before the STOP opcode (truncated)"}
	}
	return fmt.Errorf("read pickle at offset %d: %w", w.base+w.off, err)
}

func (w *walker) readN(n int) ([]byte, error) {
	if cap(w.strbuf) < n {
		w.strbuf = make([]byte, n)
	}
	b := w.strbuf[:n]
	if _, err := io.ReadFull(w.r, b); err != nil {
		return nil, w.eof(err)
	}
	w.off += int64(n)
	return b, nil
}

func (w *walker) skip(n int64) error {
	m, err := w.r.Discard(int(min(n, math.MaxInt32)))
	w.off += int64(m)
	if err != nil {
		return w.eof(err)
	}
	if n > math.MaxInt32 {
		return w.skip(n - math.MaxInt32)
	}
	return nil
}

func (w *walker) readLine() (string, error) {
	var sb strings.Builder
	for {
		b, err := w.readByte()
		if err != nil {
			return "", err
		}
		if b == '\n' {
			return strings.TrimSuffix(sb.String(), "\r"), nil
		}
		if sb.Len() >= w.lim.MaxLine {
			return "", w.fail("argument line longer than %d bytes", w.lim.MaxLine)
		}
		sb.WriteByte(b)
	}
}

func (w *walker) uint(n int) (uint64, error) {
	b, err := w.readN(n)
	if err != nil {
		return 0, err
	}
	var x uint64
	for i := n - 1; i >= 0; i-- {
		x = x<<8 | uint64(b[i])
	}
	return x, nil
}

// argWidth is the width in bytes of the little-endian integer that follows
// an opcode: a value (BININT*), a length (the sized strings and LONG*), a
// memo index or an extension code. A table, not a map literal per opcode:
// the walker reads millions of opcodes.
var argWidth = [256]int{
	'J': 4, 'K': 1, 'M': 2, // BININT, BININT1, BININT2
	0x8a: 1, 0x8b: 4, // LONG1, LONG4
	'T': 4, 'X': 4, 'B': 4, // BINSTRING, BINUNICODE, BINBYTES
	'U': 1, 0x8c: 1, 'C': 1, // SHORT_BINSTRING, SHORT_BINUNICODE, SHORT_BINBYTES
	0x8d: 8, 0x8e: 8, 0x96: 8, // BINUNICODE8, BINBYTES8, BYTEARRAY8
	'q': 1, 'r': 4, 'h': 1, 'j': 4, // BINPUT, LONG_BINPUT, BINGET, LONG_BINGET
	0x82: 1, 0x83: 2, 0x84: 4, // EXT1, EXT2, EXT4
}

// pushSized reads the length that follows op and the data after it, and
// pushes it as a value of kind k.
func (w *walker) pushSized(op byte, k kind) error {
	n, err := w.uint(argWidth[op])
	if err != nil {
		return err
	}
	v, err := w.readData(n, k)
	if err != nil {
		return err
	}
	return w.push(v)
}

// readData reads a length-prefixed string argument, keeping it only when
// short enough to matter for analysis.
func (w *walker) readData(n uint64, k kind) (*value, error) {
	if n > uint64(w.lim.MaxString) {
		if n > math.MaxInt64/2 {
			return nil, w.fail("string length %d is impossible", n)
		}
		if err := w.skip(int64(n)); err != nil {
			return nil, err
		}
		return &value{k: k, long: true}, nil
	}
	b, err := w.readN(int(n))
	if err != nil {
		return nil, err
	}
	return &value{k: k, s: string(b)}, nil
}

func (w *walker) push(v *value) error {
	if len(w.stack)+len(w.marks) >= w.lim.MaxStack {
		return w.fail("stack deeper than %d entries", w.lim.MaxStack)
	}
	w.stack = append(w.stack, v)
	return nil
}

func (w *walker) pop() (*value, error) {
	floor := 0
	if len(w.marks) > 0 {
		floor = w.marks[len(w.marks)-1]
	}
	if len(w.stack) <= floor {
		return nil, w.fail("stack underflow")
	}
	v := w.stack[len(w.stack)-1]
	w.stack = w.stack[:len(w.stack)-1]
	return v, nil
}

func (w *walker) top() (*value, error) {
	floor := 0
	if len(w.marks) > 0 {
		floor = w.marks[len(w.marks)-1]
	}
	if len(w.stack) <= floor {
		return nil, w.fail("stack underflow")
	}
	return w.stack[len(w.stack)-1], nil
}

func (w *walker) popMark() ([]*value, error) {
	if len(w.marks) == 0 {
		return nil, w.fail("no MARK on the stack")
	}
	m := w.marks[len(w.marks)-1]
	w.marks = w.marks[:len(w.marks)-1]
	items := append([]*value(nil), w.stack[m:]...)
	w.stack = w.stack[:m]
	return items, nil
}

func (w *walker) memoPut(idx uint64, v *value) error {
	if _, ok := w.memo[idx]; !ok && len(w.memo) >= w.lim.MaxMemo {
		return w.fail("memo larger than %d entries", w.lim.MaxMemo)
	}
	w.memo[idx] = v
	return nil
}

func (w *walker) memoGet(idx uint64) error {
	v, ok := w.memo[idx]
	if !ok {
		return w.fail("GET of memo slot %d, which was never set", idx)
	}
	return w.push(v)
}

func (w *walker) find(sev Severity, code, msg string, g *Global) {
	f := Finding{Severity: sev, Code: code, Message: msg, Offset: w.base + w.opOff}
	if g != nil {
		f.Module, f.Name = g.Module, g.Name
	}
	w.res.Findings = append(w.res.Findings, f)
}

// importGlobal records an import and grades it.
func (w *walker) importGlobal(module, name, via string) *value {
	g := &Global{Module: module, Name: name, Offset: w.base + w.opOff}
	w.res.Globals = append(w.res.Globals, *g)
	switch sev, why := w.o.Policy.Check(module, name); {
	case sev != Info:
		w.find(sev, "scan.pickle.global", fmt.Sprintf("%s imports %s.%s: %s", via, module, name, why), g)
	case why == ExtensionReason:
		// listed so that a reviewer sees what the extension let through
		w.find(Info, "scan.pickle.allowed_by_config", fmt.Sprintf("%s imports %s.%s: %s", via, module, name, why), g)
	}
	return &value{k: kGlobal, g: g}
}

func (w *walker) stackGlobal() error {
	name, err := w.pop()
	if err != nil {
		return err
	}
	mod, err := w.pop()
	if err != nil {
		return err
	}
	if mod.k != kStr || name.k != kStr || mod.long || name.long {
		w.find(Critical, "scan.pickle.unresolved",
			fmt.Sprintf("STACK_GLOBAL operands are not plain strings (%s, %s): the import is computed at load time", kindName(mod), kindName(name)), nil)
		return w.push(&value{k: kGlobal, g: &Global{Module: "?", Name: "?", Offset: w.base + w.opOff}})
	}
	return w.push(w.importGlobal(mod.s, name.s, "STACK_GLOBAL"))
}

func kindName(v *value) string {
	switch v.k {
	case kStr:
		return "str"
	case kBytes:
		return "bytes"
	case kInt:
		return "int"
	case kGlobal:
		return "global " + v.g.Module + "." + v.g.Name
	case kCall:
		return "result of " + v.g.Module + "." + v.g.Name
	case kTuple:
		return "tuple"
	case kDict:
		return "dict"
	case kList:
		return "list"
	case kNone:
		return "None"
	}
	return "object"
}

// call models REDUCE, NEWOBJ, NEWOBJ_EX, INST and OBJ: fn(args...).
func (w *walker) call(op string, fn *value, args *value) (*value, error) {
	switch fn.k {
	case kGlobal:
		if fn.g.Module == "?" {
			return &value{k: kCall, g: fn.g}, nil // already reported as unresolved
		}
		if err := w.nested(fn.g, args); err != nil {
			return nil, err
		}
		return &value{k: kCall, g: fn.g}, nil
	case kCall:
		// Calling what another call returned is how getattr chains
		// (getattr(obj, "system")(cmd)) reach a function that is never
		// imported by name.
		w.find(Critical, "scan.pickle.indirect_call",
			fmt.Sprintf("%s calls the value returned by %s.%s, not an imported global", op, fn.g.Module, fn.g.Name), fn.g)
		return &value{k: kCall, g: fn.g}, nil
	default:
		w.find(Critical, "scan.pickle.unresolved",
			fmt.Sprintf("%s calls a %s, which the walker cannot resolve to a global", op, kindName(fn)), nil)
		return &value{k: kCall, g: &Global{Module: "?", Name: "?"}}, nil
	}
}

// nested scans the payload of pickle.loads-like calls: the outer call is
// critical already, but the payload says what it would do.
func (w *walker) nested(g *Global, args *value) error {
	if !(g.Name == "loads" || g.Name == "_loads") || args == nil || args.k != kTuple || len(args.items) == 0 {
		return nil
	}
	p := args.items[0]
	if p.k != kBytes && p.k != kStr || p.long {
		return nil
	}
	if w.depth+1 >= w.lim.MaxDepth {
		return w.fail("pickles nested deeper than %d", w.lim.MaxDepth)
	}
	sub, err := walk(bufio.NewReader(strings.NewReader(p.s)), w.base+w.opOff, w.o, w.depth+1)
	w.res.Nested++
	for _, f := range sub.Findings {
		f.Message = "nested pickle: " + f.Message
		w.res.Findings = append(w.res.Findings, f)
	}
	w.res.Globals = append(w.res.Globals, sub.Globals...)
	var fe *FormatError
	if errors.As(err, &fe) {
		w.find(High, "scan.pickle.nested", "nested pickle payload is malformed: "+fe.Msg, g)
		return nil
	}
	return err
}

// build models BUILD: obj.__setstate__(state) or obj.__dict__.update(state).
func (w *walker) build(obj, state *value) error {
	if obj.k == kGlobal {
		// BUILD on a class or function object rewrites its attributes
		// for the whole process: the way around allowlists that trust
		// an allowed class.
		w.find(Critical, "scan.pickle.build",
			fmt.Sprintf("BUILD sets attributes on the global %s.%s itself, not on an instance", obj.g.Module, obj.g.Name), obj.g)
		return nil
	}
	for _, d := range stateDicts(state) {
		if d.dunder != "" {
			w.find(Critical, "scan.pickle.build",
				fmt.Sprintf("BUILD sets the dunder attribute %s, which changes how the object behaves", d.dunder), obj.g)
		}
	}
	if obj.k == kCall && obj.g.Module == "joblib.numpy_pickle" && obj.g.Name == "NumpyArrayWrapper" {
		return w.joblibArray(state)
	}
	return nil
}

func stateDicts(state *value) []*value {
	switch state.k {
	case kDict:
		return []*value{state}
	case kTuple:
		var out []*value
		for _, it := range state.items {
			if it.k == kDict {
				out = append(out, it)
			}
		}
		return out
	}
	return nil
}

// joblibArray skips (or scans) the array data that joblib writes into
// the stream right after a NumpyArrayWrapper's BUILD.
func (w *walker) joblibArray(state *value) error {
	w.res.Joblib = true
	if state.k != kDict {
		return w.fail("joblib NumpyArrayWrapper state is a %s, want a dict", kindName(state))
	}
	dt := state.keys["dtype"]
	shape := state.keys["shape"]
	if dt == nil || shape == nil || shape.k != kTuple {
		return w.fail("joblib NumpyArrayWrapper state lacks a dtype or a shape tuple")
	}
	if dt.k != kCall || dt.g.Name != "dtype" || dt.items == nil || len(dt.items) == 0 || dt.items[0].k != kStr {
		return w.fail("joblib NumpyArrayWrapper dtype is not a numpy.dtype(str)")
	}
	code := dt.items[0].s
	if strings.HasPrefix(code, "O") {
		// joblib pickles object arrays as a separate pickle in the stream
		if w.depth+1 >= w.lim.MaxDepth {
			return w.fail("pickles nested deeper than %d", w.lim.MaxDepth)
		}
		sub, err := walk(w.r, w.base+w.off, w.o, w.depth+1)
		w.off = sub.End - w.base
		w.res.Nested++
		w.res.Findings = append(w.res.Findings, sub.Findings...)
		w.res.Globals = append(w.res.Globals, sub.Globals...)
		return err
	}
	item, ok := itemSize(code)
	if !ok && len(dt.items) > 1 && dt.items[1].k == kInt && dt.items[1].i.IsInt64() {
		item, ok = dt.items[1].i.Int64(), true // structured: elsize from the dtype's state
	}
	if !ok || item <= 0 {
		return w.fail("joblib array dtype %q has no known item size", code)
	}
	count := big.NewInt(1)
	for _, d := range shape.items {
		if d.k != kInt || d.i.Sign() < 0 {
			return w.fail("joblib array shape holds a %s, want non-negative ints", kindName(d))
		}
		count.Mul(count, d.i)
	}
	count.Mul(count, big.NewInt(item))
	if !count.IsInt64() || count.Int64() > 1<<50 {
		return w.fail("joblib array of %s bytes is impossible", count.String())
	}
	if al := state.keys["numpy_array_alignment_bytes"]; al != nil && al.k == kInt {
		pad, err := w.readByte()
		if err != nil {
			return err
		}
		if err := w.skip(int64(pad)); err != nil {
			return err
		}
	}
	return w.skip(count.Int64())
}

func itemSize(code string) (int64, bool) {
	c := strings.TrimLeft(code, "<>|=")
	if c == "" {
		return 0, false
	}
	switch c {
	case "?", "b", "B":
		return 1, true
	}
	kindc, digits := c[0], c[1:]
	if i := strings.IndexByte(digits, '['); i >= 0 {
		digits = digits[:i] // datetime units: M8[ns]
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	switch kindc {
	case 'f', 'i', 'u', 'c', 'b', 'S', 'a', 'V', 'M', 'm':
		return n, true
	case 'U':
		return 4 * n, true
	}
	return 0, false
}

func (w *walker) run() error {
	for {
		w.opOff = w.off
		op, err := w.readByte()
		if err != nil {
			if w.res.Ops == 0 {
				return &FormatError{Offset: w.base + w.off, Msg: "empty stream: no pickle opcodes"}
			}
			return err
		}
		w.res.Ops++
		if w.res.Ops > w.lim.MaxOps {
			return w.fail("more than %d opcodes", w.lim.MaxOps)
		}
		done, err := w.step(op)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
	}
}

func (w *walker) step(op byte) (bool, error) {
	switch op {
	case '.': // STOP
		v, err := w.pop()
		if err != nil {
			return false, err
		}
		if len(w.marks) > 0 {
			w.find(Low, "scan.pickle.structure", "STOP with an open MARK", nil)
		}
		if v.k == kInt {
			w.res.TopInt = v.i
		}
		if v.k == kList || v.k == kTuple {
			for _, it := range v.items {
				if it.k == kStr {
					w.res.TopStrs = append(w.res.TopStrs, it.s)
				}
			}
		}
		return true, nil
	case 0x80: // PROTO
		b, err := w.readByte()
		if err != nil {
			return false, err
		}
		if b > 5 {
			return false, w.fail("unsupported pickle protocol %d", b)
		}
		w.res.Protocol = int(b)
	case 0x95: // FRAME: a hint only; the opcodes inside follow as usual
		if _, err := w.uint(8); err != nil {
			return false, err
		}
	case '(': // MARK
		if len(w.stack)+len(w.marks) >= w.lim.MaxStack {
			return false, w.fail("stack deeper than %d entries", w.lim.MaxStack)
		}
		w.marks = append(w.marks, len(w.stack))
	case '0': // POP
		if len(w.stack) == 0 || len(w.marks) > 0 && w.marks[len(w.marks)-1] == len(w.stack) {
			// POP with the mark on top discards the mark (Python's behaviour)
			if len(w.marks) == 0 {
				return false, w.fail("stack underflow")
			}
			w.marks = w.marks[:len(w.marks)-1]
			return false, nil
		}
		_, err := w.pop()
		return false, err
	case '1': // POP_MARK
		_, err := w.popMark()
		return false, err
	case '2': // DUP
		v, err := w.top()
		if err != nil {
			return false, err
		}
		return false, w.push(v)
	case 'N':
		return false, w.push(vNone)
	case 0x88, 0x89: // NEWTRUE, NEWFALSE
		return false, w.push(vOther)
	case 'I', 'L': // INT, LONG (text)
		l, err := w.readLine()
		if err != nil {
			return false, err
		}
		l = strings.TrimSuffix(l, "L")
		switch l {
		case "00", "01": // True/False in protocol 0
			return false, w.push(vOther)
		}
		i, ok := new(big.Int).SetString(l, 10)
		if !ok {
			return false, w.fail("INT/LONG argument %q is not an integer", trunc(l))
		}
		return false, w.push(&value{k: kInt, i: i})
	case 'J', 'K', 'M': // BININT, BININT1, BININT2
		x, err := w.uint(argWidth[op])
		if err != nil {
			return false, err
		}
		v := int64(x)
		if op == 'J' {
			v = int64(int32(uint32(x)))
		}
		return false, w.push(&value{k: kInt, i: big.NewInt(v)})
	case 0x8a, 0x8b: // LONG1, LONG4
		n, err := w.uint(argWidth[op])
		if err != nil {
			return false, err
		}
		if n > 1<<12 {
			if err := w.skip(int64(n)); err != nil {
				return false, err
			}
			return false, w.push(vOther)
		}
		b, err := w.readN(int(n))
		if err != nil {
			return false, err
		}
		return false, w.push(&value{k: kInt, i: decodeLong(b)})
	case 'F': // FLOAT (text)
		if _, err := w.readLine(); err != nil {
			return false, err
		}
		return false, w.push(vOther)
	case 'G': // BINFLOAT
		if _, err := w.readN(8); err != nil {
			return false, err
		}
		return false, w.push(vOther)
	case 'S': // STRING (quoted, text)
		l, err := w.readLine()
		if err != nil {
			return false, err
		}
		s, err := strconv.Unquote(pyQuote(l))
		if err != nil {
			s = strings.Trim(l, `'"`)
		}
		return false, w.push(&value{k: kStr, s: s})
	case 'V': // UNICODE (raw-unicode-escape, text)
		l, err := w.readLine()
		if err != nil {
			return false, err
		}
		return false, w.push(&value{k: kStr, s: rawUnicodeUnescape(l)})
	case 'T', 'X', 'U', 0x8c, 0x8d: // BINSTRING, BINUNICODE, SHORT_BINSTRING, SHORT_BINUNICODE, BINUNICODE8
		return false, w.pushSized(op, kStr)
	case 'B', 'C', 0x8e, 0x96: // BINBYTES, SHORT_BINBYTES, BINBYTES8, BYTEARRAY8
		return false, w.pushSized(op, kBytes)
	case 0x97: // NEXT_BUFFER: out-of-band buffer the loader must supply
		w.find(Low, "scan.pickle.out_of_band", "pickle expects an out-of-band buffer (protocol 5); a plain load fails", nil)
		return false, w.push(vOther)
	case 0x98: // READONLY_BUFFER
		_, err := w.top()
		return false, err
	case ')':
		return false, w.push(&value{k: kTuple})
	case ']':
		return false, w.push(&value{k: kList})
	case '}':
		return false, w.push(&value{k: kDict, keys: map[string]*value{}})
	case 0x8f: // EMPTY_SET
		return false, w.push(vOther)
	case 't': // TUPLE
		items, err := w.popMark()
		if err != nil {
			return false, err
		}
		return false, w.push(&value{k: kTuple, items: capItems(items)})
	case 0x85, 0x86, 0x87: // TUPLE1..3
		n := int(op - 0x84)
		items := make([]*value, n)
		for i := n - 1; i >= 0; i-- {
			v, err := w.pop()
			if err != nil {
				return false, err
			}
			items[i] = v
		}
		return false, w.push(&value{k: kTuple, items: items})
	case 'l': // LIST
		items, err := w.popMark()
		if err != nil {
			return false, err
		}
		return false, w.push(&value{k: kList, items: capItems(items)})
	case 'd': // DICT
		items, err := w.popMark()
		if err != nil {
			return false, err
		}
		d := &value{k: kDict, keys: map[string]*value{}}
		if len(items)%2 != 0 {
			return false, w.fail("DICT with an odd number of items")
		}
		setItems(d, items)
		return false, w.push(d)
	case 0x91: // FROZENSET
		_, err := w.popMark()
		if err != nil {
			return false, err
		}
		return false, w.push(vOther)
	case 'a': // APPEND
		v, err := w.pop()
		if err != nil {
			return false, err
		}
		l, err := w.top()
		if err != nil {
			return false, err
		}
		if l.k == kList && len(l.items) < maxItems {
			l.items = append(l.items, v)
		}
	case 'e', 0x90: // APPENDS, ADDITEMS
		items, err := w.popMark()
		if err != nil {
			return false, err
		}
		l, err := w.top()
		if err != nil {
			return false, err
		}
		if op == 'e' && l.k == kList && len(l.items) < maxItems {
			l.items = capItems(append(l.items, capItems(items)...))
		}
	case 's': // SETITEM
		v, err := w.pop()
		if err != nil {
			return false, err
		}
		k, err := w.pop()
		if err != nil {
			return false, err
		}
		d, err := w.top()
		if err != nil {
			return false, err
		}
		setItems(d, []*value{k, v})
	case 'u': // SETITEMS
		items, err := w.popMark()
		if err != nil {
			return false, err
		}
		if len(items)%2 != 0 {
			return false, w.fail("SETITEMS with an odd number of items")
		}
		d, err := w.top()
		if err != nil {
			return false, err
		}
		setItems(d, items)
	case 'p': // PUT
		l, err := w.readLine()
		if err != nil {
			return false, err
		}
		idx, err := strconv.ParseUint(l, 10, 64)
		if err != nil {
			return false, w.fail("PUT index %q is not a number", trunc(l))
		}
		v, err := w.top()
		if err != nil {
			return false, err
		}
		return false, w.memoPut(idx, v)
	case 'q', 'r': // BINPUT, LONG_BINPUT
		idx, err := w.uint(argWidth[op])
		if err != nil {
			return false, err
		}
		v, err := w.top()
		if err != nil {
			return false, err
		}
		return false, w.memoPut(idx, v)
	case 0x94: // MEMOIZE
		v, err := w.top()
		if err != nil {
			return false, err
		}
		return false, w.memoPut(uint64(len(w.memo)), v)
	case 'g': // GET
		l, err := w.readLine()
		if err != nil {
			return false, err
		}
		idx, err := strconv.ParseUint(l, 10, 64)
		if err != nil {
			return false, w.fail("GET index %q is not a number", trunc(l))
		}
		return false, w.memoGet(idx)
	case 'h', 'j': // BINGET, LONG_BINGET
		idx, err := w.uint(argWidth[op])
		if err != nil {
			return false, err
		}
		return false, w.memoGet(idx)
	case 'c': // GLOBAL
		mod, err := w.readLine()
		if err != nil {
			return false, err
		}
		name, err := w.readLine()
		if err != nil {
			return false, err
		}
		return false, w.push(w.importGlobal(mod, name, "GLOBAL"))
	case 0x93: // STACK_GLOBAL
		return false, w.stackGlobal()
	case 'i': // INST module name: instantiate with the args above the mark
		mod, err := w.readLine()
		if err != nil {
			return false, err
		}
		name, err := w.readLine()
		if err != nil {
			return false, err
		}
		items, err := w.popMark()
		if err != nil {
			return false, err
		}
		g := w.importGlobal(mod, name, "INST")
		v, err := w.call("INST", g, &value{k: kTuple, items: items})
		if err != nil {
			return false, err
		}
		return false, w.push(v)
	case 'o': // OBJ: class and args above the mark
		items, err := w.popMark()
		if err != nil {
			return false, err
		}
		if len(items) == 0 {
			return false, w.fail("OBJ with nothing above its MARK")
		}
		v, err := w.call("OBJ", items[0], &value{k: kTuple, items: items[1:]})
		if err != nil {
			return false, err
		}
		return false, w.push(v)
	case 'R': // REDUCE
		args, err := w.pop()
		if err != nil {
			return false, err
		}
		fn, err := w.pop()
		if err != nil {
			return false, err
		}
		v, err := w.call("REDUCE", fn, args)
		if err != nil {
			return false, err
		}
		if fn.k == kGlobal && fn.g.Name == "dtype" && args.k == kTuple {
			v.items = args.items // joblib needs the dtype code
		}
		return false, w.push(v)
	case 0x81: // NEWOBJ cls.__new__(cls, *args)
		args, err := w.pop()
		if err != nil {
			return false, err
		}
		cls, err := w.pop()
		if err != nil {
			return false, err
		}
		v, err := w.call("NEWOBJ", cls, args)
		if err != nil {
			return false, err
		}
		return false, w.push(v)
	case 0x92: // NEWOBJ_EX cls.__new__(cls, *args, **kwargs)
		kwargs, err := w.pop()
		if err != nil {
			return false, err
		}
		args, err := w.pop()
		if err != nil {
			return false, err
		}
		cls, err := w.pop()
		if err != nil {
			return false, err
		}
		_ = kwargs
		v, err := w.call("NEWOBJ_EX", cls, args)
		if err != nil {
			return false, err
		}
		return false, w.push(v)
	case 'b': // BUILD
		state, err := w.pop()
		if err != nil {
			return false, err
		}
		obj, err := w.top()
		if err != nil {
			return false, err
		}
		if state.k == kTuple && len(state.items) >= 2 && obj.k == kCall && obj.g.Name == "dtype" {
			// numpy dtype state: (version, byteorder, subarray, names, fields, elsize, ...)
			if len(state.items) > 5 && obj.items != nil && len(obj.items) > 0 {
				obj.items = []*value{obj.items[0], state.items[5]}
			}
		}
		return false, w.build(obj, state)
	case 'P': // PERSID
		if _, err := w.readLine(); err != nil {
			return false, err
		}
		return false, w.push(vOther)
	case 'Q': // BINPERSID: the loader's persistent_load (torch storages)
		if _, err := w.pop(); err != nil {
			return false, err
		}
		return false, w.push(vOther)
	case 0x82, 0x83, 0x84: // EXT1, EXT2, EXT4: copyreg extension registry
		n := argWidth[op]
		code, err := w.uint(n)
		if err != nil {
			return false, err
		}
		w.find(Critical, "scan.pickle.unresolved",
			fmt.Sprintf("EXT%d imports extension code %d from the loader's copyreg registry, which cannot be checked", n, code), nil)
		return false, w.push(&value{k: kGlobal, g: &Global{Module: "?", Name: "?"}})
	default:
		return false, w.fail("unknown opcode 0x%02x", op)
	}
	return false, nil
}

func capItems(items []*value) []*value {
	if len(items) > maxItems {
		return items[:maxItems:maxItems]
	}
	return items
}

func setItems(d *value, items []*value) {
	if d.k != kDict {
		return
	}
	for i := 0; i+1 < len(items); i += 2 {
		if items[i].k != kStr {
			continue
		}
		k := items[i].s
		// __doc__ is plain data on an instance (scipy's distributions
		// carry their docstring in their state); other dunders change
		// behaviour (__class__, __reduce__, __getattr__, …)
		if d.dunder == "" && len(k) > 4 && strings.HasPrefix(k, "__") && strings.HasSuffix(k, "__") && k != "__doc__" {
			d.dunder = k
		}
		if _, ok := d.keys[k]; ok || len(d.keys) < maxItems {
			d.keys[k] = items[i+1]
		}
	}
}

// decodeLong decodes pickle's little-endian two's-complement integers.
func decodeLong(b []byte) *big.Int {
	if len(b) == 0 {
		return new(big.Int)
	}
	be := make([]byte, len(b))
	for i := range b {
		be[len(b)-1-i] = b[i]
	}
	x := new(big.Int).SetBytes(be)
	if b[len(b)-1]&0x80 != 0 {
		x.Sub(x, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	return x
}

func pyQuote(l string) string {
	if len(l) >= 2 && l[0] == '\'' && l[len(l)-1] == '\'' {
		inner := strings.ReplaceAll(l[1:len(l)-1], `"`, `\"`)
		inner = strings.ReplaceAll(inner, `\'`, `'`)
		return `"` + inner + `"`
	}
	return l
}

// rawUnicodeUnescape decodes protocol 0's raw-unicode-escape: only
// \uXXXX and \UXXXXXXXX are escapes.
func rawUnicodeUnescape(s string) string {
	if !strings.Contains(s, `\u`) && !strings.Contains(s, `\U`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && (s[i+1] == 'u' || s[i+1] == 'U') {
			n := 4
			if s[i+1] == 'U' {
				n = 8
			}
			if i+2+n <= len(s) {
				if r, err := strconv.ParseUint(s[i+2:i+2+n], 16, 32); err == nil {
					b.WriteRune(rune(r))
					i += 1 + n
					continue
				}
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func trunc(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
