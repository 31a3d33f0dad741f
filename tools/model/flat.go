package model

// The flat layout: every tree padded to a complete binary tree of its own
// depth D and stored level by level (node k's children at 2k+1 and 2k+2),
// the internal nodes of all trees in one slice and their leaves in
// another. A row then takes exactly D steps through a tree with no test
// for "is this a leaf", and the step is branch-free: the next index is
// 2k+1+right where right comes from one float32 comparison. A leaf that
// sits above depth D in the original tree becomes a split whose two
// subtrees hold copies of that leaf, so whichever way a row goes it ends
// on the same value: the padding cannot change a prediction.
//
// Rows walk a tree level by level across a block (all rows take step 1,
// then step 2, ...): the rows are independent, so the CPU overlaps their
// loads instead of waiting on one row's chain of dependent loads.

// flatNode is an internal node of the flat layout.
type flatNode struct {
	feat uint32 // feature index; top bit set = missing goes left
	cond float32
}

// flatTree locates one tree in the flat slices.
type flatTree struct {
	depth  int32 // D: every row takes D steps
	nodes  int32 // offset of its 2^D-1 internal nodes in flatNodes
	leaves int32 // offset of its 2^D leaves in flatLeaves
}

// maxFlatDepth bounds the padding: a tree deeper than this (2^D nodes)
// keeps the pointer-walking path.
const maxFlatDepth = 12

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
		internal := 1<<d - 1
		trees[t].nodes = int32(len(nodes))
		trees[t].leaves = int32(len(leaves))
		nodes = append(nodes, make([]flatNode, internal)...)
		leaves = append(leaves, make([]float32, internal+1)...)
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
		nodes[pos] = flatNode{feat: nd.feat, cond: nd.cond}
	}
	m.fillFlat(nodes, leaves, 2*pos+1, l, d+1, D)
	m.fillFlat(nodes, leaves, 2*pos+2, r, d+1, D)
}

// sumTreesFlat is sumTrees over the flat layout: the same leaves added
// in the same order (tree by tree, in model order), so the float32 sums
// are bit-identical.
func (m *XGBoost) sumTreesFlat(feats, sums []float32, n int) {
	nf := m.nFeatures
	g := m.classes
	var k [blockRows]int32
	for t, ft := range m.flat[:m.limit] {
		D := int(ft.depth)
		internal := int32(1<<D - 1)
		tn := m.flatNodes[ft.nodes : ft.nodes+internal]
		k := k[:n]
		for j := range k {
			k[j] = 0
		}
		for range D {
			stepLevel(tn, feats, nf, k)
		}
		tl := m.flatLeaves[ft.leaves : ft.leaves+internal+1]
		grp := int(m.group[t])
		if m.weights != nil {
			w := m.weights[t]
			for j, kj := range k {
				sums[j*g+grp] += w * tl[kj-internal]
			}
			continue
		}
		if g == 1 {
			s := sums[:n]
			for j, kj := range k {
				s[j] += tl[kj-internal]
			}
			continue
		}
		for j, kj := range k {
			sums[j*g+grp] += tl[kj-internal]
		}
	}
}

// stepLevel moves every row of a block one level down a flat tree: row j
// at node k[j] goes to 2k+1 (left) or 2k+2 (right). Missing (NaN) goes
// the learnt way, else x < cond goes left, as XGBoost: for a default-left
// node "right" is v >= cond (false for NaN), otherwise !(v < cond) (true
// for NaN); both are exact float32 comparisons. It is a function of its
// own so that its few variables stay in registers.
func stepLevel(tn []flatNode, feats []float32, nf int, k []int32) {
	off := 0
	for j, kj := range k {
		nd := tn[kj]
		v := feats[off+int(nd.feat&^defaultLeftBit)]
		ge := b2i(v >= nd.cond)
		nlt := b2i(!(v < nd.cond))
		dl := int32(nd.feat >> 31)
		k[j] = 2*kj + 1 + (nlt ^ ((ge ^ nlt) & dl))
		off += nf
	}
}
