package scan

import (
	"bufio"
	"encoding/binary"
	"io"
	"math/bits"
	"regexp"
	"strconv"
	"strings"
)

func bufioReader(r io.Reader) *bufio.Reader { return bufio.NewReaderSize(r, 64<<10) }

var (
	npyDescr = regexp.MustCompile(`'descr'\s*:\s*('([^']*)'|\[)`)
	npyShape = regexp.MustCompile(`'shape'\s*:\s*\(([^)]*)\)`)
	npyObj   = regexp.MustCompile(`'\|?O\d*'`)
)

// scanNpy checks a .npy stream: magic, version, a header dict with
// descr, fortran_order and shape, and a data section of the size the
// header declares. An object dtype means the data is a pickle, which
// np.load runs when allow_pickle=True; that pickle is walked.
func (s *scanner) scanNpy(br *bufio.Reader, size int64, prefix string) bool {
	pre := make([]byte, 8)
	if _, err := io.ReadFull(br, pre); err != nil {
		return s.invalid("scan.invalid.numpy", prefix, "truncated .npy preamble")
	}
	major := pre[6]
	var hlen uint64
	var off int64
	switch major {
	case 1:
		var b [2]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return s.invalid("scan.invalid.numpy", prefix, "truncated .npy header length")
		}
		hlen, off = uint64(binary.LittleEndian.Uint16(b[:])), 10
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return s.invalid("scan.invalid.numpy", prefix, "truncated .npy header length")
		}
		hlen, off = uint64(binary.LittleEndian.Uint32(b[:])), 12
	default:
		return s.invalid("scan.invalid.numpy", prefix, "unsupported .npy version %d.%d", pre[6], pre[7])
	}
	if hlen > 1<<20 || int64(hlen) > size-off {
		return s.invalid("scan.invalid.numpy", prefix, "header length %d does not fit in the %d-byte file", hlen, size)
	}
	hb := make([]byte, hlen)
	if _, err := io.ReadFull(br, hb); err != nil {
		return s.invalid("scan.invalid.numpy", prefix, "truncated .npy header")
	}
	off += int64(hlen)
	h := string(hb)
	if !strings.HasPrefix(strings.TrimSpace(h), "{") {
		return s.invalid("scan.invalid.numpy", prefix, "header is not a dict literal")
	}
	dm := npyDescr.FindStringSubmatch(h)
	sm := npyShape.FindStringSubmatch(h)
	if dm == nil || sm == nil || !strings.Contains(h, "'fortran_order'") {
		return s.invalid("scan.invalid.numpy", prefix, "header lacks descr, fortran_order or shape: %q", trunc(h, 120))
	}
	object := npyObj.MatchString(h)
	if object {
		s.res.add(Finding{Severity: Medium, Code: "scan.numpy.object", Location: prefix,
			Message: "object dtype: the array is a pickle that np.load runs when allow_pickle=True"})
		_, inv := s.scanPickleReader(br, size-off, loc(prefix, off), true)
		return inv
	}
	count := uint64(1)
	for _, d := range strings.Split(sm[1], ",") {
		d = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(d), "L"))
		if d == "" {
			continue
		}
		n, err := strconv.ParseUint(d, 10, 64)
		if err != nil {
			return s.invalid("scan.invalid.numpy", prefix, "shape entry %q is not a non-negative integer", d)
		}
		hi, lo := bits.Mul64(count, n)
		if hi != 0 {
			return s.invalid("scan.invalid.numpy", prefix, "shape (%s) overflows", sm[1])
		}
		count = lo
	}
	if dm[2] == "" && dm[1] == "[" {
		return false // structured dtype: item size needs the full descr grammar; the data is raw bytes either way
	}
	item, ok := npyItemSize(dm[2])
	if !ok {
		return s.invalid("scan.invalid.numpy", prefix, "unknown dtype descr %q", dm[2])
	}
	hi, want := bits.Mul64(count, item)
	if hi != 0 || want != uint64(size-off) {
		return s.invalid("scan.invalid.numpy", prefix, "data section is %d bytes, the header declares %s × %d = %d", size-off, sm[1], item, want)
	}
	return false
}

func npyItemSize(d string) (uint64, bool) {
	c := strings.TrimLeft(d, "<>|=")
	if c == "" {
		return 0, false
	}
	if c == "?" || c == "b" || c == "B" {
		return 1, true
	}
	digits := c[1:]
	if i := strings.IndexByte(digits, '['); i >= 0 {
		digits = digits[:i]
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	if err != nil {
		return 0, false
	}
	switch c[0] {
	case 'f', 'i', 'u', 'c', 'b', 'S', 'a', 'V', 'M', 'm':
		return n, true
	case 'U':
		return 4 * n, true
	}
	return 0, false
}

func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
