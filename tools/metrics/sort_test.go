package metrics

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// refSortDesc is the order SortDesc promises, by a comparison sort: value
// descending, +0 before -0, ties in row order.
func refSortDesc(v []float64) []int32 {
	idx := make([]int32, len(v))
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortStableFunc(idx, func(i, j int32) int {
		a, b := v[i], v[j]
		switch {
		case a > b:
			return -1
		case a < b:
			return 1
		case math.Signbit(a) == math.Signbit(b):
			return 0
		case math.Signbit(b): // +0 before -0
			return -1
		}
		return 1
	})
	return idx
}

// checkSort compares sortDesc (indices, labels carried in the top bit, and
// the sorted values bit for bit) with the comparison sort.
func checkSort(v []float64) error {
	y := make([]float64, len(v))
	for i := range y {
		y[i] = float64(i % 3 % 2)
	}
	want := refSortDesc(v)
	got, sorted := sortDesc(v, y)
	if len(got) != len(want) || len(sorted) != len(v) {
		return fmt.Errorf("%d indices, %d values for %d rows", len(got), len(sorted), len(v))
	}
	for i := range want {
		j := got[i] & indexMask
		if j != want[i] {
			return fmt.Errorf("position %d: row %d (%v), want row %d (%v)", i, j, v[j], want[i], v[want[i]])
		}
		if (got[i] < 0) != (y[j] == 1) {
			return fmt.Errorf("position %d: row %d's label bit lost", i, j)
		}
		if math.Float64bits(sorted[i]) != math.Float64bits(v[j]) {
			return fmt.Errorf("position %d: sorted value %v, row %d is %v", i, sorted[i], j, v[j])
		}
	}
	return nil
}

// The three passes on the top 36 bits and the run pass after them order
// every shape of input exactly as a stable comparison sort: model-like
// scores (runs of one or two), ties (runs that only need counting),
// scores packed closer than 2^-24 (runs the top bits cannot split, short
// ones by insertion, long ones by the 7- and 14-bit low radix), signs,
// zeros of both signs, subnormals and infinities.
func TestSortDescEqualsComparisonSort(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 11))
	gen := func(n int, f func(i int) float64) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = f(i)
		}
		return v
	}
	model := func(int) float64 {
		x := rng.NormFloat64() - 3.5
		return math.Round(1/(1+math.Exp(-x))*1e10) / 1e10
	}
	packed := func(width int) func(int) float64 {
		return func(int) float64 { return 0.5 + float64(rng.IntN(width))*0x1p-52 }
	}
	cases := []struct {
		name string
		v    []float64
	}{
		{"empty", nil},
		{"one", []float64{0.25}},
		{"two", []float64{0.25, 0.75}},
		{"model scores", gen(200_000, model)},
		{"ties: two values", gen(100_000, func(i int) float64 { return float64(rng.IntN(2)) })},
		{"ties: all equal", gen(50_000, func(int) float64 { return 0.3 })},
		{"ties: 1000 values", gen(100_000, func(int) float64 { return float64(rng.IntN(1000)) / 1000 })},
		{"packed: short runs", gen(100_000, packed(1<<40))},
		{"packed: mid runs", gen(100_000, packed(1<<32))},
		{"packed: one long run", gen(60_000, packed(1<<28-1))},
		{"packed: long run with ties", gen(60_000, packed(1000))},
		{"every sign and class", gen(100_000, func(int) float64 {
			switch rng.IntN(8) {
			case 0:
				return 0
			case 1:
				return math.Copysign(0, -1)
			case 2:
				return math.Inf(1)
			case 3:
				return math.Inf(-1)
			case 4:
				return math.Float64frombits(rng.Uint64N(1 << 52)) // subnormal
			case 5:
				return -rng.Float64()
			}
			return rng.NormFloat64() * 1e6
		})},
		{"descending already", gen(70_000, func(i int) float64 { return 1 - float64(i)/70_000 })},
		{"ascending", gen(70_000, func(i int) float64 { return float64(i) / 70_000 })},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if err := checkSort(c.v); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// FuzzSortDesc: any float64s but NaN (the callers reject NaN), read from
// the fuzzer's bytes, or small integers to make ties, sort as the
// comparison sort does.
func FuzzSortDesc(f *testing.F) {
	f.Add([]byte{}, false)
	f.Add([]byte("\x00\x00\x00\x00\x00\x00\xe0\x3f\x00\x00\x00\x00\x00\x00\xe0\x3f\x01\x00\x00\x00\x00\x00\xe0\x3f"), false)
	f.Add([]byte("\x03\x01\x02\x03\x01\x00\x00\x02"), true)
	f.Fuzz(func(t *testing.T, b []byte, small bool) {
		var v []float64
		if small {
			for _, c := range b {
				v = append(v, float64(c%5)/4)
			}
		} else {
			for len(b) >= 8 {
				x := math.Float64frombits(binary.LittleEndian.Uint64(b))
				b = b[8:]
				if !math.IsNaN(x) {
					v = append(v, x)
				}
			}
		}
		if err := checkSort(v); err != nil {
			t.Fatal(err)
		}
	})
}

// From concurrentRows on, Binary computes its passes side by side; every
// metric is the one the passes give one after the other, bit for bit.
func TestBinaryConcurrentEqualsSequential(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 8))
	n := concurrentRows + 12345
	y := make([]float64, n)
	p := make([]float64, n)
	for i := range y {
		x := rng.NormFloat64() - 2
		if rng.Float64() < 0.1 {
			y[i] = 1
			x += 2
		}
		p[i] = math.Round(1/(1+math.Exp(-x))*1e6) / 1e6 // ties as well
	}
	d, err := NewBinaryData(y, p)
	if err != nil {
		t.Fatal(err)
	}
	for _, th := range []float64{0.5, 0.1, 0.9} {
		want, got := d.binarySequential(th, nil), d.Binary(th, nil)
		if got != want {
			t.Fatalf("threshold %g: concurrent %+v, sequential %+v", th, got, want)
		}
	}
}

// The per-row losses are only built for weighted calls; with every weight
// 1 the weighted log-loss is the unweighted one bit for bit (1·l is l, the
// weights sum to n exactly), float32 scores included, and concurrent
// first weighted calls build them once.
func TestLazyLossesEqualTheSum(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(2, 9))
	n := 50_000
	y := make([]float64, n)
	p := make([]float64, n)
	ones := make([]float64, n)
	for i := range y {
		y[i] = float64(rng.IntN(2))
		p[i] = rng.Float64()
		ones[i] = 1
	}
	p[0], p[1] = 0, 1 // clipped at eps
	for _, f32 := range []bool{false, true} {
		d, err := newBinaryData(y, p, f32)
		if err != nil {
			t.Fatal(err)
		}
		want := d.LogLoss(nil)
		got := make([]float64, 4)
		done := make(chan int)
		for k := range got {
			go func() { got[k] = d.LogLoss(ones); done <- k }()
		}
		for range got {
			<-done
		}
		for _, g := range got {
			if math.Float64bits(g) != math.Float64bits(want) {
				t.Fatalf("float32 %v: weighted %v, unweighted %v", f32, g, want)
			}
		}
	}
}
