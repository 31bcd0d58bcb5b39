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
	// Each node's lists of indexes and domains start out in shared blocks
	// (a node listed by more flavors than this grows its own).
	levels := len(f.Spec.TopologyLevels)
	iblock := make([]*flavorIndex, len(fi.nodes))
	dblock := make([]*domain, len(fi.nodes)*levels)
	for i, n := range fi.nodes {
		if cap(n.indexes) == 0 {
			n.indexes = iblock[i : i : i+1]
		}
		if cap(n.domains) == 0 && levels > 0 {
			n.domains = dblock[i*levels : i*levels : (i+1)*levels]
		}
		n.indexes = append(n.indexes, fi)
		k := n.wholeFree
		fi.buckets[k].add(n.ord)
		fi.bucket[n.ord] = int16(k)
		if n.partial {
			fi.shared.add(n.ord)
		}
	}
	// Per level, the domains and their node lists come from one block
	// each: the nodes' domain numbers are found first, then each domain's
	// nodes are carved from one slice in node order.
	of := make([]int32, len(fi.nodes))
	var names []string // per level, the domains' names and sizes
	var count []int32
	if levels > 0 {
		names, count = make([]string, 0, len(fi.nodes)), make([]int32, 0, len(fi.nodes))
	}
	for l, key := range f.Spec.TopologyLevels {
		// Nodes come sorted by name, and labels such as a hostname or a
		// rack mostly follow: while the values seen never decrease, a value
		// is new unless it is the last one, so the map of domains by name
		// is built only once a value comes out of order.
		var byName map[string]int32
		names, count = names[:0], count[:0]
		members := 0
		last := int32(-1)
		for i, n := range fi.nodes {
			v, ok := n.node.Labels[key]
			if !ok {
				of[i] = -1 // a node without the label is in no domain of this level
				continue
			}
			d := last
			switch {
			case byName == nil && last >= 0 && v == names[last]:
			case byName == nil && (last < 0 || v > names[last]):
				d = -1
			default:
				if byName == nil {
					byName = make(map[string]int32, len(names))
					for k, name := range names {
						byName[name] = int32(k)
					}
				}
				if d, ok = byName[v]; !ok {
					d = -1
				}
			}
			if d < 0 {
				d = int32(len(names))
				if byName != nil {
					byName[v] = d
				}
				names = append(names, v)
				count = append(count, 0)
			}
			last = d
			of[i] = d
			count[d]++
			members++
		}
		ds := make([]domain, len(names))
		block := make([]*nodeState, members)
		at := 0
		for d := range ds {
			c := int(count[d])
			ds[d].level, ds[d].name = l, names[d]
			ds[d].nodes = block[at : at : at+c]
			at += c
		}
		for i, n := range fi.nodes {
			if d := of[i]; d >= 0 {
				dom := &ds[d]
				dom.nodes = append(dom.nodes, n)
				dom.wholeFree += n.wholeFree
				n.domains = append(n.domains, dom)
			}
		}
		list := make([]*domain, len(ds))
		for d := range ds {
			list[d] = &ds[d]
		}
		if byName != nil { // else ds are in name order already
			sort.Slice(list, func(a, b int) bool { return list[a].name < list[b].name })
		}
		fi.levels = append(fi.levels, list)
	}
	return fi
}

// newNodeStates builds the states of nodes (in name order) from one block
// of states and one of GPU slots.
func newNodeStates(nodes []*v1alpha1.Node) []*nodeState {
	states := make([]nodeState, len(nodes))
	out := make([]*nodeState, len(nodes))
	total := 0
	for _, n := range nodes {
		total += gpuCount(n)
	}
	slots := make([]gpuSlot, 0, total)
	for i, n := range nodes {
		ns := &states[i]
		ns.ord, ns.node, ns.free = i, n, FromResources(n.Spec.Capacity)
		ns.free.GPUMilli = 0
		start := len(slots)
		slots = appendGPUSlots(slots, n)
		ns.gpus = slots[start:len(slots):len(slots)]
		ns.wholeFree = len(ns.gpus)
		out[i] = ns
	}
	return out
}

// gpuCount is the number of GPUs of n: those its status lists, else its capacity.
func gpuCount(n *v1alpha1.Node) int {
	if len(n.Status.GPUs) > 0 {
		return len(n.Status.GPUs)
	}
	if n.Spec.Capacity.GPU != nil {
		return int(max(n.Spec.Capacity.GPU.Value(), 0))
	}
	return 0
}

// appendGPUSlots appends a free slot per GPU of n, in index order.
func appendGPUSlots(slots []gpuSlot, n *v1alpha1.Node) []gpuSlot {
	start := len(slots)
	if len(n.Status.GPUs) > 0 {
		for _, g := range n.Status.GPUs {
			slots = append(slots, gpuSlot{index: g.Index})
		}
		s := slots[start:]
		sort.Slice(s, func(a, b int) bool { return s[a].index < s[b].index })
		return slots
	}
	for i := range gpuCount(n) {
		slots = append(slots, gpuSlot{index: int32(i)})
	}
	return slots
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

// freePart is the part of one replica's placement on n that is free now:
// its cpu and memory up to what n has free, and those of its GPUs with
// room for its share.
func (n *nodeState) freePart(req Amounts, p v1alpha1.Placement) (Amounts, v1alpha1.Placement) {
	part := Amounts{CPUMilli: min(req.CPUMilli, max(n.free.CPUMilli, 0)), Memory: min(req.Memory, max(n.free.Memory, 0))}
	per := int64(1000)
	if p.GPUMilli > 0 && p.GPUMilli < 1000 {
		per = p.GPUMilli
	}
	pp := v1alpha1.Placement{Group: p.Group, Index: p.Index, Node: p.Node, GPUMilli: p.GPUMilli}
	for _, i := range p.GPUs {
		if s := n.slot(i); s >= 0 && n.gpus[s].used+per <= 1000 {
			pp.GPUs = append(pp.GPUs, i)
		}
	}
	return part, pp
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
