package gateway

import (
	"encoding/json"
	"fmt"
	"math"
)

// Histogram is a log-linear latency histogram (HDR-style): 16 buckets per
// power of two from 2⁻¹⁰ ms to 2²⁰ ms, so a bucket is at most 6.25 % wide
// and every power of two is a bucket edge. Counts only ever grow, so two
// histograms of the same gateway subtract to a window, and histograms of
// several gateways add to their joint traffic: that is what makes
// percentiles mergeable where averages of per-gateway percentiles are not.
// Adding is a few integer operations on a fixed array: no allocation on
// the request path.
type Histogram struct {
	Counts [histBuckets]uint64
	Sum    float64 // of the recorded values, for exact means
}

const (
	histSub     = 16 // buckets per power of two
	histMinExp  = -10
	histMaxExp  = 20
	histBuckets = 1 + (histMaxExp-histMinExp)*histSub + 1 // underflow, the log-linear range, overflow
)

// histIndex is v's bucket: 0 below 2⁻¹⁰ (and for NaN or negatives), the
// last one at or above 2²⁰.
func histIndex(v float64) int {
	if !(v >= 0x1p-10) { // 2^histMinExp
		return 0
	}
	bits := math.Float64bits(v)
	exp := int(bits>>52&0x7ff) - 1023
	if exp >= histMaxExp {
		return histBuckets - 1
	}
	sub := int(bits >> (52 - 4) & (histSub - 1))
	return 1 + (exp-histMinExp)*histSub + sub
}

// histLower is the smallest value in bucket i (for i ≥ 1).
func histLower(i int) float64 {
	if i <= 0 {
		return 0
	}
	if i >= histBuckets-1 {
		return math.Ldexp(1, histMaxExp)
	}
	i--
	exp, sub := histMinExp+i/histSub, i%histSub
	return math.Ldexp(1+float64(sub)/histSub, exp)
}

// Add records one value.
func (h *Histogram) Add(v float64) {
	h.Counts[histIndex(v)]++
	h.Sum += v
}

// N is the number of values recorded.
func (h *Histogram) N() uint64 {
	var n uint64
	for _, c := range h.Counts {
		n += c
	}
	return n
}

// Merge adds o's counts to h.
func (h *Histogram) Merge(o *Histogram) {
	for i, c := range o.Counts {
		h.Counts[i] += c
	}
	h.Sum += o.Sum
}

// Since is h minus an earlier state of the same counters; a bucket that
// went down (the counters were reset) counts whole.
func (h *Histogram) Since(from *Histogram) Histogram {
	var out Histogram
	reset := false
	for i, c := range h.Counts {
		if from.Counts[i] > c {
			reset = true
			break
		}
		out.Counts[i] = c - from.Counts[i]
	}
	if reset {
		return *h
	}
	out.Sum = h.Sum - from.Sum
	return out
}

// Quantile estimates the q-quantile: the bucket holding rank q·(n−1), by
// linear interpolation inside it (the overflow bucket answers its lower
// edge). 0 for an empty histogram, like the exact Quantile.
func (h *Histogram) Quantile(q float64) float64 {
	n := h.N()
	if n == 0 {
		return 0
	}
	rank := q * float64(n-1)
	var cum uint64
	for i, c := range h.Counts {
		if c == 0 {
			continue
		}
		if float64(cum+c) > rank {
			lo := histLower(i)
			if i == 0 || i == histBuckets-1 {
				return lo
			}
			hi := histLower(i + 1)
			frac := (rank - float64(cum) + 0.5) / float64(c)
			return lo + (hi-lo)*math.Min(1, math.Max(0, frac))
		}
		cum += c
	}
	return histLower(histBuckets - 1)
}

// Mean is Sum / N; 0 when empty.
func (h *Histogram) Mean() float64 {
	if n := h.N(); n > 0 {
		return h.Sum / float64(n)
	}
	return 0
}

// buckets is the coarse cumulative view VersionStats reports (le counts
// at bucketBounds): a fine bucket counts under the first bound at or above
// its midpoint, exact at powers of two, within one bucket (6.25 %)
// elsewhere.
func (h *Histogram) buckets() []Bucket {
	out := make([]Bucket, len(bucketBounds))
	var cum uint64
	i := 0
	for b, le := range bucketBounds {
		for ; i < histBuckets; i++ {
			mid := histLower(i)
			if i > 0 && i < histBuckets-1 {
				mid = (histLower(i) + histLower(i+1)) / 2
			}
			if mid > le {
				break
			}
			cum += h.Counts[i]
		}
		out[b] = Bucket{LeMs: le, Count: cum}
	}
	out[len(out)-1] = Bucket{LeMs: math.MaxFloat64, Count: h.N()} // JSON has no +Inf
	return out
}

// histJSON is the sparse wire form: [bucket, count] pairs of the non-empty
// buckets.
type histJSON struct {
	Sum     float64     `json:"sum"`
	Buckets [][2]uint64 `json:"buckets"`
}

// MarshalJSON writes the non-empty buckets only.
func (h Histogram) MarshalJSON() ([]byte, error) {
	w := histJSON{Sum: h.Sum, Buckets: [][2]uint64{}}
	for i, c := range h.Counts {
		if c > 0 {
			w.Buckets = append(w.Buckets, [2]uint64{uint64(i), c})
		}
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads the sparse form, refusing a bucket out of range.
func (h *Histogram) UnmarshalJSON(b []byte) error {
	var w histJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return fmt.Errorf("latency histogram: %w", err)
	}
	*h = Histogram{Sum: w.Sum}
	for _, p := range w.Buckets {
		if p[0] >= histBuckets {
			return fmt.Errorf("latency histogram: bucket %d out of range (0..%d)", p[0], histBuckets-1)
		}
		h.Counts[p[0]] += p[1]
	}
	return nil
}
