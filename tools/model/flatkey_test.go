package model

import (
	"context"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// specialFloat32s are the values where an integer stand-in for a float
// comparison goes wrong first: both zeros, both infinities, the smallest
// and largest subnormals and normals of both signs, neighbours of 1.
var specialFloat32s = []float32{
	0, float32(math.Copysign(0, -1)),
	float32(math.Inf(1)), float32(math.Inf(-1)),
	math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32,
	math.Float32frombits(0x007fffff), -math.Float32frombits(0x007fffff), // largest subnormal
	math.Float32frombits(0x00800000), -math.Float32frombits(0x00800000), // smallest normal
	math.MaxFloat32, -math.MaxFloat32,
	1, -1, math.Nextafter32(1, 2), math.Nextafter32(1, 0), math.Nextafter32(-1, 0),
	0.1, -0.1, 2.5, -2.5, 1 << 24, -(1 << 24),
}

// nan32s are NaNs of both signs, quiet and signalling, with payloads.
var nan32s = []float32{
	float32(math.NaN()),
	math.Float32frombits(0x7fc00000), math.Float32frombits(0xffc00000),
	math.Float32frombits(0x7f800001), math.Float32frombits(0xff800001),
	math.Float32frombits(0x7fffffff), math.Float32frombits(0xffffffff),
}

// checkOrderKey is the property the flat layout rests on: for non-NaN
// a, b, a < b exactly when orderKey(a) < orderKey(b), a == b exactly
// when the keys are equal, and every key lies strictly between 0 and
// MaxUint32 (the keys a missing value takes).
func checkOrderKey(t *testing.T, a, b float32) {
	t.Helper()
	if a != a || b != b {
		return
	}
	ka, kb := orderKey(a), orderKey(b)
	require.Equal(t, a < b, ka < kb, "%g (%#x) < %g (%#x)", a, ka, b, kb)
	require.Equal(t, a == b, ka == kb, "%g (%#x) == %g (%#x)", a, ka, b, kb)
	require.Equal(t, a >= b, ka >= kb, "%g (%#x) >= %g (%#x)", a, ka, b, kb)
	for _, k := range []uint32{ka, kb} {
		require.Greater(t, k, uint32(0))
		require.Less(t, k, uint32(math.MaxUint32))
	}
}

func TestOrderKeySortsAsFloat32(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]float32, 0, 400)
	for range 200 {
		random = append(random, math.Float32frombits(rng.Uint32()), float32(rng.NormFloat64()))
	}
	cases := []struct {
		name string
		a, b []float32
	}{
		{"special against special", specialFloat32s, specialFloat32s},
		{"special against random", specialFloat32s, random},
		{"random against random", random, random},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			for _, a := range c.a {
				for _, b := range c.b {
					checkOrderKey(t, a, b)
				}
			}
		})
	}
}

func FuzzOrderKey(f *testing.F) {
	for _, a := range specialFloat32s {
		f.Add(math.Float32bits(a), math.Float32bits(-a))
	}
	f.Fuzz(func(t *testing.T, a, b uint32) {
		checkOrderKey(t, math.Float32frombits(a), math.Float32frombits(b))
	})
}

// flatKeys must give a missing value (NaN, or equal as float32 to the
// model's missing value) 0 and MaxUint32, and every other value its
// orderKey in both halves.
func TestFlatKeysMarksMissingValues(t *testing.T) {
	t.Parallel()
	negZero := math.Copysign(0, -1)
	row := []float64{
		math.NaN(), math.Float64frombits(0xfff8000000000001), 0, negZero, 1, -1, 0.1, float64(float32(0.1)),
		1e39, -1e39, math.SmallestNonzeroFloat64, -999, math.Inf(1), math.Inf(-1), 3.4028235677973366e38,
	}
	cases := []struct {
		name string
		miss float32
	}{
		{"NaN only", float32(math.NaN())},
		{"zero", 0},
		{"negative zero", float32(negZero)},
		{"float32 of 0.1", 0.1},
		{"-999", -999},
		{"+Inf", float32(math.Inf(1))},
		{"-Inf", float32(math.Inf(-1))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dst := make([]uint32, 2*len(row))
			flatKeys(row, orderKey(c.miss), dst)
			for j, x := range row {
				v := float32(x)
				lo, hi := dst[j], dst[len(row)+j]
				if v != v || v == c.miss {
					require.Equal(t, uint32(0), lo, "value %d (%g) is missing", j, x)
					require.Equal(t, uint32(math.MaxUint32), hi, "value %d (%g) is missing", j, x)
					continue
				}
				require.Equal(t, orderKey(v), lo, "value %d (%g)", j, x)
				require.Equal(t, orderKey(v), hi, "value %d (%g)", j, x)
			}
		})
	}
}

// edgeModel is randomModel with split conditions moved, one in three, to
// a special float32 (both zeros, infinities, subnormals), so that the
// keys' order is exercised where it is easiest to get wrong.
func edgeModel(t testing.TB, rng *rand.Rand, trees, nf, depth int) *XGBoost {
	t.Helper()
	m := randomModel(t, rng, trees, nf, depth, 1, false)
	for i := range m.nodes {
		if m.nodes[i].left >= 0 && rng.IntN(3) == 0 {
			m.nodes[i].cond = specialFloat32s[rng.IntN(len(specialFloat32s))]
		}
	}
	m.buildFlat()
	return m
}

// edgeBatch is randomBatch with values, one in four, from the special
// float32s (as float64, ±Inf replaced by ±1e39: finite, and ±Inf in
// float32) or their float64 neighbours.
func edgeBatch(rng *rand.Rand, rows, nf int) Batch {
	b := randomBatch(rng, rows, nf)
	for i := range b.Values {
		switch rng.IntN(8) {
		case 0:
			b.Values[i] = float64(specialFloat32s[rng.IntN(len(specialFloat32s))])
		case 1:
			b.Values[i] = math.Nextafter(float64(specialFloat32s[rng.IntN(len(specialFloat32s))]), rng.NormFloat64())
		}
	}
	for i, v := range b.Values {
		if math.IsInf(v, 0) || i%97 == 0 {
			// Refused as float64; as float32 it is what 1e39 becomes.
			b.Values[i] = math.Copysign(1e39, v)
		}
	}
	return b
}

// The flat layout against the pointer walk, bit for bit, on conditions
// and values at float32's edges, with each kind of missing value, all
// depths the flat layout takes (1 and 2 padded to 3, 3 unrolled, 4 to 8
// by the loop), 1 and 2 threads, and batches whose columns are not the
// model's (the gather path) or have one more after them.
func TestFlatLayoutEqualsWalkOnEdgeValues(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		depth  int
		miss   float64
		setMis bool
	}{
		{"depth 1, NaN missing", 1, 0, false},
		{"depth 2, zero missing", 2, 0, true},
		{"depth 3, NaN missing", 3, 0, false},
		{"depth 3, zero missing", 3, 0, true},
		{"depth 3, negative zero missing", 3, math.Copysign(0, -1), true},
		{"depth 3, -999 missing", 3, -999, true},
		{"depth 3, +Inf missing", 3, math.Inf(1), true},
		{"depth 4, 0.1 missing", 4, 0.1, true},
		{"depth 8, NaN missing", 8, 0, false},
	}
	for seed, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(uint64(seed), 7))
			m := edgeModel(t, rng, 40, 7, c.depth)
			require.NotNil(t, m.flat)
			if c.setMis {
				m.SetMissing(c.miss)
			}
			b := edgeBatch(rng, 700+rng.IntN(100), 7)
			if c.miss == math.Inf(1) {
				// +Inf is then a missing value, not an error.
				for i := 0; i < len(b.Values); i += 53 {
					b.Values[i] = math.Inf(1)
				}
			}
			// The same rows with the columns reversed and one more:
			// the model reads them by name.
			shuffled := Batch{Rows: b.Rows, Features: append([]string{"extra"}, reversed(b.Features)...)}
			for i := 0; i < b.Rows; i++ {
				shuffled.Values = append(shuffled.Values, rng.NormFloat64())
				shuffled.Values = append(shuffled.Values, reversed(b.Row(i))...)
			}
			// And with one more column after the model's: read in place.
			trailing := Batch{Rows: b.Rows, Features: append(append([]string{}, b.Features...), "extra")}
			for i := 0; i < b.Rows; i++ {
				trailing.Values = append(trailing.Values, b.Row(i)...)
				trailing.Values = append(trailing.Values, rng.NormFloat64())
			}
			m.features = b.Features
			ref := walkOnly(m)
			want, err := ref.Predict(context.Background(), b)
			require.NoError(t, err)
			for _, threads := range []int{1, 2} {
				m.SetThreads(threads)
				for _, in := range []Batch{b, shuffled, trailing} {
					got, err := m.Predict(context.Background(), in)
					require.NoError(t, err)
					for i := range want.Values {
						require.Equal(t, math.Float64bits(want.Values[i]), math.Float64bits(got.Values[i]), "value %d", i)
					}
				}
			}
		})
	}
}

func reversed[T any](s []T) []T {
	out := make([]T, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}

// FuzzFlatEqualsWalk scores one random model (drawn from the seed) on
// rows whose values are arbitrary float64 bit patterns from the fuzzer:
// the flat layout and the pointer walk give the same bits, or the same
// error (an infinite value).
func FuzzFlatEqualsWalk(f *testing.F) {
	seed := make([]byte, 0, 8*16)
	for _, v := range specialFloat32s[:16] {
		seed = binary.LittleEndian.AppendUint64(seed, math.Float64bits(float64(v)))
	}
	f.Add(uint64(1), uint8(3), seed)
	f.Add(uint64(2), uint8(1), []byte{0, 0, 0, 0, 0, 0, 0xf8, 0x7f})
	f.Add(uint64(3), uint8(6), []byte("any bytes at all, read eight at a time"))
	f.Fuzz(func(t *testing.T, s uint64, depth uint8, raw []byte) {
		const nf = 4
		rng := rand.New(rand.NewPCG(s, 11))
		m := edgeModel(t, rng, 12, nf, 1+int(depth%7))
		if rng.IntN(2) == 0 {
			m.SetMissing(float64(specialFloat32s[rng.IntN(len(specialFloat32s))]))
		}
		rows := len(raw) / (8 * nf)
		if rows == 0 {
			return
		}
		b := Batch{Rows: rows, Values: make([]float64, rows*nf)}
		for j := range nf {
			b.Features = append(b.Features, "f"+string(rune('0'+j)))
		}
		for i := range b.Values {
			b.Values[i] = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:]))
		}
		want, werr := walkOnly(m).Predict(context.Background(), b)
		got, gerr := m.Predict(context.Background(), b)
		if werr != nil || gerr != nil {
			require.Error(t, werr)
			require.Error(t, gerr)
			require.Equal(t, werr.Error(), gerr.Error())
			return
		}
		for i := range want.Values {
			require.Equal(t, math.Float64bits(want.Values[i]), math.Float64bits(got.Values[i]), "value %d", i)
		}
	})
}

// The flat layout finds infinite values during its key pass instead of
// before it: the error must be the one the up-front check gives (the
// first such row and column), on one thread and two, and a value that
// is only infinite in float32 (1e39) or is the missing value is scored.
func TestFlatLayoutRefusesInfinityAsTheWalkDoes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		put     map[int]float64 // value index → value
		missing float64         // 0: NaN only
		wantErr string
	}{
		{"+Inf late in the batch", map[int]float64{5000*7 + 3: math.Inf(1)}, 0, `row 5001 column "f3": +Inf`},
		{"the first of two", map[int]float64{4000*7 + 6: math.Inf(-1), 9*7 + 1: math.Inf(1)}, 0, `row 10 column "f1": +Inf`},
		{"1e39 is +Inf in float32 only", map[int]float64{17: 1e39, 900: -1e39}, 0, ""},
		{"the missing value", map[int]float64{17: math.Inf(1)}, math.Inf(1), ""},
	}
	for seed, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(uint64(seed), 13))
			m := randomModel(t, rng, 20, 7, 3, 1, false)
			if c.missing != 0 {
				m.SetMissing(c.missing)
			}
			b := randomBatch(rng, 6000, 7)
			for i, v := range c.put {
				b.Values[i] = v
			}
			want, werr := walkOnly(m).Predict(context.Background(), b)
			for _, threads := range []int{1, 2} {
				m.SetThreads(threads)
				got, err := m.Predict(context.Background(), b)
				if c.wantErr != "" {
					require.ErrorContains(t, werr, c.wantErr)
					require.Error(t, err)
					require.Equal(t, werr.Error(), err.Error())
					var ve *ValueError
					require.ErrorAs(t, err, &ve)
					continue
				}
				require.NoError(t, werr)
				require.NoError(t, err)
				require.Equal(t, want.Values, got.Values)
			}
		})
	}
}

// A -0 leaf must reach the sums as -0 on every path (the multiclass and
// dart paths gather leaves in a buffer first): with a -0 base margin
// and an identity output, +0 instead would flip the output's sign bit.
func TestFlatLayoutKeepsNegativeZeroLeaves(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		groups int
		dart   bool
	}{
		{"binary", 1, false},
		{"dart", 1, true},
		{"multiclass", 3, false},
	}
	for seed, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(uint64(seed), 17))
			m := randomModel(t, rng, 12, 5, 3, c.groups, c.dart)
			for i := range m.nodes {
				if m.nodes[i].left < 0 {
					m.nodes[i].cond = float32(math.Copysign(0, -1))
				}
			}
			m.base = float32(math.Copysign(0, -1))
			if c.groups == 1 {
				m.obj = objectives["reg:squarederror"]
			} else {
				m.obj.transform = identityAll // the margins themselves
			}
			m.buildFlat()
			b := randomBatch(rng, 300, 5)
			want, err := walkOnly(m).Predict(context.Background(), b)
			require.NoError(t, err)
			got, err := m.Predict(context.Background(), b)
			require.NoError(t, err)
			for i := range want.Values {
				require.Equal(t, math.Float64bits(want.Values[i]), math.Float64bits(got.Values[i]), "value %d", i)
			}
			require.True(t, math.Signbit(got.Values[0]), "the margin is -0")
		})
	}
}
