package metrics

import (
	"math"
	"unsafe"
)

// The sort is an LSD radix sort on the top topBits of each key, then a
// pass that orders each run of keys equal in those bits by the whole key.
// Scores of a real model (10M in [0, 1], most between 0.01 and 0.1) share
// their sign and a few exponents, so 36 bits (24 of mantissa) leave runs
// of one or two keys: three scatter passes instead of the six a 64-bit
// LSD needs, which on 10M rows took 0.45 s of evaluate's ~1.8 s of CPU.
// A run the top bits do not split (scores packed within 2^-24 of each
// other, or ties) is sorted by its low bits with a smaller radix sort, so
// the worst case stays linear: about as many passes as before.
const (
	topDigit  = 12
	topSize   = 1 << topDigit
	topMask   = topSize - 1
	topPasses = 3
	lowBits   = 64 - topDigit*topPasses // 28: left to the run pass
	// insertionRun is the longest run sorted by insertion: up to it, an
	// insertion sort moves fewer keys than radix passes over the run.
	insertionRun = 48
)

// SortDesc returns the indices of v ordered by descending value, stably
// (equal values keep their row order). It is a radix sort on the
// IEEE-754 bits: ranking metrics on millions of rows spend most of their
// time sorting, and a radix sort does it in a few linear passes where a
// comparison sort needs ~23 on 10M rows. Passes whose digit is the same
// for every key are skipped. +0 sorts before -0. NaN must have been
// rejected by the caller.
func SortDesc(v []float64) []int32 {
	idx, _ := sortDesc(v, nil)
	for i := range idx {
		idx[i] &= indexMask
	}
	return idx
}

const (
	labelBit  int32 = math.MinInt32 // the sign bit
	indexMask int32 = math.MaxInt32
)

// sortKey maps x to a uint64 whose ascending order is x's descending
// order (-0 and +0 distinct, +0 first).
func sortKey(x float64) uint64 {
	b := math.Float64bits(x)
	// Order-preserving map to unsigned, then inverted for descending.
	if b>>63 != 0 {
		b = ^b
	} else {
		b |= 1 << 63
	}
	return ^b
}

// sortDesc is SortDesc carrying a 0/1 label in the top bit of each index
// (when y is given) and returning the sorted values: ranking metrics then
// walk two sequential arrays instead of gathering scores and labels at
// random, which on 10M rows costs more than the sort itself.
func sortDesc(v, y []float64) ([]int32, []float64) {
	n := len(v)
	keys := make([]uint64, n)
	idx := make([]int32, n)
	var hist [topPasses][topSize]int
	for i, x := range v {
		k := sortKey(x)
		keys[i] = k
		idx[i] = int32(i)
		if y != nil && y[i] == 1 {
			idx[i] |= labelBit
		}
		hist[0][(k>>lowBits)&topMask]++
		hist[1][(k>>(lowBits+topDigit))&topMask]++
		hist[2][(k>>(lowBits+2*topDigit))&topMask]++
	}
	if n < 2 {
		return idx, decode(keys)
	}
	keys2 := make([]uint64, n)
	idx2 := make([]int32, n)
	for p := range topPasses {
		shift := uint(lowBits + p*topDigit)
		h := &hist[p]
		if h[(keys[0]>>shift)&topMask] == n {
			continue // every key has this digit
		}
		sum := 0
		for d := range h {
			c := h[d]
			h[d] = sum
			sum += c
		}
		for i, k := range keys {
			d := (k >> shift) & topMask
			j := h[d]
			h[d]++
			keys2[j] = k
			idx2[j] = idx[i]
		}
		keys, keys2 = keys2, keys
		idx, idx2 = idx2, idx
	}
	// Keys are now in order of their top bits, and stably so; order each
	// run of equal top bits by the rest.
	var lowHist []int // allocated at the first long run
	for lo := 0; lo < n; {
		top := keys[lo] >> lowBits
		hi := lo + 1
		for hi < n && keys[hi]>>lowBits == top {
			hi++
		}
		switch {
		case hi-lo <= 1:
		case hi-lo <= insertionRun:
			insertionSort(keys[lo:hi], idx[lo:hi])
		default:
			if lowHist == nil {
				lowHist = make([]int, 1<<14)
			}
			lowRadix(keys[lo:hi], idx[lo:hi], keys2[lo:hi], idx2[lo:hi], lowHist)
		}
		lo = hi
	}
	return idx, decode(keys)
}

// insertionSort orders a short run by key, stably.
func insertionSort(k []uint64, ix []int32) {
	for i := 1; i < len(k); i++ {
		kk, ii := k[i], ix[i]
		j := i
		for j > 0 && k[j-1] > kk {
			k[j], ix[j] = k[j-1], ix[j-1]
			j--
		}
		k[j], ix[j] = kk, ii
	}
}

// lowRadix orders a run (keys equal in their top bits) by the low lowBits
// bits, stably, leaving the result in k and ix; k2 and ix2 are scratch of
// the same length, hist of 2^14 counts. A run of ties costs one counting pass per digit and no
// move. Digits are 7 bits for runs up to 2^14 keys (a histogram that is
// cheap to clear for each of many mid-sized runs), 14 bits beyond.
func lowRadix(k []uint64, ix []int32, k2 []uint64, ix2 []int32, hist []int) {
	bits := uint(7)
	if len(k) > 1<<14 {
		bits = 14
	}
	h := hist[:1<<bits]
	mask := uint64(len(h) - 1)
	inScratch := false
	for shift := uint(0); shift < lowBits; shift += bits {
		clear(h)
		for _, x := range k {
			h[(x>>shift)&mask]++
		}
		if h[(k[0]>>shift)&mask] == len(k) {
			continue
		}
		sum := 0
		for d := range h {
			c := h[d]
			h[d] = sum
			sum += c
		}
		for i, x := range k {
			d := (x >> shift) & mask
			j := h[d]
			h[d]++
			k2[j] = x
			ix2[j] = ix[i]
		}
		k, k2 = k2, k
		ix, ix2 = ix2, ix
		inScratch = !inScratch
	}
	if inScratch { // the result is in the caller's scratch: copy it back
		copy(k2, k)
		copy(ix2, ix)
	}
}

// decode turns sorted keys back into their float64 values, in place.
func decode(keys []uint64) []float64 {
	out := unsafe.Slice((*float64)(unsafe.Pointer(unsafe.SliceData(keys))), len(keys))
	for i, k := range keys {
		b := ^k
		if b>>63 != 0 {
			b &^= 1 << 63
		} else {
			b = ^b
		}
		out[i] = math.Float64frombits(b)
	}
	return out
}
