package audit

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/modelgate/modelgate/internal/store"
)

// maxDepth bounds nesting so that hostile input cannot exhaust the stack.
const maxDepth = 512

// Canonicalize returns the RFC 8785 (JSON Canonicalization Scheme) form of
// the JSON text src: no insignificant whitespace, object members sorted by
// the UTF-16 code units of their names, strings with the minimal escapes
// (\" \\ \b \f \n \r \t, other control characters as \u00xx), and numbers
// in the shortest form that round-trips an IEEE 754 double, printed as
// ECMAScript does (1e+21, 0.000001, 5e-324). Duplicate member names,
// invalid UTF-8, lone surrogates and numbers outside the double range are
// errors. Integers beyond 2^53 lose precision, as they do in JavaScript:
// carry such identifiers as strings.
func Canonicalize(src []byte) ([]byte, error) {
	return AppendCanonical(nil, src)
}

// AppendCanonical appends the canonical form of src to dst.
func AppendCanonical(dst, src []byte) ([]byte, error) {
	p := parser{in: src}
	p.skipSpace()
	out, err := p.value(dst, 0)
	if err != nil {
		return dst, err
	}
	p.skipSpace()
	if p.pos != len(p.in) {
		return dst, p.errorf("unexpected %q after the top-level value", p.in[p.pos])
	}
	return out, nil
}

type parser struct {
	in  []byte
	pos int
}

// SyntaxError says where JSON text is malformed.
type SyntaxError struct {
	Offset int // byte offset into the input
	Msg    string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("json at byte %d: %s", e.Offset, e.Msg) }

func (p *parser) errorf(format string, args ...any) error {
	return &SyntaxError{Offset: p.pos, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) skipSpace() {
	for p.pos < len(p.in) {
		switch p.in[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) value(dst []byte, depth int) ([]byte, error) {
	if depth > maxDepth {
		return dst, p.errorf("nested deeper than %d levels", maxDepth)
	}
	if p.pos >= len(p.in) {
		return dst, p.errorf("unexpected end of input")
	}
	switch c := p.in[p.pos]; {
	case c == '{':
		return p.object(dst, depth)
	case c == '[':
		return p.array(dst, depth)
	case c == '"':
		s, err := p.str()
		if err != nil {
			return dst, err
		}
		return appendStringBytes(dst, s), nil
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number(dst)
	case c == 't':
		return p.literal(dst, "true")
	case c == 'f':
		return p.literal(dst, "false")
	case c == 'n':
		return p.literal(dst, "null")
	default:
		return dst, p.errorf("unexpected %q", c)
	}
}

func (p *parser) literal(dst []byte, lit string) ([]byte, error) {
	if !bytes.HasPrefix(p.in[p.pos:], []byte(lit)) {
		return dst, p.errorf("invalid literal")
	}
	p.pos += len(lit)
	return append(dst, lit...), nil
}

type member struct {
	name       []byte // decoded; aliases the input when it had no escapes
	start, end int    // the member's "name":value bytes in dst
}

func (p *parser) object(dst []byte, depth int) ([]byte, error) {
	p.pos++ // {
	dst = append(dst, '{')
	open := len(dst)
	// Most objects are small: keep their members on the stack.
	var small [16]member
	members := small[:0]
	sorted := true
	p.skipSpace()
	if p.pos < len(p.in) && p.in[p.pos] == '}' {
		p.pos++
		return append(dst, '}'), nil
	}
	for {
		p.skipSpace()
		if p.pos >= len(p.in) || p.in[p.pos] != '"' {
			return dst, p.errorf("expected a member name")
		}
		name, err := p.str()
		if err != nil {
			return dst, err
		}
		p.skipSpace()
		if p.pos >= len(p.in) || p.in[p.pos] != ':' {
			return dst, p.errorf("expected ':' after member name")
		}
		p.pos++
		p.skipSpace()
		if len(members) > 0 {
			dst = append(dst, ',')
		}
		start := len(dst)
		dst = appendStringBytes(dst, name)
		dst = append(dst, ':')
		if dst, err = p.value(dst, depth+1); err != nil {
			return dst, err
		}
		if n := len(members); n > 0 {
			switch c := compareUTF16(string(members[n-1].name), string(name)); {
			case c == 0:
				return dst, p.errorf("duplicate member name %q", name)
			case c > 0:
				sorted = false
			}
		}
		members = append(members, member{name: name, start: start, end: len(dst)})
		done, err := p.separator('}', "object")
		if err != nil {
			return dst, err
		}
		if done {
			break
		}
	}
	if !sorted {
		slices.SortFunc(members, func(a, b member) int { return compareUTF16(string(a.name), string(b.name)) })
		for i := 1; i < len(members); i++ {
			if bytes.Equal(members[i-1].name, members[i].name) {
				return dst, p.errorf("duplicate member name %q", members[i].name)
			}
		}
		body := make([]byte, 0, len(dst)-open)
		for i, m := range members {
			if i > 0 {
				body = append(body, ',')
			}
			body = append(body, dst[m.start:m.end]...)
		}
		dst = append(dst[:open], body...)
	}
	return append(dst, '}'), nil
}

func (p *parser) array(dst []byte, depth int) ([]byte, error) {
	p.pos++ // [
	dst = append(dst, '[')
	p.skipSpace()
	if p.pos < len(p.in) && p.in[p.pos] == ']' {
		p.pos++
		return append(dst, ']'), nil
	}
	for first := true; ; first = false {
		p.skipSpace()
		if !first {
			dst = append(dst, ',')
		}
		var err error
		if dst, err = p.value(dst, depth+1); err != nil {
			return dst, err
		}
		done, err := p.separator(']', "array")
		if err != nil {
			return dst, err
		}
		if done {
			return append(dst, ']'), nil
		}
	}
}

// separator consumes what follows a member or an element: a ',' (done is
// false) or the closing bracket (done is true).
func (p *parser) separator(closing byte, what string) (done bool, err error) {
	p.skipSpace()
	if p.pos >= len(p.in) {
		return false, p.errorf("unexpected end of input in %s", what)
	}
	switch p.in[p.pos] {
	case ',':
		p.pos++
		return false, nil
	case closing:
		p.pos++
		return true, nil
	}
	return false, p.errorf("expected ',' or '%c' in %s", closing, what)
}

// str parses a string literal at p.pos and returns its decoded value,
// aliasing the input when the literal has no escapes.
func (p *parser) str() ([]byte, error) {
	p.pos++ // "
	start := p.pos
	// Fast path: no escapes, plain ASCII or valid UTF-8.
	for p.pos < len(p.in) {
		c := p.in[p.pos]
		if c == '"' {
			s := p.in[start:p.pos:p.pos]
			if !utf8.Valid(s) {
				return nil, &SyntaxError{Offset: start, Msg: "string is not valid UTF-8"}
			}
			p.pos++
			return s, nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
		p.pos++
	}
	buf := append([]byte(nil), p.in[start:p.pos]...)
	for {
		if p.pos >= len(p.in) {
			return nil, p.errorf("unterminated string")
		}
		c := p.in[p.pos]
		switch {
		case c == '"':
			p.pos++
			if !utf8.Valid(buf) {
				return nil, &SyntaxError{Offset: start, Msg: "string is not valid UTF-8"}
			}
			return buf, nil
		case c < 0x20:
			return nil, p.errorf("control character %#x in string", c)
		case c != '\\':
			buf = append(buf, c)
			p.pos++
			continue
		}
		if p.pos+1 >= len(p.in) {
			return nil, p.errorf("unterminated escape")
		}
		e := p.in[p.pos+1]
		p.pos += 2
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, err := p.hex4()
			if err != nil {
				return nil, err
			}
			if utf16.IsSurrogate(r) {
				if r >= 0xDC00 || p.pos+1 >= len(p.in) || p.in[p.pos] != '\\' || p.in[p.pos+1] != 'u' {
					return nil, p.errorf("lone surrogate \\u%04x", r)
				}
				p.pos += 2
				r2, err := p.hex4()
				if err != nil {
					return nil, err
				}
				dec := utf16.DecodeRune(r, r2)
				if dec == utf8.RuneError {
					return nil, p.errorf("invalid surrogate pair \\u%04x\\u%04x", r, r2)
				}
				r = dec
			}
			buf = utf8.AppendRune(buf, r)
		default:
			return nil, p.errorf("invalid escape \\%c", e)
		}
	}
}

func (p *parser) hex4() (rune, error) {
	if p.pos+4 > len(p.in) {
		return 0, p.errorf("short \\u escape")
	}
	var r rune
	for _, c := range p.in[p.pos : p.pos+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c-'a') + 10
		case c >= 'A' && c <= 'F':
			r |= rune(c-'A') + 10
		default:
			return 0, p.errorf("invalid \\u escape")
		}
	}
	p.pos += 4
	return r, nil
}

func (p *parser) number(dst []byte) ([]byte, error) {
	start := p.pos
	digits := func() int {
		n := 0
		for p.pos < len(p.in) && p.in[p.pos] >= '0' && p.in[p.pos] <= '9' {
			p.pos++
			n++
		}
		return n
	}
	if p.in[p.pos] == '-' {
		p.pos++
	}
	if p.pos < len(p.in) && p.in[p.pos] == '0' {
		p.pos++
	} else if digits() == 0 {
		return dst, p.errorf("invalid number")
	}
	if p.pos < len(p.in) && p.in[p.pos] == '.' {
		p.pos++
		if digits() == 0 {
			return dst, p.errorf("invalid number: no digits after '.'")
		}
	}
	if p.pos < len(p.in) && (p.in[p.pos] == 'e' || p.in[p.pos] == 'E') {
		p.pos++
		if p.pos < len(p.in) && (p.in[p.pos] == '+' || p.in[p.pos] == '-') {
			p.pos++
		}
		if digits() == 0 {
			return dst, p.errorf("invalid number: no digits in exponent")
		}
	}
	text := p.in[start:p.pos]
	// Small integers (the common case: counts, ids) need no float round trip.
	if len(text) < 16 && bytes.IndexAny(text, ".eE") < 0 && !bytes.Equal(text, []byte("-0")) {
		return append(dst, text...), nil
	}
	f, err := strconv.ParseFloat(string(text), 64)
	if err != nil || math.IsInf(f, 0) {
		return dst, &SyntaxError{Offset: start, Msg: fmt.Sprintf("number %s is outside the IEEE 754 double range", text)}
	}
	return appendNumber(dst, f), nil
}

// appendNumber formats f as ECMAScript's Number.prototype.toString does,
// which RFC 8785 section 3.2.2.3 requires.
func appendNumber(dst []byte, f float64) []byte {
	if f == 0 {
		return append(dst, '0') // also -0
	}
	if f < 0 {
		dst = append(dst, '-')
		f = -f
	}
	var tmp [32]byte
	s := strconv.AppendFloat(tmp[:0], f, 'e', -1, 64) // d[.ddd]e±xx, shortest round trip
	e := bytes.IndexByte(s, 'e')
	mant, exp := s[:e], s[e+1:]
	x, _ := strconv.Atoi(string(exp))
	var digs [24]byte
	d := append(digs[:0], mant[0])
	if len(mant) > 2 {
		d = append(d, mant[2:]...)
	}
	k, n := len(d), x+1 // k digits, decimal point after n of them
	switch {
	case k <= n && n <= 21:
		dst = append(dst, d...)
		for range n - k {
			dst = append(dst, '0')
		}
	case 0 < n && n <= 21:
		dst = append(dst, d[:n]...)
		dst = append(dst, '.')
		dst = append(dst, d[n:]...)
	case -6 < n && n <= 0:
		dst = append(dst, '0', '.')
		for range -n {
			dst = append(dst, '0')
		}
		dst = append(dst, d...)
	default:
		dst = append(dst, d[0])
		if k > 1 {
			dst = append(dst, '.')
			dst = append(dst, d[1:]...)
		}
		dst = append(dst, 'e')
		if n-1 >= 0 {
			dst = append(dst, '+')
		}
		dst = strconv.AppendInt(dst, int64(n-1), 10)
	}
	return dst
}

const hexDigits = "0123456789abcdef"

// appendStringBytes is appendString for a byte slice.
func appendStringBytes(dst, s []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i, c := range s {
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		dst = appendEscape(dst, c)
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

func appendEscape(dst []byte, c byte) []byte {
	switch c {
	case '"':
		return append(dst, '\\', '"')
	case '\\':
		return append(dst, '\\', '\\')
	case '\b':
		return append(dst, '\\', 'b')
	case '\f':
		return append(dst, '\\', 'f')
	case '\n':
		return append(dst, '\\', 'n')
	case '\r':
		return append(dst, '\\', 'r')
	case '\t':
		return append(dst, '\\', 't')
	}
	return append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
}

// appendString writes s as a JSON string with RFC 8785's escapes.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		dst = appendEscape(dst, c)
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// compareUTF16 orders strings by their UTF-16 code units, as RFC 8785
// sorts member names. It differs from byte order only when a character
// beyond U+FFFF meets one in U+E000..U+FFFF.
func compareUTF16(a, b string) int {
	for a != "" && b != "" {
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		if ra != rb {
			ua, ub := utf16Units(ra), utf16Units(rb)
			if ua[0] != ub[0] {
				return int(ua[0]) - int(ub[0])
			}
			return int(ua[1]) - int(ub[1])
		}
		a, b = a[na:], b[nb:]
	}
	return len(a) - len(b)
}

func utf16Units(r rune) [2]uint16 {
	if r >= 0x10000 {
		h, l := utf16.EncodeRune(r)
		return [2]uint16{uint16(h), uint16(l)}
	}
	return [2]uint16{uint16(r), 0}
}

// TimeFormat is how entry and checkpoint times appear in canonical bytes:
// RFC 3339 in UTC with up to nine fractional digits, trailing zeros
// dropped (Go's time.RFC3339Nano).
const TimeFormat = time.RFC3339Nano

var errNoType = errors.New("entry type is empty")

// AppendEntryCanonical appends the canonical bytes of e without its hash:
// the RFC 8785 form of
//
//	{"actor":A,"data":D,"run_id":R,"seq":N,"time":T,"type":Y}
//
// where D is the canonical data or null when there is none, N the decimal
// seq and T the UTC time in TimeFormat. Every key is always present.
func AppendEntryCanonical(dst []byte, e store.AuditEntry) ([]byte, error) {
	dst = append(dst, `{"actor":`...)
	dst = appendString(dst, e.Actor)
	dst = append(dst, `,"data":`...)
	if len(bytes.TrimSpace(e.Data)) == 0 {
		dst = append(dst, "null"...)
	} else {
		var err error
		if dst, err = AppendCanonical(dst, e.Data); err != nil {
			return dst, fmt.Errorf("data: %w", err)
		}
	}
	dst = append(dst, `,"run_id":`...)
	dst = appendString(dst, e.RunID)
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendInt(dst, e.Seq, 10)
	dst = append(dst, `,"time":"`...)
	dst = e.Time.UTC().AppendFormat(dst, TimeFormat)
	dst = append(dst, `","type":`...)
	dst = appendString(dst, e.Type)
	return append(dst, '}'), nil
}

// AppendCheckpointCanonical appends the bytes a checkpoint signature
// covers: the RFC 8785 form of {"hash":H,"key_id":K,"seq":N,"time":T}.
func AppendCheckpointCanonical(dst []byte, c store.Checkpoint) []byte {
	dst = append(dst, `{"hash":`...)
	dst = appendString(dst, c.Hash)
	dst = append(dst, `,"key_id":`...)
	dst = appendString(dst, c.KeyID)
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendInt(dst, c.Seq, 10)
	dst = append(dst, `,"time":"`...)
	dst = c.Time.UTC().AppendFormat(dst, TimeFormat)
	return append(dst, `"}`...)
}
