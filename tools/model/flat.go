package model

import "math"

// The flat layout: every tree padded to a complete binary tree of its own
// depth D and stored level by level (node k's children at 2k+1 and 2k+2),
// the internal nodes of all trees in one slice and their leaves in
// another. A row then takes exactly D steps through a tree with no test
// for "is this a leaf", and the step is branch-free: the next index is
// 2k+1+right where right comes from one comparison. A leaf that sits
// above depth D in the original tree becomes a split whose two subtrees
// hold copies of that leaf, so whichever way a row goes it ends on the
// same value: the padding cannot change a prediction.
//
// The comparison is on integers, not floats. Before a block of rows is
// scored each feature value becomes orderKey(v), a uint32 that sorts
// exactly as the float32 values do (-0 and +0 share a key), and each
// split's condition becomes orderKey(cond): for a non-missing v,
// v < cond (XGBoost's float32 test) holds exactly when orderKey(v) <
// orderKey(cond). A missing value must go its split's learnt way, so a
// row's keys are stored twice: once with NaN as 0, below every key
// (columns [0, nf), read by splits whose missing values go left), once
// with NaN as MaxUint32, above every key (columns [nf, 2nf), read by
// the others). "Right" is then row[idx] >= key for every split: one
// unsigned comparison, no NaN test, no branch (flatkey_test.go checks
// orderKey against the float32 comparison on every class of value).
//
// A row takes a tree's D steps with its node index in a register; the
// rows of a block are independent, so the CPU overlaps their chains of
// loads. Trees of depth 3 or less (the common case of boosted models)
// are padded to depth 3 and walked by an unrolled step whose only bounds
// checks are the key loads; deeper trees step four rows together.

// flatNode is an internal node of the flat layout.
type flatNode struct {
	idx uint32 // column of the row's keys: feature, or nFeatures+feature when missing goes right
	key uint32 // orderKey(cond): the row goes right when its key >= key
}

// flatTree locates one tree in the flat slices.
type flatTree struct {
	depth  int32 // D: every row takes D steps
	nodes  int32 // offset of its 2^D-1 internal nodes in flatNodes (2^D slots)
	leaves int32 // offset of its 2^D leaves in flatLeaves
}

// maxFlatDepth bounds the padding: a tree deeper than this (2^D nodes)
// keeps the pointer-walking path.
const maxFlatDepth = 12

var negZero = float32(math.Copysign(0, -1))

// minFlatDepth is the depth shallower trees are padded to, so that they
// take the unrolled depth-3 step.
const minFlatDepth = 3

// orderKey maps a float32 to a uint32 that sorts as the float does:
// non-negative floats keep their bits with the top bit set, negative
// ones have all bits flipped; -0 is made +0 first (v+0 is +0 for both
// zeros and v for every other value), because the two compare equal.
// The result of a non-NaN value lies in [orderKey(-Inf), orderKey(+Inf)]
// = [0x007fffff, 0xff800000], strictly between the keys given to NaN.
func orderKey(v float32) uint32 {
	b := math.Float32bits(v + 0)
	return b ^ (uint32(int32(b)>>31) | 1<<31)
}

// buildFlat lays the model's trees out flat, or leaves m.flat nil when a
// tree is too deep or padding would grow the model more than eightfold.
func (m *XGBoost) buildFlat() {
	trees := make([]flatTree, len(m.roots))
	total := 0
	for t, root := range m.roots {
		d := m.depth(root, 0)
		if d > maxFlatDepth {
			return
		}
		d = max(d, minFlatDepth)
		trees[t].depth = int32(d)
		total += 1 << (d + 1)
	}
	if total > max(8*len(m.nodes), 1<<16) {
		return
	}
	nodes := make([]flatNode, 0, total/2)
	leaves := make([]float32, 0, total/2)
	for t, root := range m.roots {
		d := int(trees[t].depth)
		trees[t].nodes = int32(len(nodes))
		trees[t].leaves = int32(len(leaves))
		// 2^D node slots (the last unused) so that a step can mask its
		// index instead of checking it.
		nodes = append(nodes, make([]flatNode, 1<<d)...)
		leaves = append(leaves, make([]float32, 1<<d)...)
		m.fillFlat(nodes[trees[t].nodes:], leaves[trees[t].leaves:], 0, root, 0, d)
	}
	m.flat, m.flatNodes, m.flatLeaves = trees, nodes, leaves
}

// depth is the number of splits on the longest path below node k (the
// tree was checked acyclic when it was loaded).
func (m *XGBoost) depth(k int32, d int) int {
	nd := &m.nodes[k]
	if nd.left < 0 || d > maxFlatDepth {
		return d
	}
	return max(m.depth(nd.left, d+1), m.depth(nd.right, d+1))
}

// fillFlat writes original node k at position pos (depth d of D).
func (m *XGBoost) fillFlat(nodes []flatNode, leaves []float32, pos int, k int32, d, D int) {
	nd := &m.nodes[k]
	if d == D {
		leaves[pos-(1<<D-1)] = nd.cond // a leaf, by the choice of D
		return
	}
	l, r := nd.left, nd.right
	if l < 0 {
		// A leaf above the bottom: both ways lead to copies of it.
		nodes[pos] = flatNode{}
		l, r = k, k
	} else {
		idx := nd.feat &^ defaultLeftBit
		if nd.feat&defaultLeftBit == 0 {
			idx += uint32(m.nFeatures)
		}
		nodes[pos] = flatNode{idx: idx, key: orderKey(nd.cond)}
	}
	m.fillFlat(nodes, leaves, 2*pos+1, l, d+1, D)
	m.fillFlat(nodes, leaves, 2*pos+2, r, d+1, D)
}

// flatKeys writes one row's keys for the flat layout from its float64
// values: dst[:nf] with a missing value as 0, dst[nf:2nf] with it as
// MaxUint32 (see the top of this file). A value is missing when, as
// float32, it is NaN or equals the model's missing value (XGBoost drops
// such entries when it builds the DMatrix): missKey is that value's
// key, and two floats compare equal exactly when their keys are equal
// (when the missing value is NaN, only a NaN can match it, and a NaN is
// missing anyway). The result is non-zero when a value that is not
// missing is ±Inf as float32: a float64 infinity, which Predict refuses,
// or a finite float64 beyond float32's range, which it scores.
func flatKeys(row []float64, missKey uint32, dst []uint32) (inf uint32) {
	nf := len(row)
	lo, hi := dst[:nf], dst[nf:2*nf]
	for j, x := range row {
		v := float32(x) + 0 // -0 becomes +0, as in orderKey
		b := math.Float32bits(v)
		k := b ^ (uint32(int32(b)>>31) | 1<<31)
		isMiss := b2u(b&0x7fffffff > 0x7f800000) | b2u(k == missKey)
		inf |= b2u(b&0x7fffffff == 0x7f800000) &^ isMiss
		miss := -isMiss // all ones when missing
		lo[j] = k &^ miss
		hi[j] = k | miss
	}
	return inf
}

// sumTreesFlat is sumTrees over the flat layout: the same leaves added
// in the same order (tree by tree, in model order), so the float32 sums
// are bit-identical. keys holds n rows of 2·nFeatures keys (flatKeys).
func (m *XGBoost) sumTreesFlat(keys []uint32, sums []float32, n int) {
	w := 2 * m.nFeatures
	g := m.classes
	keys = keys[:n*w]
	var leaf [blockRows]float32
	for t, ft := range m.flat[:m.limit] {
		D := int(ft.depth)
		tn := m.flatNodes[ft.nodes : ft.nodes+1<<D]
		tl := m.flatLeaves[ft.leaves : ft.leaves+1<<D]
		if g == 1 && m.weights == nil {
			// The common case: add straight into the sums.
			if D == 3 {
				addTree3((*[8]flatNode)(tn), (*[8]float32)(tl), keys, w, sums[:n])
			} else {
				addTree(tn, tl, D, keys, w, sums[:n])
			}
			continue
		}
		// The leaves are added into -0, not 0: x + -0 is x for every x
		// (0 + -0 is 0), so lv holds each leaf's own bits, a -0 leaf too.
		lv := leaf[:n]
		for j := range lv {
			lv[j] = negZero
		}
		if D == 3 {
			addTree3((*[8]flatNode)(tn), (*[8]float32)(tl), keys, w, lv)
		} else {
			addTree(tn, tl, D, keys, w, lv)
		}
		grp := int(m.group[t])
		if m.weights != nil {
			wt := m.weights[t]
			for j, v := range lv {
				sums[j*g+grp] += wt * v
			}
			continue
		}
		for j, v := range lv {
			sums[j*g+grp] += v
		}
	}
}

// addTree3 adds to s[j] the leaf of a depth-3 flat tree that row j
// (keys[j*w:(j+1)*w]) reaches. The root is read once; node and leaf
// indices are masked to the arrays' sizes (they never exceed them), so
// the only bounds checks left are the three key loads.
func addTree3(tn *[8]flatNode, tl *[8]float32, keys []uint32, w int, s []float32) {
	ri, rk := int(tn[0].idx), tn[0].key
	off := 0
	for j := range s {
		k := 1 + b2u(keys[off+ri] >= rk)
		nd := tn[k&7]
		k = 2*k + 1 + b2u(keys[off+int(nd.idx)] >= nd.key)
		nd = tn[k&7]
		k = 2*k + 1 + b2u(keys[off+int(nd.idx)] >= nd.key)
		s[j] += tl[(k-7)&7]
		off += w
	}
}

// addTree is addTree3 for any depth D >= 1 (tn has 2^D slots, tl 2^D
// leaves). A deep tree is a long chain of dependent loads per row, so
// four rows step together: their chains are independent and the CPU
// overlaps them.
func addTree(tn []flatNode, tl []float32, D int, keys []uint32, w int, s []float32) {
	mask := uint32(len(tn) - 1)
	j := 0
	for ; j+4 <= len(s); j += 4 {
		o0 := j * w
		o1, o2, o3 := o0+w, o0+2*w, o0+3*w
		var k0, k1, k2, k3 uint32
		for range D {
			n0, n1, n2, n3 := tn[k0&mask], tn[k1&mask], tn[k2&mask], tn[k3&mask]
			k0 = 2*k0 + 1 + b2u(keys[o0+int(n0.idx)] >= n0.key)
			k1 = 2*k1 + 1 + b2u(keys[o1+int(n1.idx)] >= n1.key)
			k2 = 2*k2 + 1 + b2u(keys[o2+int(n2.idx)] >= n2.key)
			k3 = 2*k3 + 1 + b2u(keys[o3+int(n3.idx)] >= n3.key)
		}
		s[j] += tl[(k0-mask)&mask]
		s[j+1] += tl[(k1-mask)&mask]
		s[j+2] += tl[(k2-mask)&mask]
		s[j+3] += tl[(k3-mask)&mask]
	}
	for ; j < len(s); j++ {
		off := j * w
		k := uint32(0)
		for range D {
			nd := tn[k&mask]
			k = 2*k + 1 + b2u(keys[off+int(nd.idx)] >= nd.key)
		}
		s[j] += tl[(k-mask)&mask]
	}
}

func b2u(b bool) uint32 {
	var i uint32
	if b {
		i = 1
	}
	return i
}
