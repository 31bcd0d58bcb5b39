package scheduler

import (
	"math/bits"
	"sort"
	"time"

	"skiff.dev/skiff/api/v1alpha1"
)

// gpuSlot is one physical GPU of a node and how much of it (in milli-GPU)
// is in use: 1000 when a whole-GPU replica holds it, less when fractional
// replicas share it.
type gpuSlot struct {
	index int32
	used  int64
}

// nodeState is a node's remaining room during one cycle.
type nodeState struct {
	ord       int // position in state.nodes (name order): the tie-break everywhere
	node      *v1alpha1.Node
	free      Amounts // cpu and memory; GPUs are tracked per slot
	gpus      []gpuSlot
	wholeFree int  // slots with used == 0
	partial   bool // some slot is shared and not full
	// indexes are the flavor indexes that list this node, so that a change
	// of wholeFree moves it between their buckets.
	indexes []*flavorIndex
	domains []*domain
	// reservedUntil, when set, keeps jobs that may run past it off the node:
	// a blocked head job's backfill reservation (see backfill.go).
	reservedUntil time.Time
}

// bitset is a set of node ordinals that iterates in ascending order, so
// bucket picks are deterministic and cheap: adding and removing are O(1)
// and lo skips the empty prefix that bin packing leaves behind.
type bitset struct {
	words []uint64
	lo    int // no word below lo has a bit set
	n     int
}

func newBitset(n int) bitset {
	w := make([]uint64, (n+63)/64)
	return bitset{words: w, lo: len(w)}
}

func (b *bitset) add(i int) {
	w := i >> 6
	b.words[w] |= 1 << (uint(i) & 63)
	b.n++
	if w < b.lo {
		b.lo = w
	}
}

func (b *bitset) remove(i int) {
	b.words[i>>6] &^= 1 << (uint(i) & 63)
	b.n--
}

// each calls f for members in ascending order until f returns false.
func (b *bitset) each(f func(int) bool) {
	for w := b.lo; w < len(b.words); w++ {
		x := b.words[w]
		if x == 0 && w == b.lo {
			b.lo++
			continue
		}
		for x != 0 {
			t := bits.TrailingZeros64(x)
			if !f(w<<6 | t) {
				return
			}
			x &= x - 1
		}
	}
}

// domain is one value of a topology label within a flavor, e.g. rack r1.
type domain struct {
	level     int
	name      string
	nodes     []*nodeState
	wholeFree int
}

// flavorIndex indexes the schedulable nodes of one flavor by their number
// of wholly free GPUs, so that bin packing and spreading pick a node in
// O(buckets) rather than scanning every node: the difference between a
// cycle over 10,000 nodes taking milliseconds or minutes.
type flavorIndex struct {
	flavor  *v1alpha1.Flavor
	nodes   []*nodeState // schedulable members, name order
	byOrd   []*nodeState // the state's nodes, to resolve bitset members
	buckets []bitset     // buckets[k]: nodes with exactly k whole free GPUs
	bucket  []int16      // node ord -> bucket it is in
	shared  bitset       // nodes with a partly used GPU (fractional packing)
	levels  [][]*domain  // per topology level, widest first
	maxGPUs int
}

func newFlavorIndex(f *v1alpha1.Flavor, all []*nodeState) *flavorIndex {
	fi := &flavorIndex{flavor: f, byOrd: all, bucket: make([]int16, len(all)), shared: newBitset(len(all))}
	for _, n := range all {
		if NodeMatches(f, n.node) {
			fi.nodes = append(fi.nodes, n)
			fi.maxGPUs = max(fi.maxGPUs, len(n.gpus))
		}
	}
	fi.buckets = make([]bitset, fi.maxGPUs+1)
	for k := range fi.buckets {
		fi.buckets[k] = newBitset(len(all))
	}
	for _, n := range fi.nodes {
		n.indexes = append(n.indexes, fi)
		k := n.wholeFree
		fi.buckets[k].add(n.ord)
		fi.bucket[n.ord] = int16(k)
		if n.partial {
			fi.shared.add(n.ord)
		}
	}
	for l, key := range f.Spec.TopologyLevels {
		byName := map[string]*domain{}
		var ds []*domain
		for _, n := range fi.nodes {
			v, ok := n.node.Labels[key]
			if !ok {
				continue // a node without the label is in no domain of this level
			}
			d := byName[v]
			if d == nil {
				d = &domain{level: l, name: v}
				byName[v] = d
				ds = append(ds, d)
			}
			d.nodes = append(d.nodes, n)
			d.wholeFree += n.wholeFree
			n.domains = append(n.domains, d)
		}
		sort.Slice(ds, func(a, b int) bool { return ds[a].name < ds[b].name })
		fi.levels = append(fi.levels, ds)
	}
	return fi
}

func newNodeState(ord int, n *v1alpha1.Node) *nodeState {
	ns := &nodeState{ord: ord, node: n, free: FromResources(n.Spec.Capacity)}
	ns.free.GPUMilli = 0
	for _, i := range gpuIndices(n) {
		ns.gpus = append(ns.gpus, gpuSlot{index: i})
	}
	ns.wholeFree = len(ns.gpus)
	return ns
}

func gpuIndices(n *v1alpha1.Node) []int32 {
	var out []int32
	if len(n.Status.GPUs) > 0 {
		for _, g := range n.Status.GPUs {
			out = append(out, g.Index)
		}
	} else if n.Spec.Capacity.GPU != nil {
		for i := int64(0); i < n.Spec.Capacity.GPU.Value(); i++ {
			out = append(out, int32(i))
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a] < out[b] })
	return out
}

// reindex recomputes the GPU summary of n after its slots changed and moves
// it between the buckets of every flavor that lists it.
func (n *nodeState) reindex() {
	whole, partial := 0, false
	for _, g := range n.gpus {
		if g.used == 0 {
			whole++
		} else if g.used < 1000 {
			partial = true
		}
	}
	delta := whole - n.wholeFree
	if delta != 0 {
		for _, d := range n.domains {
			d.wholeFree += delta
		}
	}
	for _, fi := range n.indexes {
		if old := int(fi.bucket[n.ord]); old != whole {
			fi.buckets[old].remove(n.ord)
			fi.buckets[whole].add(n.ord)
			fi.bucket[n.ord] = int16(whole)
		}
		if partial != n.partial {
			if partial {
				fi.shared.add(n.ord)
			} else {
				fi.shared.remove(n.ord)
			}
		}
	}
	n.wholeFree, n.partial = whole, partial
}

// slot returns the position of GPU index i, or -1.
func (n *nodeState) slot(i int32) int {
	for s := range n.gpus {
		if n.gpus[s].index == i {
			return s
		}
	}
	return -1
}

// apply takes (sign 1) or gives back (sign -1) one replica's placement.
// Taking and giving are exact inverses, which is what lets preemption and
// backfill try "what if these jobs were gone" and then undo it.
func (n *nodeState) apply(req Amounts, p v1alpha1.Placement, sign int64) {
	n.free.CPUMilli -= sign * req.CPUMilli
	n.free.Memory -= sign * req.Memory
	per := int64(1000)
	if p.GPUMilli > 0 && p.GPUMilli < 1000 {
		per = p.GPUMilli
	}
	for _, i := range p.GPUs {
		if s := n.slot(i); s >= 0 {
			n.gpus[s].used += sign * per
		}
	}
	n.reindex()
}

// fitsReplicas is how many replicas of req fit on n right now, at most limit.
func (n *nodeState) fitsReplicas(req Amounts, limit int) int {
	k := limit
	if req.CPUMilli > 0 {
		k = min(k, int(max(n.free.CPUMilli, 0)/req.CPUMilli))
	}
	if req.Memory > 0 {
		k = min(k, int(max(n.free.Memory, 0)/req.Memory))
	}
	if w := wholeGPUs(req); w > 0 {
		k = min(k, n.wholeFree/w)
	} else if isFractional(req) {
		c := 0
		for _, g := range n.gpus {
			c += int((1000 - g.used) / req.GPUMilli)
		}
		k = min(k, c)
	}
	return max(k, 0)
}
