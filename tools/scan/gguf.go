package scan

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"regexp"
	"strings"
)

// ggmlTypes gives each known tensor type its block size (elements) and
// bytes per block, from ggml.h; unknown types skip the size check.
var ggmlTypes = map[uint32][2]uint64{
	0: {1, 4}, 1: {1, 2}, 2: {32, 18}, 3: {32, 20}, 6: {32, 22}, 7: {32, 24}, 8: {32, 34}, 9: {32, 36},
	10: {256, 84}, 11: {256, 110}, 12: {256, 144}, 13: {256, 176}, 14: {256, 210}, 15: {256, 292},
	24: {1, 1}, 25: {1, 2}, 26: {1, 4}, 27: {1, 8}, 28: {1, 8}, 30: {1, 2},
}

// Jinja chat templates run in the loader (llama-cpp-python's
// CVE-2024-34359 ran code from one); these are the sandbox escapes.
var templateEscape = regexp.MustCompile(`__(class|globals|subclasses|mro|base|bases|builtins|init|import)__|\bimport\s*\(|\bos\.|\bpopen\b|\bsubprocess\b|\beval\s*\(|\bexec\s*\(`)

type ggufReader struct {
	r    *bufio.Reader
	off  int64
	size int64
	v    uint32
}

var errGGUF = errors.New("gguf")

func (g *ggufReader) read(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(g.r, b); err != nil {
		return nil, fmt.Errorf("%w: truncated at offset %d", errGGUF, g.off)
	}
	g.off += int64(n)
	return b, nil
}

func (g *ggufReader) u32() (uint32, error) {
	b, err := g.read(4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (g *ggufReader) u64() (uint64, error) {
	b, err := g.read(8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

// count reads a length or count: 32-bit in version 1, 64-bit after.
func (g *ggufReader) count() (uint64, error) {
	if g.v == 1 {
		x, err := g.u32()
		return uint64(x), err
	}
	return g.u64()
}

func (g *ggufReader) str(keep bool) (string, error) {
	n, err := g.count()
	if err != nil {
		return "", err
	}
	if n > uint64(g.size-g.off) {
		return "", fmt.Errorf("%w: string of %d bytes at offset %d runs past the end of the file", errGGUF, n, g.off)
	}
	if !keep || n > 16<<20 {
		m, err := g.r.Discard(int(n))
		g.off += int64(m)
		if err != nil {
			return "", fmt.Errorf("%w: truncated string at offset %d", errGGUF, g.off)
		}
		return "", nil
	}
	b, err := g.read(int(n))
	return string(b), err
}

var ggufScalar = map[uint32]int{0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}

func (g *ggufReader) value(t uint32, key string, depth int, onStr func(key, v string)) (uint64, error) {
	if n, ok := ggufScalar[t]; ok {
		b, err := g.read(n)
		if err != nil {
			return 0, err
		}
		var x uint64
		for i := n - 1; i >= 0; i-- {
			x = x<<8 | uint64(b[i])
		}
		return x, nil
	}
	switch t {
	case 8:
		s, err := g.str(true)
		if err == nil && s != "" {
			onStr(key, s)
		}
		return 0, err
	case 9:
		if depth > 3 {
			return 0, fmt.Errorf("%w: arrays nested deeper than 3 at offset %d", errGGUF, g.off)
		}
		et, err := g.u32()
		if err != nil {
			return 0, err
		}
		n, err := g.count()
		if err != nil {
			return 0, err
		}
		if sz, ok := ggufScalar[et]; ok {
			if hi, lo := bits.Mul64(n, uint64(sz)); hi != 0 || lo > uint64(g.size-g.off) {
				return 0, fmt.Errorf("%w: array %q of %d items runs past the end of the file", errGGUF, key, n)
			}
			m, err := g.r.Discard(int(n) * sz)
			g.off += int64(m)
			return 0, err
		}
		if n > uint64(g.size-g.off) {
			return 0, fmt.Errorf("%w: array %q of %d items cannot fit in the file", errGGUF, key, n)
		}
		for i := uint64(0); i < n; i++ {
			// token lists hold hundreds of thousands of short strings; only
			// scalar metadata matters for secrets and templates
			if et == 8 {
				if _, err := g.str(false); err != nil {
					return 0, err
				}
				continue
			}
			if _, err := g.value(et, key, depth+1, onStr); err != nil {
				return 0, err
			}
		}
		return 0, nil
	}
	return 0, fmt.Errorf("%w: unknown metadata value type %d for %q at offset %d", errGGUF, t, key, g.off)
}

func (s *scanner) scanGGUF(f io.ReaderAt, size int64) bool {
	err := s.gguf(f, size)
	if err != nil {
		return s.invalid("scan.invalid.gguf", "", "%s", strings.TrimPrefix(err.Error(), "gguf: "))
	}
	return false
}

func (s *scanner) gguf(f io.ReaderAt, size int64) error {
	g := &ggufReader{r: bufio.NewReaderSize(io.NewSectionReader(f, 0, size), bufFor(size)), size: size}
	if _, err := g.read(4); err != nil {
		return err
	}
	v, err := g.u32()
	if err != nil {
		return err
	}
	if v < 1 || v > 3 {
		return fmt.Errorf("%w: unsupported version %d", errGGUF, v)
	}
	g.v = v
	nt, err := g.count()
	if err != nil {
		return err
	}
	nkv, err := g.count()
	if err != nil {
		return err
	}
	if nt > 1<<24 || nkv > 1<<24 {
		return fmt.Errorf("%w: %d tensors and %d metadata entries is beyond any real model", errGGUF, nt, nkv)
	}
	align := uint64(32)
	onStr := func(key, val string) {
		if strings.Contains(key, "chat_template") && templateEscape.MatchString(val) {
			s.res.add(Finding{Severity: Critical, Code: "scan.gguf.template", Location: "metadata " + key,
				Message: "chat template reaches Python internals (" + templateEscape.FindString(val) + "): Jinja sandbox escape, runs code in the loader"})
		}
		if s.o.secrets() {
			s.secretsIn(val, "metadata "+key)
		}
	}
	for i := uint64(0); i < nkv; i++ {
		key, err := g.str(true)
		if err != nil {
			return err
		}
		t, err := g.u32()
		if err != nil {
			return err
		}
		x, err := g.value(t, key, 0, onStr)
		if err != nil {
			return err
		}
		if key == "general.alignment" {
			if x == 0 || x&(x-1) != 0 || x > 1<<20 {
				return fmt.Errorf("%w: general.alignment %d is not a power of two", errGGUF, x)
			}
			align = x
		}
	}
	type tinfo struct {
		name      string
		off, size uint64
	}
	var ts []tinfo
	for i := uint64(0); i < nt; i++ {
		name, err := g.str(true)
		if err != nil {
			return err
		}
		nd, err := g.u32()
		if err != nil {
			return err
		}
		if nd > 4 {
			return fmt.Errorf("%w: tensor %q has %d dimensions (at most 4)", errGGUF, name, nd)
		}
		n := uint64(1)
		for d := uint32(0); d < nd; d++ {
			x, err := g.count()
			if err != nil {
				return err
			}
			hi, lo := bits.Mul64(n, x)
			if hi != 0 {
				return fmt.Errorf("%w: tensor %q shape overflows", errGGUF, name)
			}
			n = lo
		}
		typ, err := g.u32()
		if err != nil {
			return err
		}
		off, err := g.u64()
		if err != nil {
			return err
		}
		if off%align != 0 {
			return fmt.Errorf("%w: tensor %q offset %d is not aligned to %d", errGGUF, name, off, align)
		}
		var sz uint64
		if bt, ok := ggmlTypes[typ]; ok {
			if n%bt[0] != 0 {
				return fmt.Errorf("%w: tensor %q has %d elements, not a multiple of its type's block of %d", errGGUF, name, n, bt[0])
			}
			sz = n / bt[0] * bt[1]
		}
		ts = append(ts, tinfo{name, off, sz})
	}
	dataStart := (uint64(g.off) + align - 1) / align * align
	if dataStart > uint64(size) {
		return fmt.Errorf("%w: tensor data would start at %d, past the end of the %d-byte file", errGGUF, dataStart, size)
	}
	avail := uint64(size) - dataStart
	for _, t := range ts {
		if t.off > avail || t.size > avail-t.off {
			return fmt.Errorf("%w: tensor %q data [%d, %d) runs past the end of the file (%d data bytes)", errGGUF, t.name, t.off, t.off+t.size, avail)
		}
	}
	return nil
}
